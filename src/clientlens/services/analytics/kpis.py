"""Relationship KPIs over the stored snapshots.

Per as-of date: customers, and the share of loyal customers — by the loyalty
*rating* (``loyalty_grade`` A or B), not the segment that happens to be named
``loyal``.

Between consecutive snapshots t1 < t2 (overall, by segment at t1 and by phase at
t1), of the customers holding products at t1 (``open_products > 0``):

- retained: still holding products at t2;
- churned: not (no open products, or not in the t2 snapshot at all).

So retention + churn = 1 for every group.

Time spent in each phase, from runs of equal phase per customer over
consecutive snapshots: a run ends when the customer is seen in another phase at
the next snapshot (completed; it lasted from the first date of the run to that
next date). A run still going at the last date, or whose customer is missing
from the next snapshot (or has no phase there), is censored: its time so far
(first to last date of the run) is a lower bound, reported apart. Runs already
going at the first date are counted too (``left_censored``: their start is
before the range, so their time is a lower bound as well).

Everything heavy is plain SQL (GROUP BY, CASE, window functions) that runs the
same on DuckDB, PostgreSQL and Spark; only small aggregates reach Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from clientlens.engines.base import Engine
from clientlens.engines.query import col, lit, parse
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.services.analytics.matrices import NONE, PHASES, PROFILES, snapshot_dates

LOYAL_GRADES = ("A", "B")
ROW_FIELDS = ("kpi", "date_from", "date_to", "by", "group", "value", "count", "base")


@dataclass(frozen=True)
class DateKpi:
    as_of: dt.date
    customers: int
    loyal: int | None  # loyalty_grade A or B; None without a loyalty_grade column

    @property
    def loyal_share(self) -> float | None:
        if self.loyal is None or not self.customers:
            return None
        return self.loyal / self.customers


@dataclass(frozen=True)
class Retention:
    """Between two consecutive snapshots, for one group (``by`` all, segment or phase,
    the group's value at ``date_from``)."""

    date_from: dt.date
    date_to: dt.date
    by: str
    group: str
    base: int  # with open products at date_from
    retained: int

    @property
    def churned(self) -> int:
        return self.base - self.retained

    @property
    def retention_rate(self) -> float | None:
        return self.retained / self.base if self.base else None

    @property
    def churn_rate(self) -> float | None:
        return self.churned / self.base if self.base else None


@dataclass(frozen=True)
class PhaseDuration:
    """Days spent in a phase: completed runs, and censored ones (time so far)."""

    phase: str
    completed: int
    completed_mean_days: float | None
    completed_median_days: float | None
    censored: int
    censored_mean_days: float | None
    censored_median_days: float | None
    left_censored: int  # runs already going at the first date (of either kind)


@dataclass(frozen=True)
class Kpis:
    dates: list[dt.date]
    per_date: list[DateKpi]
    retention: list[Retention]
    durations: list[PhaseDuration]
    notes: list[str] = field(default_factory=list)

    def retention_for(self, by: str = "all", group: str = "all") -> list[Retention]:
        return [r for r in self.retention if r.by == by and r.group == group]

    def to_rows(self) -> list[dict[str, Any]]:
        """Tidy rows for CSV and JSON: one number per row, keys ``ROW_FIELDS``.

        ``kpi`` is customers, loyal_share (count: loyal customers, base: customers),
        retention_rate / churn_rate (count: retained / churned, base: customers with
        open products at date_from), or phase_days_{completed,censored}_{mean,median}
        (count: runs). Dates are ISO strings; a missing number is None.
        """
        out: list[dict[str, Any]] = []

        def row(kpi: str, d1: dt.date, d2: dt.date, by: str, group: str, value: Any,
                count: int | None = None, base: int | None = None) -> None:
            out.append({"kpi": kpi, "date_from": d1.isoformat(), "date_to": d2.isoformat(),
                        "by": by, "group": group, "value": value, "count": count,
                        "base": base})

        for d in self.per_date:
            row("customers", d.as_of, d.as_of, "all", "all", d.customers, d.customers)
            if d.loyal is not None:
                row("loyal_share", d.as_of, d.as_of, "all", "all", d.loyal_share, d.loyal,
                    d.customers)
        for r in self.retention:
            row("retention_rate", r.date_from, r.date_to, r.by, r.group, r.retention_rate,
                r.retained, r.base)
            row("churn_rate", r.date_from, r.date_to, r.by, r.group, r.churn_rate,
                r.churned, r.base)
        if self.dates:
            first, last = self.dates[0], self.dates[-1]
            for p in self.durations:
                for kind, n, mean, median in (
                        ("completed", p.completed, p.completed_mean_days,
                         p.completed_median_days),
                        ("censored", p.censored, p.censored_mean_days,
                         p.censored_median_days)):
                    row(f"phase_days_{kind}_mean", first, last, "phase", p.phase, mean, n)
                    row(f"phase_days_{kind}_median", first, last, "phase", p.phase, median, n)
        return out


def kpis(engine: Engine, date_from: dt.date | None = None, date_to: dt.date | None = None
         ) -> Kpis:
    """KPIs over the snapshots from ``date_from`` to ``date_to`` (default: all)."""
    every = snapshot_dates(engine)
    if not every:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    if date_from and date_to and date_from > date_to:
        raise ClientlensError(f"--from {date_from} is after --to {date_to}")
    dates = [d for d in every if (date_from is None or d >= date_from)
             and (date_to is None or d <= date_to)]
    if not dates:
        raise NotFoundError(f"no profiles from {date_from or 'the start'} to "
                            f"{date_to or 'the end'}; {len(every)} date"
                            f"{'s' if len(every) != 1 else ''} run, from {every[0]} to "
                            f"{every[-1]}")
    columns = set(engine.table_columns(PROFILES) or [])
    notes = []
    for needed, what in (("loyalty_grade", "loyal share"),
                         ("open_products", "retention and churn"),
                         ("segment", "retention by segment"),
                         ("phase", "retention by phase and time in phase")):
        if needed not in columns:
            notes.append(f"no {needed} column in the profiles: no {what}")
    bounds = [dates[0], dates[-1]]
    return Kpis(dates=dates,
                per_date=_per_date(engine, bounds, "loyalty_grade" in columns),
                retention=_retention(engine, dates, columns) if "open_products" in columns
                else [],
                durations=_durations(engine, dates) if "phase" in columns else [],
                notes=notes)


# The snapshot dates from $first to $last, numbered k = 1, 2, ... in order.
_DATES = ("select as_of, row_number() over (order by as_of) as k from "
          "(select distinct as_of from profiles where as_of >= $first and as_of <= $last) x")


def _per_date(engine: Engine, bounds: list[dt.date], has_loyalty: bool) -> list[DateKpi]:
    loyal: exp.Expression = exp.Sum(this=exp.case().when(
        exp.column("loyalty_grade").isin(*(lit(g) for g in LOYAL_GRADES)), lit(1)
    ).else_(lit(0))) if has_loyalty else lit(0)
    query = parse("select as_of, count(*) from profiles where as_of >= $first "
                  "and as_of <= $last group by as_of order by as_of").select(loyal)
    rows = engine.fetch_all(query, {"first": bounds[0], "last": bounds[1]})
    return [DateKpi(_day(d), int(n), int(loyal_n or 0) if has_loyalty else None)
            for d, n, loyal_n in rows]


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _retention(engine: Engine, dates: list[dt.date], columns: set[str]) -> list[Retention]:
    if len(dates) < 2:
        return []
    groups = [c for c in ("segment", "phase") if c in columns]
    # ``groups`` are constants of the code; their columns are still quoted nodes. The
    # f-strings here splice only constants of this module (_DATES, the window).
    query = parse(f"""
        with d as ({_DATES}),
        a as (select p.customer_id, d.k, p.open_products
              from profiles p join d on p.as_of = d.as_of)
        select a1.k, count(*) as base,
            sum(case when a2.open_products > 0 then 1 else 0 end) as retained
        from a a1 left join a a2 on a2.customer_id = a1.customer_id and a2.k = a1.k + 1
        where a1.open_products > 0 and a1.k < $dates
        group by a1.k""")
    # The group columns go after the customer's in ``a``, after k in the select and the
    # group by (the loop below reads them between k and the counts).
    a = next(cte for cte in query.find_all(exp.CTE) if cte.alias == "a")
    a.this.select(*(col(c, "p") for c in groups), copy=False)
    keys = [col(c, "a1") for c in groups]
    query.set("expressions", [query.expressions[0], *keys, *query.expressions[1:]])
    query = query.group_by(*(k.copy() for k in keys))
    rows = engine.fetch_all(query, {"first": dates[0], "last": dates[-1],
                                    "dates": len(dates)})
    totals: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        k, values, base, retained = int(row[0]), row[1:-2], int(row[-2]), int(row[-1] or 0)
        for key in [("all", "all"), *((c, NONE if v is None else str(v))
                                      for c, v in zip(groups, values, strict=True))]:
            cell = totals[(k, *key)]
            cell[0] += base
            cell[1] += retained
    # Every transition gets an overall row, even when nobody held products at t1.
    for k in range(1, len(dates)):
        totals.setdefault((k, "all", "all"), [0, 0])
    by_rank = {"all": 0, "segment": 1, "phase": 2}
    phase_rank = {p: i for i, p in enumerate(PHASES)}
    out = [Retention(dates[k - 1], dates[k], by, group, base, retained)
           for (k, by, group), (base, retained) in totals.items()]
    out.sort(key=lambda r: (r.date_from, by_rank[r.by],
                            phase_rank.get(r.group, len(phase_rank)) if r.by == "phase" else 0,
                            r.group == NONE, r.group))
    return out


def _durations(engine: Engine, dates: list[dt.date]) -> list[PhaseDuration]:
    over = "over (partition by customer_id order by k)"
    rows = engine.fetch_all(parse(f"""
        with d as ({_DATES}),
        p as (select p.customer_id, d.k, p.phase from profiles p
              join d on p.as_of = d.as_of where p.phase is not null),
        m as (select customer_id, k, phase,
                  case when lag(k) {over} = k - 1 and lag(phase) {over} = phase
                      then 0 else 1 end as starts
              from p),
        r as (select customer_id, k, phase,
                  sum(starts) over (partition by customer_id order by k
                                    rows between unbounded preceding and current row) as run
              from m),
        runs as (select customer_id, run, phase, min(k) as first_k, max(k) as last_k
                 from r group by customer_id, run, phase)
        select runs.phase, runs.first_k, runs.last_k,
            case when n.customer_id is null then 0 else 1 end as ended, count(*) as runs
        from runs left join p n on n.customer_id = runs.customer_id and n.k = runs.last_k + 1
        group by runs.phase, runs.first_k, runs.last_k,
            case when n.customer_id is null then 0 else 1 end"""),
        {"first": dates[0], "last": dates[-1]})
    done: dict[str, list[tuple[int, int]]] = defaultdict(list)
    open_: dict[str, list[tuple[int, int]]] = defaultdict(list)
    left: dict[str, int] = defaultdict(int)
    for phase, first_k, last_k, ended, n in rows:
        first_k, last_k, n = int(first_k), int(last_k), int(n)
        start = dates[first_k - 1]
        if ended:  # seen in another phase at the next snapshot (k = last_k + 1)
            done[phase].append(((dates[last_k] - start).days, n))
        else:
            open_[phase].append(((dates[last_k - 1] - start).days, n))
        if first_k == 1:
            left[phase] += n
    rank = {p: i for i, p in enumerate(PHASES)}
    out = []
    for phase in sorted(set(done) | set(open_), key=lambda p: (rank.get(p, len(rank)), p)):
        c_mean, c_median = _mean_median(done[phase])
        o_mean, o_median = _mean_median(open_[phase])
        out.append(PhaseDuration(
            phase=phase, completed=sum(n for _, n in done[phase]), completed_mean_days=c_mean,
            completed_median_days=c_median, censored=sum(n for _, n in open_[phase]),
            censored_mean_days=o_mean, censored_median_days=o_median,
            left_censored=left[phase]))
    return out


def _mean_median(counted: Iterable[tuple[int, int]]) -> tuple[float | None, float | None]:
    """Mean and median of values given as (value, how many times)."""
    pairs = sorted((v, n) for v, n in counted if n > 0)
    total = sum(n for _, n in pairs)
    if not total:
        return None, None
    mean = sum(v * n for v, n in pairs) / total

    def nth(i: int) -> int:  # the i-th value (0-based) in sorted order
        seen = 0
        for v, n in pairs:
            seen += n
            if i < seen:
                return v
        raise IndexError(i)

    middle = total // 2
    median = float(nth(middle)) if total % 2 else (nth(middle - 1) + nth(middle)) / 2
    return mean, median
