"""``clientlens migrations`` and ``clientlens kpis``: how customers move between
snapshots, and the relationship KPIs over time.

Typer + Rich over ``clientlens.services.analytics.matrices`` and
``clientlens.services.analytics.kpis``;
no business logic here. Plain functions, registered by the main app with
``app.command()(migrations)``; each catches user errors itself (one line on
stderr, exit 1), so they behave the same in any Typer app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.cli_errors import user_errors
from clientlens.faces.options import OUTPUT_HELP, CsvDialect
from clientlens.faces.options import Workspace as WorkspaceDir
from clientlens.faces.options import parse_date as _date
from clientlens.model.errors import ClientlensError
from clientlens.services.analytics import kpis as kpi_service
from clientlens.services.analytics import matrices as mig
from clientlens.services.workspace.folder import Workspace

out = Console()
err = Console(stderr=True)

# Date-range options of these two commands (the workspace option is shared).
From = Annotated[str | None, typer.Option("--from", metavar="DATE", show_default=False,
                                          help="First as-of date, YYYY-MM-DD.")]
To = Annotated[str | None, typer.Option("--to", metavar="DATE", show_default=False,
                                        help="Last as-of date, YYYY-MM-DD.")]


def _order(ws: Workspace, by: str) -> list[str] | None:
    """The rulebook's order of segments, needs or phases, when the definitions load."""
    if by not in ("segment", "need", "phase"):
        return None
    try:
        return mig.label_order(ws.definitions, by)
    except ClientlensError:
        return None  # broken definitions do not stop a report over stored profiles


@user_errors
def migrations(
    workspace: WorkspaceDir = Path("."),
    date_from: From = None,
    date_to: To = None,
    by: Annotated[str, typer.Option(
        metavar="COLUMN", help="Text column of the profiles: segment, phase, need, "
                               "current_grade, loyalty_grade, ...")] = "segment",
    measure: Annotated[str, typer.Option(
        metavar="MEASURE", help="customers or balance (balance_total at --to; at --from for "
                                "customers gone by then).")] = "customers",
    output: Annotated[list[Path] | None, typer.Option(
        "--out", "-o", metavar="FILE", help="Write the matrix to a file; repeat for several. "
        f"{OUTPUT_HELP}: .csv, .xlsx, .png (heat map) or .html.")] = None,
    csv_dialect: CsvDialect = None,
) -> None:
    """Where customers moved between two snapshots: a migration matrix of segments,
    phases, needs or grades, with customers new since --from and gone by --to.

    --to defaults to the latest run, --from to the run before it.

    Examples:

    * `clientlens migrations -w my-bank --from 2026-09-30 --to 2026-10-31`
    * `clientlens migrations -w my-bank --by phase --measure balance -o phases.html -o phases.png`
    """
    ws = Workspace(workspace)
    targets = list(output or [])
    for path in targets:
        if path.suffix.lower() not in mig.WRITERS:
            raise ClientlensError(f"cannot write '{path.name}': use a .csv, .xlsx, .png or "
                                  ".html file")
    dialect = csv_dialect or ws.settings.export_csv_dialect
    order = _order(ws, by)
    with ws.engine(read_only=True) as engine:
        d1, d2 = _date(date_from, "--from"), _date(date_to, "--to")
        if d1 is None or d2 is None:
            dates = mig.snapshot_dates(engine)
            if d2 is None:
                if not dates:
                    raise ClientlensError("no profiles yet: run `clientlens run` first")
                d2 = dates[-1]
            if d1 is None:
                earlier = [d for d in dates if d < d2]
                if not earlier:
                    raise ClientlensError(f"no run before {d2} to compare with: give --from and "
                                          f"--to ({len(dates)} date{'s' if len(dates) != 1 else ''}"
                                          f" run: {', '.join(map(str, dates[-5:]))})")
                d1 = earlier[-1]
        matrix = mig.migration_matrix(engine, d1, d2, by, measure=measure, order=order)
    _print_matrix(matrix, "customers")
    if matrix.measure == "balance":
        _print_matrix(matrix, "balance")
    share = matrix.stayed_share("customers")
    new, gone = matrix.row_totals("customers")[-1], matrix.column_totals("customers")[-1]
    out.print(f"{matrix.stayed('customers'):,} of {matrix.customers_from:,} customers kept "
              f"their {escape(by)}" + (f" ({share:.1%})" if share is not None else "")
              + f"; {new:,} new since {d1}, {gone:,} gone by {d2}.", highlight=False)
    if matrix.measure == "balance" and (b_share := matrix.stayed_share("balance")) is not None:
        out.print(f"Customers who stayed put hold {b_share:.1%} of the balances of the "
                  f"customers on {d1}.", highlight=False)
    from clientlens.faces import rendering  # Jinja only when a page is written

    for path in targets:
        rendering.write_matrix(matrix, path, dialect)
        out.print(f"Wrote {path}", highlight=False)


def _print_matrix(m: mig.MigrationMatrix, measure: str) -> None:
    cells = m.counts if measure == "customers" else m.balances
    assert cells is not None

    def fmt(v: Any) -> str:
        return f"{v:,.0f}" if measure == "balance" else f"{v:,}"

    unit = "customers" if measure == "customers" else "balance_total"
    t = Table(title=f"{escape(m.by)}: {m.date_from} → {m.date_to} ({unit})")
    t.add_column(f"{escape(m.by)} on {m.date_from} \\ {m.date_to}")
    for c in m.columns:
        t.add_column(escape(c), justify="right")
    t.add_column(mig.TOTAL, justify="right", style="bold")
    for i, (label, row, total) in enumerate(zip(m.rows, cells, m.row_totals(measure),
                                                strict=True)):
        shown = [(f"[bold green]{fmt(v)}[/]" if i == j and label != mig.ABSENT
                  else f"[dim]{fmt(v)}[/]" if not v else fmt(v)) for j, v in enumerate(row)]
        t.add_row(escape(label), *shown, fmt(total))
    t.add_row(mig.TOTAL, *[fmt(v) for v in m.column_totals(measure)], fmt(m.total(measure)),
              style="bold", end_section=True)
    out.print(t)


@user_errors
def kpis(
    workspace: WorkspaceDir = Path("."),
    date_from: From = None,
    date_to: To = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPIs as JSON rows (kpi, "
                                                        "date_from, date_to, by, group, "
                                                        "value, count, base).")] = False,
    output: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="FILE", help=f"Write the KPI rows to a file. {OUTPUT_HELP}: "
        ".csv, .xlsx or .json.")] = None,
    csv_dialect: CsvDialect = None,
) -> None:
    """Relationship KPIs per snapshot: customers, loyal share (loyalty grade A or B),
    retention and churn from the previous run (overall, by segment, by phase), and time
    spent in each phase.

    Examples:

    * `clientlens kpis -w my-bank`
    * `clientlens kpis -w my-bank --from 2026-01-31 --json > kpis.json`
    * `clientlens kpis -w my-bank -o kpis.csv`
    """
    from clientlens.services.workspace import jobs

    ws = Workspace(workspace)
    target = output
    if target and target.suffix.lower() not in (".csv", ".xlsx", ".json"):
        raise ClientlensError(f"cannot write '{target.name}': use a .csv, .xlsx or .json file")
    with ws.engine(read_only=True) as engine:
        result = kpi_service.kpis(engine, _date(date_from, "--from"), _date(date_to, "--to"))
    rows = result.to_rows()
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    else:
        _print_kpis(result, {by: _order(ws, by) or [] for by in ("segment", "phase")})
    if target:
        fields = list(kpi_service.ROW_FIELDS)
        jobs.export_rows(workspace, target, fields, [[r[f] for f in fields] for r in rows],
                         csv_dialect=csv_dialect, allowed=("csv", "xlsx", "json"), sheet="KPIs")
        (err if as_json else out).print(f"Wrote {target}", highlight=False)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _days(x: float | None) -> str:
    return "—" if x is None else f"{x:,.1f}"


def _print_kpis(k: kpi_service.Kpis, orders: dict[str, list[str]]) -> None:
    overall = {r.date_to: r for r in k.retention_for()}
    t = Table(title=f"KPIs from {k.dates[0]} to {k.dates[-1]}")
    for name in ("as of", "customers", "loyal (A/B)", "with products before", "retained",
                 "churned", "retention", "churn"):
        t.add_column(name, justify="left" if name == "as of" else "right")
    for d in k.per_date:
        r = overall.get(d.as_of)
        t.add_row(str(d.as_of), f"{d.customers:,}", _pct(d.loyal_share),
                  *([f"{r.base:,}", f"{r.retained:,}", f"{r.churned:,}",
                     _pct(r.retention_rate), _pct(r.churn_rate)] if r else ["—"] * 5))
    out.print(t)
    out.print("[dim]Retention and churn: of the customers with open products at the "
              "previous run, still with products / without products or gone.[/]")
    for by in ("segment", "phase"):
        _print_groups(k, by, orders.get(by, []))
    if k.durations:
        t = Table(title=f"Days in each phase ({k.dates[0]} to {k.dates[-1]})")
        for name in ("phase", "completed runs", "mean", "median", "censored runs",
                     "mean so far", "median so far", f"going on {k.dates[0]}"):
            t.add_column(name, justify="left" if name == "phase" else "right")
        for p in k.durations:
            t.add_row(escape(p.phase), f"{p.completed:,}", _days(p.completed_mean_days),
                      _days(p.completed_median_days), f"{p.censored:,}",
                      _days(p.censored_mean_days), _days(p.censored_median_days),
                      f"{p.left_censored:,}")
        out.print(t)
        out.print("[dim]Completed: left the phase by a later run. Censored: still in it at "
                  "the last run (or not seen at the next one), time so far.[/]")
    for note in k.notes:
        out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _print_groups(k: kpi_service.Kpis, by: str, order: list[str], last: int = 6) -> None:
    rows = [r for r in k.retention if r.by == by]
    if not rows:
        return
    periods = sorted({(r.date_from, r.date_to) for r in rows})[-last:]
    groups = mig.order_labels({r.group for r in rows}, order or None, by)[:-1]
    cell = {(r.group, r.date_to): r for r in rows}
    t = Table(title=f"Retention by {by} at the previous run (retained of customers with "
                    "products)")
    t.add_column(by)
    for _, d2 in periods:
        t.add_column(f"→ {d2}", justify="right")
    for g in groups:
        shown = []
        for _, d2 in periods:
            r = cell.get((g, d2))
            shown.append(f"{_pct(r.retention_rate)} of {r.base:,}" if r else "—")
        t.add_row(escape(g), *shown)
    out.print(t)
