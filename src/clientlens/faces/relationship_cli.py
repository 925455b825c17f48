"""Commands for the relationship over time: history, backfill, departures, win-back.

Plain functions registered on the ``clientlens`` app by ``faces.cli``; user errors
are ``ClientlensError`` and ``cli.main`` prints them as one line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clientlens.faces.options import OUTPUT_HELP, CsvDialect, Workspace
from clientlens.faces.options import parse_date as _day
from clientlens.model.errors import ClientlensError

out = Console()
err = Console(stderr=True)

departures_app = typer.Typer(
    name="departures",
    help="Why customers left (situational or dissatisfaction) and whether they may be "
         "contacted again; feeds the divorce and win-back phases.\n\n"
         "Example: clientlens departures record C00000042 --kind situational "
         "--reason \"moved to another city\" --by petrova",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")


def history(customer_id: Annotated[str, typer.Argument(help="Customer id.")],
            workspace: Workspace = Path("."),
            attributes: Annotated[str, typer.Option(
                "--attributes", "-a",
                help="Profile columns to follow, comma-separated.")] = "segment,phase,need",
            on: Annotated[str | None, typer.Option(
                "--on", help="Also say what each was on this date, YYYY-MM-DD.")] = None,
            ) -> None:
    """A customer's segment, phase and need over time, effective-dated, with the rulebook
    version that decided each, and the customer's recorded re-evaluations (source
    reevaluation) after them.

    Examples:

    * `clientlens history C00000042 -w my-bank`
    * `clientlens history C00000042 -a segment,loyalty_grade --on 2025-06-15`
    """
    from clientlens.services.profiling.history import value_on
    from clientlens.services.workspace import jobs

    day = _day(on, "--on")
    attrs = tuple(a.strip() for a in attributes.split(",") if a.strip())
    h = jobs.history(workspace, customer_id, attrs)
    t = Table(title=f"{customer_id}: {len(h.snapshots)} snapshots "
                    f"({h.snapshots[0]} to {h.snapshots[-1]})" if h.snapshots else customer_id)
    for col in ("attribute", "value", "valid from", "valid to", "last seen", "rulebook"):
        t.add_column(col, no_wrap=col != "value", overflow="fold")
    for i in h.intervals:
        t.add_row(i.attribute, escape(str(i.value)), str(i.valid_from),
                  str(i.valid_to) if i.valid_to else "[green]current[/]", str(i.last_seen),
                  ", ".join(i.rulebook_versions))
    out.print(t)
    if day is not None:
        for attribute in attrs:
            found = value_on(h.intervals, attribute, day)
            out.print(f"On {day}: {attribute} = "
                      + (f"[bold]{escape(str(found.value))}[/] (valid from {found.valid_from})"
                         if found else "unknown (no snapshot on or before that date)"))
    found = jobs.reevaluations(workspace, customer_id, limit=20)
    if found:
        r = Table(title="Re-evaluations (source: reevaluation; the nightly runs above stay "
                        "authoritative)")
        for col in ("#", "at (UTC)", "as of", "reason", "segment", "phase", "need",
                    "entitlement changes", "superseded by"):
            r.add_column(col, overflow="fold")
        for x in found:
            r.add_row(str(x.reevaluation_id), x.requested_at.strftime("%Y-%m-%d %H:%M"),
                      str(x.as_of), escape(x.reason or "—"),
                      *[escape(f"{x.before[a]} → {x.after[a]}" if x.before[a] != x.after[a]
                               else str(x.after[a])) for a in ("segment", "phase", "need")],
                      ", ".join(f"{e['service']} {e['event']}" for e in x.events) or "—",
                      str(x.superseded_by or "—"))
        out.print(r)
    out.print("Why: `clientlens explain CUSTOMER --as-of DATE` explains any date with the "
              "rulebook then in force.", style="dim")


def backfill(workspace: Workspace = Path("."),
             start: Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD.")]
             = "",
             end: Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD.")] = "",
             every: Annotated[str, typer.Option(help="month (month ends), week (Sundays) "
                                                "or day.")] = "month",
             force: Annotated[bool, typer.Option(
                 help="Run every date again, even those already run with this "
                      "rulebook.")] = False) -> None:
    """Run a range of as-of dates, oldest first, with progress. Dates already run with
    the current rulebook are skipped, so an interrupted backfill resumes where it
    stopped; each date's snapshot is replaced atomically.

    Example: `clientlens backfill -w my-bank --from 2024-11-01 --to 2026-10-31 --every month`
    """
    from clientlens.services.workspace import jobs

    first, last = _day(start or None, "--from"), _day(end or None, "--to")
    if first is None or last is None:
        raise ClientlensError("give the range with --from and --to, e.g. --from 2024-11-01 "
                              "--to 2026-10-31")
    with Progress(TextColumn("[bold]backfill[/] {task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("", total=None)

        def step(done: int, total: int, day: dt.date) -> None:
            bar.update(task, completed=done, total=total, description=str(day))

        result = jobs.backfill(workspace, first, last, every, force=force, progress=step)
    for r in result.ran:
        out.print(f"{r.as_of}: {r.customers:,} customers in {r.seconds:.1f} s")
    out.print(f"{len(result.ran)} dates run, {len(result.skipped)} already done with rulebook "
              f"(skipped), {len(result.dates)} in the range.")
    for r in result.rerun:
        ch = r.entitlements
        since = f"since {ch.previous}" if ch is not None and ch.previous else "again"
        counts = (f": {ch.granted:,} granted, {ch.grace_started:,} in grace, {ch.revoked:,} "
                  "revoked" if ch is not None else "")
        out.print(f"{r.as_of} run again, its entitlement events now {since}{counts} "
                  "(they had been computed without the dates just run).")


def win_back(workspace: Workspace = Path("."),
             as_of: Annotated[str | None, typer.Option("--as-of",
                                                       help="As-of date, YYYY-MM-DD.")] = None,
             limit: Annotated[int, typer.Option(help="Rows to show.", min=0)] = 20,
             output: Annotated[Path | None, typer.Option(
                 "--out", "-o", help=f"Write the whole list to a file. {OUTPUT_HELP}: .csv, "
                                     ".xlsx or .parquet.")] = None,
             csv_dialect: CsvDialect = None) -> None:
    """Customers to win back: divorced past the cooling-off period, not asking to be left
    alone, most likely to return first (the win_back rating, with its reasons).

    Example: `clientlens win-back -w my-bank --limit 50 -o winback.csv`
    """
    from clientlens.services.workspace import jobs

    result = jobs.win_back(workspace, _day(as_of, "--as-of"), None if output else limit)
    if output is not None:
        jobs.export_rows(workspace, output, list(result.columns), result.rows,
                         csv_dialect=csv_dialect, sheet=f"Win-back on {result.as_of}")
        out.print(f"Wrote {len(result.rows):,} customers to {output}", highlight=False)
    t = Table(title=f"Win-back on {result.as_of}: {len(result.rows):,} customers")
    for col in ("customer", "segment", "left on", "reason kind", "score", "grade",
                "why (top reasons)"):
        t.add_column(col)
    for row in result.rows[:limit]:
        d = dict(zip(result.columns, row, strict=True))
        kind = "situational" if d["left_situational"] else \
            "dissatisfaction" if d["left_dissatisfied"] else "not recorded"
        t.add_row(d["customer_id"], d["segment"], str(d["last_closed_on"]), kind,
                  str(d["win_back_score"]), d["win_back_grade"],
                  "; ".join(r for r in (d["win_back_reason_1"], d["win_back_reason_2"],
                                        d["win_back_reason_3"]) if r))
    out.print(t)
    out.print(f"Left out: {result.excluded_no_contact:,} asked not to be contacted, "
              f"{result.cooling_off:,} still inside the {result.cooling_off_days}-day "
              "cooling-off period.")


@departures_app.command("record")
def record(customer_id: Annotated[str, typer.Argument(help="Customer id.")],
           kind: Annotated[str, typer.Option(
               "--kind", help="situational (moved, changed job), dissatisfaction or "
                              "unknown.")],
           by: Annotated[str, typer.Option("--by", help="Who recorded it.")],
           reason: Annotated[str, typer.Option(help="The reason in the customer's words.")]
           = "",
           left_on: Annotated[str | None, typer.Option(
               "--left-on", help="Date the customer left, YYYY-MM-DD; default today.")]
           = None,
           no_contact: Annotated[bool, typer.Option(
               "--no-contact", help="The customer asked not to be contacted again.")] = False,
           workspace: Workspace = Path("."),
           force: Annotated[bool, typer.Option(
               "--force", help="Record it even for a customer id not among the imported "
                               "customers.")] = False) -> None:
    """Record why a customer left. The id must be an imported customer's; a customer who
    still holds open products gets a warning (the departure is recorded).

    Example: `clientlens departures record C00000042 --kind situational --reason "moved to
    Kazan" --by petrova --left-on 2026-09-30`
    """
    from clientlens.services.relationship.customers import check_customer
    from clientlens.services.relationship.departures import record_departure
    from clientlens.services.workspace.folder import Workspace as Ws

    day = _day(left_on, "--left-on") or dt.date.today()
    products: list[str] = []
    if not force:
        products = check_customer(workspace, customer_id, on=day).open_products
    with Ws(workspace).app_db() as db:
        rec = record_departure(db, customer_id, day, kind, reason, by,
                               do_not_contact=no_contact)
    if products:
        more = "" if len(products) < 10 else ", ..."
        err.print(f"[yellow]warning:[/] {escape(rec.customer_id)} still holds "
                  f"{len(products)}{'+' if more else ''} open product(s) on {rec.left_on} "
                  f"({escape(', '.join(products))}{more}): the departure is recorded; check "
                  "that the core system closes them", highlight=False)
    out.print(f"Recorded departure {rec.departure_id} of {escape(rec.customer_id)} on "
              f"{rec.left_on} ({rec.exit_kind}"
              f"{', do not contact' if rec.do_not_contact else ''}). The next run uses it.")


@departures_app.command("list")
def list_departures(workspace: Workspace = Path("."),
                    customer: Annotated[str | None, typer.Option(
                        help="Only this customer.")] = None) -> None:
    """List recorded departures.

    Example: `clientlens departures list -w my-bank`
    """
    from clientlens.services.relationship.departures import list_departures as listed
    from clientlens.services.workspace.folder import Workspace as Ws

    with Ws(workspace).app_db() as db:
        rows = listed(db, customer)
    t = Table(title=f"Departures: {len(rows):,}")
    for col in ("#", "customer", "left on", "kind", "contact", "reason", "recorded by"):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r.departure_id), escape(r.customer_id), str(r.left_on), r.exit_kind,
                  "no" if r.do_not_contact else "yes", escape(r.reason), escape(r.recorded_by))
    out.print(t)


def fit_activity(workspace: Workspace = Path("."),
                 as_of: Annotated[str | None, typer.Option(
                     "--as-of", help="Snapshot to fit on, YYYY-MM-DD; default the latest.")]
                 = None) -> None:
    """Fit the probability-alive model (BG/NBD) on customers' own transaction days and
    write its parameters to definitions/activity_model.yaml; the next run's p_alive and
    the potential-divorce warning use them.

    Example: `clientlens fit-activity -w my-bank`, then `clientlens run -w my-bank`
    """
    from clientlens.services.workspace import jobs

    fit = jobs.fit_activity(workspace, _day(as_of, "--as-of"))
    out.print(f"BG/NBD on {fit.customers:,} customers' own transaction days up to "
              f"{fit.as_of}: r = {fit.r:.4g}, alpha = {fit.alpha:.4g}, a = {fit.a:.4g}, "
              f"b = {fit.b:.4g} (log-likelihood {fit.log_likelihood:,.1f}).")
    if fit.homogeneous:
        out.print(f"[yellow]note:[/] a and b grew together: drop-out after a transaction is "
                  f"about equally likely for everyone (p = {fit.a / (fit.a + fit.b):.4f}).")
    out.print(f"Written to {fit.path}; rulebook version is now {fit.new_version}. Run "
              "`clientlens run` to use it.")
