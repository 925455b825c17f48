"""``clientlens backtest``: how well the early warning called what really happened, on
the bank's own history.

Typer + Rich over ``clientlens.services.analytics.backtest``; no business logic here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.cli_errors import user_errors
from clientlens.faces.options import Workspace as WorkspaceDir
from clientlens.faces.options import parse_date
from clientlens.model.errors import ClientlensError
from clientlens.services.analytics.backtest import Backtest
from clientlens.services.workspace import jobs

out = Console()
backtest_app = typer.Typer(name="backtest", no_args_is_help=True, help=(
    "Measure calls against what happened later in the bank's own data (stored "
    "snapshots: run `clientlens backfill` over the dates first)."))

BAR = 24  # characters of the longest bar


def _days(value: str, option: str) -> int:
    text = value.strip().lower().removesuffix("d")
    if not text.isdigit() or int(text) < 1:
        raise ClientlensError(f"{option} '{value}' is not a number of days like 90d")
    return int(text)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


@backtest_app.command("early-warning")
@user_errors
def early_warning(
    workspace: WorkspaceDir = Path("."),
    date_from: Annotated[str, typer.Option("--from", metavar="DATE",
                                           help="First as-of date, YYYY-MM-DD.")] = "",
    date_to: Annotated[str, typer.Option("--to", metavar="DATE",
                                         help="Last as-of date, YYYY-MM-DD.")] = "",
    horizon: Annotated[str, typer.Option(
        metavar="DAYS", help="How far after each as-of date a departure counts.")] = "90d",
    quiet: Annotated[str, typer.Option(
        metavar="DAYS", help="A customer with no transaction in this many days before the "
                             "horizon's end went dormant (and, before the as-of date, was "
                             "already dormant: not in the population).")] = "60d",
    phase: Annotated[str, typer.Option(metavar="PHASE",
                                       help="The warning phase to test.")] = "potential_divorce",
) -> None:
    """Flagged, precision, recall and lift of the early warning, per sign and for the
    phase, against customers who left (no open product) or went dormant (no transaction)
    within the horizon, as the bank's own accounts and transactions show.

    Example: `clientlens backtest early-warning -w my-bank --from 2025-11-30
    --to 2026-07-31 --horizon 90d`
    """
    start = parse_date(date_from or None, "--from")
    end = parse_date(date_to or None, "--to")
    if start is None or end is None:
        raise ClientlensError("give --from and --to (YYYY-MM-DD)")
    result = jobs.backtest_early_warning(workspace, start, end,
                                         horizon_days=_days(horizon, "--horizon"),
                                         quiet_days=_days(quiet, "--quiet"), phase=phase)
    show(result)


def _range(date_from: str, date_to: str) -> tuple:
    start = parse_date(date_from or None, "--from")
    end = parse_date(date_to or None, "--to")
    if start is None or end is None:
        raise ClientlensError("give --from and --to (YYYY-MM-DD)")
    return start, end


From = Annotated[str, typer.Option("--from", metavar="DATE", help="First as-of date, YYYY-MM-DD.")]
To = Annotated[str, typer.Option("--to", metavar="DATE", help="Last as-of date, YYYY-MM-DD.")]
Horizon = Annotated[str, typer.Option(metavar="DAYS",
                                      help="How far after each as-of date an opening counts.")]


@backtest_app.command("next-best")
@user_errors
def next_best(workspace: WorkspaceDir = Path("."), date_from: From = "", date_to: To = "",
              horizon: Horizon = "90d") -> None:
    """How often the next-best product was opened within the horizon, against a product
    picked at random among those the same customers could have been offered; per
    product too. Openings are read from the bank's accounts.

    Example: `clientlens backtest next-best -w my-bank --from 2025-11-30 --to 2026-07-31`
    """
    start, end = _range(date_from, date_to)
    r = jobs.backtest_offers(workspace, start, end, horizon_days=_days(horizon, "--horizon"))
    out.print(f"[bold]Next-best product[/], {len(r.dates)} snapshot(s) {r.dates[0]} .. "
              f"{r.dates[-1]}, horizon {r.horizon_days} days")
    out.print(f"Customers with a need: {r.population:,}; offered a product: {r.offered:,} "
              f"({_pct(r.offered / r.population if r.population else None)})")
    out.print(f"Opened the offered product: {_pct(r.offer_rate)}; a random eligible product: "
              f"{_pct(r.random_rate)}; lift "
              f"{'-' if r.lift is None else f'{r.lift:.1f}x'}")
    t = Table()
    for name in ("product", "offered", "opened when offered", "eligible",
                 "opened when eligible"):
        t.add_column(name, justify="left" if name == "product" else "right")
    for p in r.products:
        t.add_row(p.product, f"{p.offered:,}",
                  _pct(p.opened_when_offered / p.offered if p.offered else None),
                  f"{p.eligible:,}",
                  _pct(p.opened_when_eligible / p.eligible if p.eligible else None))
    out.print(t)
    _bars([(p.product, p.opened_when_offered / p.offered if p.offered else 0.0,
            p.opened_when_eligible / p.eligible if p.eligible else 0.0) for p in r.products],
          "opened when offered ▇, when only eligible ░")
    _skipped(r.skipped)


@backtest_app.command("needs")
@user_errors
def needs(workspace: WorkspaceDir = Path("."), date_from: From = "", date_to: To = "",
          horizon: Horizon = "90d") -> None:
    """Of the customers with a need who opened a catalogue product within the horizon,
    the share whose opening serves their need, against the share of all openings that
    serve it (chance).

    Example: `clientlens backtest needs -w my-bank --from 2025-11-30 --to 2026-07-31`
    """
    start, end = _range(date_from, date_to)
    r = jobs.backtest_offers(workspace, start, end, horizon_days=_days(horizon, "--horizon"))
    out.print(f"[bold]Needs[/], {len(r.dates)} snapshot(s) {r.dates[0]} .. {r.dates[-1]}, "
              f"horizon {r.horizon_days} days; {r.population:,} customer-dates with a need")
    t = Table()
    for name in ("need", "customers", "opened a product", "serving the need",
                 "chance", "lift"):
        t.add_column(name, justify="left" if name == "need" else "right")
    rows = []
    for n in r.needs:
        share = n.served / n.openers if n.openers else None
        lift = share / n.base_share if share is not None and n.base_share else None
        t.add_row(n.need, f"{n.customers:,}", f"{n.openers:,}", _pct(share),
                  _pct(n.base_share), "-" if lift is None else f"{lift:.1f}x")
        rows.append((n.need, share or 0.0, n.base_share or 0.0))
    out.print(t)
    _bars(rows, "openings serving the need ▇, chance ░")
    _skipped(r.skipped)


def _bars(rows: list[tuple[str, float, float]], title: str) -> None:
    top = max((max(a, b) for _, a, b in rows), default=0.0) or 1.0
    out.print(f"[bold]{title}[/] (longest bar {_pct(top)})")
    width = min(max(len(n) for n, _, _ in rows), 34)
    for name, a, b in rows:
        out.print(f"  {escape(name[:width]):<{width}}  "
                  f"{'▇' * int(round(a / top * BAR)):<{BAR}} {_pct(a):>6}")
        out.print(f"  {'':<{width}}  {'░' * int(round(b / top * BAR)):<{BAR}} {_pct(b):>6}")


def _skipped(skipped: list) -> None:
    if skipped:
        out.print(f"Skipped {len(skipped)} snapshot(s): {skipped[0][1]} (from {skipped[0][0]})")


def show(result: Backtest) -> None:
    base = result.base_rate or 0.0
    out.print(f"[bold]Early warning '{result.phase}'[/], {len(result.dates)} snapshot(s) "
              f"{result.dates[0]} .. {result.dates[-1]}, horizon {result.horizon_days} days")
    out.print(f"Population: {result.population:,} customer-dates holding a product and "
              f"active in the {result.quiet_days} days before; withdrew within the horizon: "
              f"{result.positives:,} ({_pct(base)}; left {result.left:,}, went dormant "
              f"{result.went_quiet:,})")
    t = Table(show_lines=False)
    for name, justify in (("sign", "left"), ("kind", "left"), ("flagged", "right"),
                          ("flagged %", "right"), ("precision", "right"),
                          ("recall", "right"), ("lift", "right")):
        t.add_column(name, justify=justify)
    for s in result.signals:
        lift = result.lift(s)
        t.add_row(escape(s.name), s.kind, f"{s.flagged:,}",
                  _pct(s.flagged / result.population if result.population else None),
                  _pct(s.precision()), _pct(s.recall(result.positives)),
                  "-" if lift is None else f"{lift:.1f}x",
                  style="bold" if s.kind == "phase" else None)
    out.print(t)
    out.print("[bold]Precision ▇ and recall ░ per sign[/] (base rate "
              f"{_pct(base)} marked |)")
    width = max(len(s.name) for s in result.signals)
    width = min(width, 34)
    for s in result.signals:
        p, r = s.precision() or 0.0, s.recall(result.positives) or 0.0
        mark = int(round(base * BAR))
        bar = "▇" * int(round(p * BAR))
        bar = (bar.ljust(BAR)[:mark] + "|" + bar.ljust(BAR)[mark + 1:]).rstrip()
        label = s.name if len(s.name) <= width else s.name[:width - 1] + "…"
        out.print(f"  {escape(label):<{width}}  {bar:<{BAR}} {_pct(p):>6}")
        out.print(f"  {'':<{width}}  {'░' * int(round(r * BAR)):<{BAR}} {_pct(r):>6}")
    if result.skipped:
        out.print(f"Skipped {len(result.skipped)} snapshot(s): {result.skipped[0][1]} "
                  f"(from {result.skipped[0][0]})")
    out.print("Per date: " + "; ".join(
        f"{d} flagged {f:,} of {n:,}, precision {_pct(h / f if f else None)}, recall "
        f"{_pct(h / p if p else None)}" for d, n, p, f, h in result.by_date))
