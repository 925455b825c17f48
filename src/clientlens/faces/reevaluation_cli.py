"""Commands for on-demand re-evaluation and recorded runs: ``clientlens reevaluate``,
``clientlens reevaluations`` and ``clientlens runs [list|show ID]``.

Plain functions and a command group registered on the ``clientlens`` app by
``faces.cli``; user errors are ``ClientlensError`` and ``cli.main`` prints them as one
line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.options import Workspace, parse_date
from clientlens.services.relationship.reevaluation import REASONS as REEVALUATION_REASONS

out = Console()

AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable.")]

runs_app = typer.Typer(
    name="runs",
    help="Segmentation runs recorded in the application database: those started over "
         "HTTP (POST /runs) and by `clientlens run`, with status, result or error. "
         "Without a command: list.\n\n"
         "Examples: clientlens runs -w my-bank; clientlens runs show 3f2a... -w my-bank",
    invoke_without_command=True, add_completion=False, rich_markup_mode="markdown")


def _json(value: Any) -> None:
    from clientlens.platform.jsonsafe import plain

    out.print_json(json.dumps(plain(value), ensure_ascii=False))


def _state(before: Any, after: Any) -> str:
    if before == after:
        return f"{escape(str(after))} [dim](unchanged)[/]"
    return f"{escape(str(before))} → [bold]{escape(str(after))}[/]"


def reevaluate(customer_id: Annotated[str, typer.Argument(help="Customer id.")],
               workspace: Workspace = Path("."),
               as_of: Annotated[str | None, typer.Option(
                   "--as-of", help="As-of date, YYYY-MM-DD; default: the latest run's "
                                   "date.")] = None,
               reason: Annotated[str | None, typer.Option(
                   help="The cause reported by the bank's system: "
                        + ", ".join(REEVALUATION_REASONS) + ".")] = None,
               note: Annotated[str | None, typer.Option(
                   help="Free text about the cause.")] = None,
               by: Annotated[str | None, typer.Option(
                   "--by", help="Who asks; default: your user name.")] = None,
               as_json: AsJson = False) -> None:
    """Re-evaluate one customer now from the warehouse and record it like a nightly
    change: segment, phase and need before and after, and the entitlement changes
    (granted, grace_started, revoked) against the latest recorded state. Running it
    again with nothing changed records no new entitlement event. The nightly run stays
    authoritative.

    Examples:

    * `clientlens reevaluate C00000042 -w my-bank --reason product_opened --note "opened
      DEP-GROW"`
    * `clientlens reevaluate C00000042 -w my-bank --json`
    """
    from clientlens.engines.duckdb_engine import WarehouseInUse
    from clientlens.services.workspace import jobs

    try:
        outcome = jobs.reevaluate(workspace, customer_id, parse_date(as_of, "--as-of"),
                                  reason=reason, note=note, requested_by=by, via="cli")
    except WarehouseInUse as e:
        _reevaluate_on_service(workspace, customer_id, as_of, reason, note, as_json, e)
        return
    rec, x = outcome.record, outcome.explanation
    if as_json:
        _json({**rec.as_dict(), "segment_changed": rec.segment_changed,
               "grades": {r.rating.id: r.grade for r in x.ratings},
               "qualifies_for": [svc.id for svc, ok, _ in x.services if ok]})
        return
    since = f"the run of {rec.compared_with}" if rec.compared_with else "no run (none yet)"
    if rec.basis_id is not None:
        since += f" and re-evaluation #{rec.basis_id} since"
    out.print(f"Re-evaluation [bold]#{rec.reevaluation_id}[/] of [bold]{escape(rec.customer_id)}"
              f"[/] on {rec.as_of} with rulebook {rec.rulebook_version}, recorded "
              f"(compared with {since}).")
    for attribute in ("segment", "phase", "need"):
        out.print(f"  {attribute}: {_state(rec.before[attribute], rec.after[attribute])}")
    grades = ", ".join(f"{r.rating.id} {r.grade}" for r in x.ratings if r.grade)
    if grades:
        out.print(f"  grades: {grades}")
    if rec.events:
        t = Table(title="Entitlement changes (source: reevaluation)")
        for col in ("service", "event", "kept until", "reason"):
            t.add_column(col)
        for e in rec.events:
            t.add_row(e["service"], e["event"], str(e["kept_until"] or "—"),
                      escape(e["reason"]))
        out.print(t)
    else:
        out.print("No entitlement changes against the latest recorded state.")
    held = ", ".join(h["service"] + ("" if h["qualified"] else f" (grace until "
                                     f"{h['kept_until']})") for h in rec.held)
    out.print(f"Services held now: {held or 'none'}")
    out.print(f"`clientlens reevaluations {rec.customer_id}` lists this customer's "
              "re-evaluations; the next nightly run stays authoritative.", style="dim")


def _reevaluate_on_service(workspace: Path, customer_id: str, as_of: str | None,
                           reason: str | None, note: str | None, as_json: bool,
                           e: Exception) -> None:
    """The re-evaluation handed to the service that holds the warehouse; recorded by it
    (as the service's local admin, this machine's user)."""
    from urllib.parse import quote

    from clientlens.faces import service_client

    service = service_client.service_for(workspace, e)  # type: ignore[arg-type]
    query = f"?as_of={parse_date(as_of, '--as-of')}" if as_of else ""
    body = {k: v for k, v in (("reason", reason), ("note", note)) if v is not None}
    answer = service_client.ask(
        service, "POST", f"/customers/{quote(customer_id, safe='')}/reevaluate{query}",
        body or None)
    if as_json:
        _json(answer)
        return
    p = answer["profile"]
    out.print(f"Re-evaluation [bold]#{answer['reevaluation_id']}[/] of [bold]"
              f"{escape(customer_id)}[/] on {p['as_of']}, recorded by `clientlens serve` "
              f"(PID {service.pid}).")
    for attribute in ("segment", "phase", "need"):
        out.print(f"  {attribute}: {_state(answer.get(f'previous_{attribute}'), p.get(attribute))}")
    if answer.get("changes"):
        t = Table(title="Entitlement changes (source: reevaluation)")
        for col in ("service", "event", "kept until", "reason"):
            t.add_column(col)
        for ch in answer["changes"]:
            t.add_row(ch["service"], ch["change"], str(ch["kept_until"] or "—"),
                      escape(str(ch["reason"])))
        out.print(t)
    else:
        out.print("No entitlement changes against the latest recorded state.")


def reevaluations(customer_id: Annotated[str | None, typer.Argument(
                      help="Only this customer.")] = None,
                  workspace: Workspace = Path("."),
                  limit: Annotated[int, typer.Option(help="Rows to show.", min=1)] = 50,
                  as_json: AsJson = False) -> None:
    """List recorded re-evaluations, newest first: when, who and how, the cause,
    segment before and after, the entitlement changes (source: reevaluation) and the
    nightly run that superseded each.

    Examples:

    * `clientlens reevaluations C00000042 -w my-bank`
    * `clientlens reevaluations -w my-bank --limit 200 --json`
    """
    from clientlens.services.workspace import jobs

    found = jobs.reevaluations(workspace, customer_id, limit)
    if as_json:
        _json([{**r.as_dict(), "segment_changed": r.segment_changed} for r in found])
        return
    t = Table(title=f"Re-evaluations{' of ' + escape(customer_id) if customer_id else ''}: "
                    f"{len(found)}")
    for col in ("#", "customer", "at (UTC)", "by", "as of", "compared with", "reason",
                "segment", "entitlement changes", "superseded by"):
        t.add_column(col, overflow="fold")
    for r in found:
        compared = str(r.compared_with or "—") + (f" + #{r.basis_id}" if r.basis_id else "")
        cause = (r.reason or "—") + (f": {r.note}" if r.note else "")
        changes = ", ".join(f"{e['service']} {e['event']}" for e in r.events) or "—"
        t.add_row(str(r.reevaluation_id), escape(r.customer_id),
                  r.requested_at.strftime("%Y-%m-%d %H:%M:%S"),
                  f"{escape(r.requested_by)} ({r.via})", str(r.as_of), compared,
                  escape(cause), _state(r.before["segment"], r.after["segment"]),
                  changes, str(r.superseded_by or "—"))
    out.print(t)


def _print_runs(workspace: Path, limit: int, as_json: bool) -> None:
    from clientlens.services.workspace import jobs

    found = jobs.recorded_runs(workspace, limit)
    if as_json:
        _json([r.as_dict() for r in found])
        return
    t = Table(title=f"Runs: {len(found)}")
    for col in ("run", "status", "stage", "as of", "by", "started (UTC)", "seconds",
                "customers", "error"):
        t.add_column(col, overflow="fold")
    for r in found:
        seconds = (f"{(r.finished_at - r.started_at).total_seconds():.1f}"
                   if r.finished_at and r.started_at else "—")
        colour = {"succeeded": "green", "failed": "red"}.get(r.status, "yellow")
        t.add_row(r.run_id, f"[{colour}]{r.status}[/]", r.stage, str(r.as_of or "—"),
                  f"{escape(r.requested_by)} ({r.via})",
                  (r.started_at or r.created_at).strftime("%Y-%m-%d %H:%M:%S"), seconds,
                  f"{r.result['customers']:,}" if r.result else "—",
                  escape(r.error or ""))
    out.print(t)


@runs_app.callback()
def _runs(ctx: typer.Context, workspace: Workspace = Path("."),
          limit: Annotated[int, typer.Option(help="Rows to show.", min=1)] = 20,
          as_json: AsJson = False) -> None:
    """Runs recorded in the application database, newest first (HTTP and CLI runs).

    Example: `clientlens runs -w my-bank`
    """
    if ctx.invoked_subcommand is None:
        _print_runs(workspace, limit, as_json)


@runs_app.command("list")
def list_runs(workspace: Workspace = Path("."),
              limit: Annotated[int, typer.Option(help="Rows to show.", min=1)] = 20,
              as_json: AsJson = False) -> None:
    """List recorded runs, newest first: status (a run whose process stopped shows
    failed/interrupted), stage, as-of date, who, when, customers, error.

    Example: `clientlens runs list -w my-bank --limit 50`
    """
    _print_runs(workspace, limit, as_json)


@runs_app.command("show")
def show_run(run_id: Annotated[str, typer.Argument(help="The run's id.")],
             workspace: Workspace = Path("."), as_json: AsJson = False) -> None:
    """One recorded run with its result (segments, phases, entitlement changes) or
    error.

    Example: `clientlens runs show 3f2a9c0d... -w my-bank`
    """
    from clientlens.services.workspace import jobs

    r = jobs.recorded_run(workspace, run_id)
    if as_json:
        _json(r.as_dict())
        return
    out.print(f"Run [bold]{r.run_id}[/]: {r.status} (stage {r.stage}), as of "
              f"{r.as_of or 'the default date'}, by {escape(r.requested_by)} via {r.via}")
    out.print(f"  created {r.created_at:%Y-%m-%d %H:%M:%S} UTC"
              + (f", started {r.started_at:%H:%M:%S}" if r.started_at else "")
              + (f", finished {r.finished_at:%H:%M:%S}" if r.finished_at else ""))
    if r.error:
        out.print(f"  [red]error:[/] {escape(r.error)}")
    if r.result:
        res = r.result
        out.print(f"  {res['customers']:,} customers with rulebook {res['rulebook_version']} "
                  f"in {res['seconds']:.1f} s")
        for s in res.get("segments", []):
            out.print(f"    {s['segment']}: {s['customers']:,} ({s['share']:.1%})")
        ch = res.get("entitlements")
        if ch:
            out.print(f"  entitlements since {ch['previous'] or 'nothing'}: {ch['granted']:,} "
                      f"granted, {ch['grace_started']:,} in grace, {ch['revoked']:,} revoked")
