"""``clientlens cases ...``: service-recovery cases in the application database.

Typer + Rich over ``clientlens.services.relationship.recovery``; no business logic here. Every
command catches user errors itself (one line on stderr, exit 1), so the app behaves
the same mounted under ``clientlens`` or run on its own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.cli_errors import user_errors
from clientlens.faces.options import Workspace as WorkspaceOpt
from clientlens.faces.options import parse_date
from clientlens.services.relationship import recovery
from clientlens.services.workspace.folder import open_app_db

cases_app = typer.Typer(
    name="cases",
    help="Service-recovery cases: a complaint put right by an apology, fixing the error "
         "and compensation, with an owner, an SLA and an outcome.\n\n"
         "Quick start: clientlens cases open C00000001 --category card_fee --owner ivanova",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
)
out = Console()
err = Console(stderr=True)

DEFAULT_DB = None
Db = Annotated[str | None, typer.Option(
    "--db", envvar="CLIENTLENS_APP_DB", show_default=False,
    help="Application database: sqlite:///file.sqlite or postgresql://user@host/db "
         "(default: the workspace's).")]


def _open(db: str | None, workspace: Path) -> Any:
    """The --db given, else the workspace's application database."""
    return open_app_db(db, workspace)


CaseId = Annotated[str, typer.Argument(metavar="CASE_ID", help="Case number, e.g. 12.",
                                       show_default=False)]
On = Annotated[str | None, typer.Option("--on", help="Date, YYYY-MM-DD; default today.")]


def _day(value: str | None, option: str) -> dt.date:
    return parse_date(value, option, or_today=True)  # type: ignore[return-value]


@cases_app.command("open")
@user_errors
def open_(
    customer: Annotated[str, typer.Argument(help="Customer id.", show_default=False)],
    category: Annotated[str, typer.Option(help="What went wrong, e.g. card_fee.")],
    owner: Annotated[str, typer.Option(help="Employee responsible for putting it right.")],
    sla_days: Annotated[int, typer.Option(help="Calendar days until the case is due.")] = 5,
    description: Annotated[str, typer.Option(help="What the customer reported.")] = "",
    on: On = None,
    source_ref: Annotated[str | None, typer.Option(
        help="Where it came from, e.g. the complaint's interaction id (one case each).")]
    = None,
    db: Db = DEFAULT_DB,
    workspace: WorkspaceOpt = Path("."),
    force: Annotated[bool, typer.Option(
        "--force", help="Open it even for a customer id not among the imported customers "
                        "(one the next import brings).")] = False,
) -> None:
    """Open a service-recovery case for a customer of the workspace's warehouse.

    Example: `clientlens cases open C00000001 --category card_fee --owner ivanova
    --sla-days 5 --description "Annual fee charged twice"`
    """
    if not force:
        from clientlens.services.relationship.customers import check_customer

        check_customer(workspace, customer)
    with _open(db, workspace) as appdb:
        case = recovery.open_case(appdb, customer, _day(on, "--on"), category, description,
                                  owner, sla_days, source_ref=source_ref)
    out.print(f"Opened case [bold]{case.case_id}[/] for {escape(case.customer_id)}, owner "
              f"{escape(case.owner)}, due {case.due_on}.", highlight=False)


@cases_app.command()
@user_errors
def step(
    case_id: CaseId,
    kind: Annotated[str, typer.Argument(help="apology, fix, compensation or note.",
                                        show_default=False)],
    by: Annotated[str, typer.Option("--by", help="Who did it.")],
    on: On = None,
    amount: Annotated[str | None, typer.Option(
        help="Money paid, e.g. 1500.00 (a compensation needs one).")] = None,
    currency: Annotated[str, typer.Option(help="Currency of the amount.")]
    = recovery.DEFAULT_CURRENCY,
    note: Annotated[str | None, typer.Option(help="What was done.")] = None,
    db: Db = DEFAULT_DB,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Record a step of a case: an apology, the fix, a compensation or a note.

    Examples:

    * `clientlens cases step 12 apology --by ivanova --note "called the customer"`
    * `clientlens cases step 12 compensation --by ivanova --amount 1500 --on 2026-10-31`
    """
    with _open(db, workspace) as appdb:
        done = recovery.record_step(appdb, case_id, kind, _day(on, "--on"), by,
                                    amount=amount, note=note, currency=currency)
    money = f" ({done.amount:,} {done.currency})" if done.amount is not None else ""
    out.print(f"Case {done.case_id}: {done.kind}{money} on {done.done_on} by "
              f"{escape(done.by_whom)}.", highlight=False)


@cases_app.command()
@user_errors
def close(
    case_id: CaseId,
    status: Annotated[str, typer.Argument(help="resolved or failed.", show_default=False)],
    outcome: Annotated[str, typer.Option(help="How it ended, in a sentence.")],
    on: On = None,
    db: Db = DEFAULT_DB,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Close a case as resolved (needs an apology and a fix step) or failed.

    Example: `clientlens cases close 12 resolved --outcome "Fee refunded, customer
    satisfied"`
    """
    with _open(db, workspace) as appdb:
        case = recovery.close_case(appdb, case_id, _day(on, "--on"), status, outcome)
    late = " (after its due date)" if case.closed_on and case.closed_on > case.due_on else ""
    out.print(f"Case {case.case_id} {case.status} on {case.closed_on}{late}.",
              highlight=False)


@cases_app.command("list")
@user_errors
def list_(
    status: Annotated[str | None, typer.Option(help="open, resolved or failed.")] = None,
    overdue_on: Annotated[str | None, typer.Option(
        help="Only cases still open after their due date on this day, YYYY-MM-DD.")]
    = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's cases.")]
    = None,
    db: Db = DEFAULT_DB,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """List cases by due date.

    Examples:

    * `clientlens cases list --status open`
    * `clientlens cases list --overdue-on 2026-10-31` (open cases past their SLA)
    """
    day = _day(overdue_on, "--overdue-on") if overdue_on is not None else None
    with _open(db, workspace) as appdb:
        cases = recovery.list_cases(appdb, status=status, overdue_on=day, customer_id=customer)
    today = day or dt.date.today()
    t = Table(title=f"Recovery cases: {len(cases):,}")
    for name in ("case", "customer", "category", "owner", "opened", "due", "status",
                 "closed"):
        t.add_column(name, justify="right" if name == "case" else "left",
                     no_wrap=name in ("case", "opened", "due", "status", "closed"))
    for c in cases:
        due = f"[red]{c.due_on}[/]" if c.overdue(today) else str(c.due_on)
        t.add_row(str(c.case_id), escape(c.customer_id), escape(c.category), escape(c.owner),
                  str(c.opened_on), due, c.status, str(c.closed_on or ""))
    out.print(t)


@cases_app.command()
@user_errors
def show(case_id: CaseId, db: Db = DEFAULT_DB, workspace: WorkspaceOpt = Path(".")) -> None:
    """Show a case and its steps.

    Example: `clientlens cases show 12`
    """
    with _open(db, workspace) as appdb:
        c = recovery.get_case(appdb, case_id)
    state = c.status + (f" on {c.closed_on}" if c.closed_on else "")
    if c.overdue(dt.date.today()):
        state += " [red](overdue)[/]"
    out.print(f"[bold]Case {c.case_id}[/] · customer {escape(c.customer_id)} · "
              f"{escape(c.category)}", highlight=False)
    out.print(f"owner {escape(c.owner)} · opened {c.opened_on} · SLA {c.sla_days} days, due "
              f"{c.due_on} · {state}", highlight=False)
    if c.source_ref:
        out.print(f"from {c.source_ref}", markup=False, highlight=False)
    if c.description:
        out.print(c.description, markup=False, highlight=False)
    if c.outcome:
        out.print(f"outcome: {c.outcome}", markup=False, highlight=False)
    t = Table(title=f"Steps: {len(c.steps)}")
    for name in ("step", "kind", "on", "by", "amount", "note"):
        t.add_column(name, justify="right" if name in ("step", "amount") else "left")
    for s in c.steps:
        money = f"{s.amount:,} {s.currency}" if s.amount is not None else ""
        t.add_row(str(s.step_id), s.kind, str(s.done_on), escape(s.by_whom), money,
                  escape(s.note or ""))
    out.print(t)


@cases_app.command("from-complaints")
@user_errors
def from_complaints(
    owner: Annotated[str, typer.Option(help="Employee who gets the new cases.")],
    since: Annotated[str, typer.Option(help="Complaints from this day on, YYYY-MM-DD.")],
    sla_days: Annotated[int, typer.Option(help="Calendar days until each case is due.")] = 5,
    db: Db = DEFAULT_DB,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Open a case for every complaint in the warehouse since a day; a complaint that
    already has a case opens nothing, so this can run after every import.

    Example: `clientlens cases from-complaints --since 2026-10-01 --owner care-desk -w my-bank`
    """
    from clientlens.services.workspace.folder import Workspace

    day = _day(since, "--since")
    with Workspace(workspace).engine(read_only=True) as engine:
        rows = recovery.complaints_since(engine, day)
    with _open(db, workspace) as appdb:
        new = recovery.cases_from_complaints(appdb, rows, owner, sla_days)
    out.print(f"{rows.num_rows:,} complaints since {day}: {new:,} new cases, "
              f"{rows.num_rows - new:,} already had one.", highlight=False)
