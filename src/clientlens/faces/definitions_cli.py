"""``clientlens definitions ...``: rule governance from the command line.

Typer + Rich over ``services/workspace/governance_jobs.py``; no business logic here. The
acting user is ``--by`` (env ``CLIENTLENS_USER``, default the login name); what that user
may do comes from the roles of their API tokens (``clientlens token add``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.cli_errors import user_errors
from clientlens.faces.options import Workspace, parse_date
from clientlens.services.workspace import governance_jobs as gov

definitions_app = typer.Typer(
    name="definitions",
    help="Rule governance: the definition files become versions that a second person "
         "approves (four eyes) before any run uses them, effective from a date.\n\n"
         "Quick start: clientlens definitions diff; clientlens definitions impact; "
         "clientlens definitions submit --reason \"status from 2.5M\"; (another user) "
         "clientlens definitions approve 1 --by ivanov --reason \"agreed\". "
         "See docs/governance.md.",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")
out = Console()

By = Annotated[str | None, typer.Option(
    "--by", "--user", envvar="CLIENTLENS_USER", show_default=False,
    help="Who acts (default: your login name); their API tokens' roles say what they "
         "may do.")]
Reason = Annotated[str, typer.Option("--reason", "-r",
                                     help="Why: kept in the audit log and the history.")]
VersionId = Annotated[int, typer.Argument(metavar="VERSION", help="Version number, e.g. 3.",
                                          show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable.")]


def _json(value: Any) -> None:
    from clientlens.platform.jsonsafe import plain

    out.print_json(json.dumps(plain(value), ensure_ascii=False))


def _said(rec: Any, what: str) -> None:
    when = f", effective from {rec.effective_from}" if rec.effective_from else ""
    out.print(f"Version [bold]{rec.version_id}[/] {what}: {rec.status}{when}.", highlight=False)


@definitions_app.command()
@user_errors
def submit(reason: Reason, by: By = None, workspace: Workspace = Path(".")) -> None:
    """Submit the files in definitions/ for approval. A draft that does not load is
    refused with every problem (file, line, suggestion).

    Example: `clientlens definitions submit -w my-bank --by petrova --reason "status
    threshold 2.5M from Q1"`
    """
    _said(gov.submit(workspace, by=by, reason=reason), "submitted")


@definitions_app.command()
@user_errors
def approve(version: VersionId, reason: Reason, by: By = None,
            effective_from: Annotated[str | None, typer.Option(
                "--effective-from", help="YYYY-MM-DD the version takes effect (default "
                                         "today); runs of earlier dates keep the "
                                         "version then in force.")] = None,
            hold: Annotated[bool, typer.Option(
                "--hold", help="Approve without a date; `schedule` dates it.")] = False,
            workspace: Workspace = Path(".")) -> None:
    """Approve a submitted version (not your own: four eyes).

    Examples:

    * `clientlens definitions approve 3 --by ivanov --reason "agreed at ALCO 14/12"`
    * `clientlens definitions approve 3 --by ivanov --reason "Q1" --effective-from 2027-01-01`
    """
    rec = gov.approve(workspace, version, by=by, reason=reason, hold=hold,
                      effective_from=parse_date(effective_from, "--effective-from"))
    _said(rec, f"approved by {escape(rec.decided_by or '')}")


@definitions_app.command()
@user_errors
def reject(version: VersionId, reason: Reason, by: By = None,
           workspace: Workspace = Path(".")) -> None:
    """Reject a submitted version (not your own).

    Example: `clientlens definitions reject 3 --by ivanov --reason "impact on pensioners"`
    """
    _said(gov.reject(workspace, version, by=by, reason=reason), "rejected")


@definitions_app.command()
@user_errors
def schedule(version: VersionId,
             effective_from: Annotated[str, typer.Option(
                 "--effective-from", help="YYYY-MM-DD the version takes effect.")],
             reason: Reason, by: By = None, workspace: Workspace = Path(".")) -> None:
    """Date an approved version, or move a scheduled one that is not yet in effect.

    Example: `clientlens definitions schedule 3 --effective-from 2027-01-01 --by ivanov
    --reason "with the new tariffs"`
    """
    day = parse_date(effective_from, "--effective-from")
    assert day is not None
    _said(gov.schedule(workspace, version, day, by=by, reason=reason), "scheduled")


@definitions_app.command()
@user_errors
def rollback(version: VersionId, reason: Reason, by: By = None,
             workspace: Workspace = Path(".")) -> None:
    """Go back to an earlier approved version: submits its files again, for another
    user to approve.

    Example: `clientlens definitions rollback 2 --by petrova --reason "complaints"`
    """
    rec = gov.rollback(workspace, version, by=by, reason=reason)
    _said(rec, f"submitted, bringing back version {version}")


@definitions_app.command()
@user_errors
def history(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
            as_json: AsJson = False, workspace: Workspace = Path(".")) -> None:
    """Every version with its state and who submitted, decided and scheduled it.

    Example: `clientlens definitions history -w my-bank`
    """
    found = gov.history(workspace, limit)
    if as_json:
        _json({"governed": found.governed,
               "in_force": found.in_force.version_id if found.in_force else None,
               "versions": [v.as_dict() for v in found.versions]})
        return
    if not found.governed:
        out.print("Ungoverned: the files in definitions/ are in force until a version is "
                  "approved.", highlight=False)
    t = Table("version", "state", "effective from", "submitted", "decided", "reason")
    for v in found.versions:
        t.add_row(str(v.version_id)
                  + (f" (rollback of {v.rollback_of})" if v.rollback_of else ""),
                  v.status, str(v.effective_from or ""),
                  f"{escape(v.submitted_by)} {v.submitted_at:%Y-%m-%d %H:%M}",
                  f"{escape(v.decided_by)} {v.decided_at:%Y-%m-%d %H:%M}"
                  if v.decided_by and v.decided_at else "",
                  escape(v.decision_note or v.reason))
    out.print(t)


@definitions_app.command()
@user_errors
def diff(new: Annotated[str | None, typer.Argument(
            help="A version number or 'files' (default: the files in definitions/).")] = None,
         old: Annotated[str | None, typer.Option(
             "--against", help="A version number or 'current' (default: the version in "
                               "force today).")] = None,
         as_json: AsJson = False, workspace: Workspace = Path(".")) -> None:
    """What a draft or version changes, in words ("rule status: balance_total >=
    3,000,000 -> >= 2,500,000").

    Examples:

    * `clientlens definitions diff` (the files against the version in force)
    * `clientlens definitions diff 4 --against 3`
    """
    found = gov.diff(workspace, new, old)
    if as_json:
        _json({"old": found.old, "new": found.new, "changes": [c.text for c in found.changes]})
        return
    out.print(f"{escape(found.new)} against {escape(found.old)}:", highlight=False)
    for c in found.changes:
        out.print(f"  {escape(c.text)}", highlight=False)
    if not found.changes:
        out.print("  no change", highlight=False)


@definitions_app.command()
@user_errors
def impact(draft: Annotated[str | None, typer.Argument(
               help="A version number or 'files' (default: the files in definitions/).")]
           = None,
           sample: Annotated[int, typer.Option(help="Moved customers to explain.")] = 5,
           as_json: AsJson = False, workspace: Workspace = Path(".")) -> None:
    """What the draft would change on the latest snapshot: the segment migration matrix
    (customers and balances), entitlements granted and revoked, decisions that move, and
    moved customers explained under each version. Nothing is stored.

    Examples:

    * `clientlens definitions impact -w my-bank`
    * `clientlens definitions impact 4 --json`
    """
    x = gov.impact(workspace, draft, sample=sample)
    if as_json:
        _json(x.as_dict())
        return
    how = ("reusing the snapshot's terms" if x.reused_terms else
           f"recomputing terms ({', '.join(x.recomputed[:5])})")
    out.print(f"Impact on the snapshot of {x.as_of} ({x.customers:,} customers, "
              f"{how}, {x.seconds:.2f} s): {x.moved:,} change segment.", highlight=False)
    t = Table("current \\ draft", *x.segments, title="customers")
    for seg, row in zip(x.segments, x.counts, strict=True):
        t.add_row(seg, *(f"{n:,}" if n else "" for n in row))
    out.print(t)
    if x.entitlements:
        e = Table("service", "granted", "revoked", title="entitlements")
        for svc, granted, revoked in x.entitlements:
            e.add_row(svc.removeprefix("svc_"), f"{granted:,}", f"{revoked:,}")
        out.print(e)
    for col, moves in x.moves.items():
        shown = "; ".join(f"{a} -> {b}: {n:,}" for a, b, n in moves[:4])
        out.print(f"{col}: {escape(shown)}" + (" ..." if len(moves) > 4 else ""),
                  highlight=False)
    for m in x.sample:
        out.print(f"[bold]{escape(m.customer_id)}[/] {m.before} -> {m.after}\n"
                  f"  now:   {escape(m.why_before)}\n  draft: {escape(m.why_after)}",
                  highlight=False)
