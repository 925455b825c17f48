"""Backtests on the bank's own history: did the early warning call the customers who
then left or went quiet?

For every stored snapshot in a date range whose horizon lies inside the data, the
customers who held a product and had transacted in the quiet period before the
as-of date are the population. A customer *withdrew* when, by the end of the horizon,
they held no open product (left) or had made no transaction in the quiet period
before it (went dormant). Both are read from the warehouse's accounts and
transactions, never from anything the rulebook computed, so a rule cannot grade its
own homework.

Each sign of the phase's rule is measured on its own: every top-level alternative of
its condition (``a or b or ...``) and every condition counted inside one (the
``case when x then 1`` parts of "two weak signs together"), then the phase as a whole:
flagged customers, precision (share of the flagged who withdrew), recall (share of
those who withdrew who were flagged) and lift (precision over the base rate). The
signs are evaluated in-process on the stored profile columns with the rulebook's
current parameters, so a changed threshold is measured without a new run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from clientlens.compiler.pyeval import compile_expression
from clientlens.definitions.rulebook import Definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import parse
from clientlens.model.errors import ClientlensError, NotFoundError, did_you_mean
from clientlens.services.profiling.segmentation import PROFILES

OUTCOME = """
select p.customer_id, {columns},
    not exists (select 1 from accounts a where a.customer_id = p.customer_id
                and a.opened_on <= $horizon_end
                and (a.closed_on is null or a.closed_on > $horizon_end)) as left_bank,
    not exists (select 1 from transactions t where t.customer_id = p.customer_id
                and t.ts >= $quiet_after and t.ts < $horizon_next) as went_quiet
from profiles p
where p.as_of = $as_of
  and exists (select 1 from accounts a where a.customer_id = p.customer_id
              and a.opened_on <= $as_of and (a.closed_on is null or a.closed_on > $as_of))
  and exists (select 1 from transactions t where t.customer_id = p.customer_id
              and t.ts >= $active_after and t.ts < $as_of_next)
"""


@dataclass
class SignalResult:
    name: str  # the condition as written
    kind: str  # "phase", "alternative" or "counted sign"
    flagged: int = 0
    hits: int = 0  # flagged customers who withdrew within the horizon

    def precision(self) -> float | None:
        return self.hits / self.flagged if self.flagged else None

    def recall(self, positives: int) -> float | None:
        return self.hits / positives if positives else None


@dataclass
class Backtest:
    phase: str
    horizon_days: int
    quiet_days: int
    dates: list[dt.date] = field(default_factory=list)
    skipped: list[tuple[dt.date, str]] = field(default_factory=list)
    population: int = 0  # customer-dates
    positives: int = 0  # of them, withdrew within the horizon
    left: int = 0
    went_quiet: int = 0
    signals: list[SignalResult] = field(default_factory=list)
    by_date: list[tuple[dt.date, int, int, int, int]] = field(default_factory=list)

    @property
    def base_rate(self) -> float | None:
        return self.positives / self.population if self.population else None

    def lift(self, signal: SignalResult) -> float | None:
        p, base = signal.precision(), self.base_rate
        return p / base if p is not None and base else None


def _signals(condition: exp.Expression) -> list[tuple[str, str, exp.Expression]]:
    """(text, kind, tree) of each alternative and each counted sign inside one."""
    node = condition.unnest() if isinstance(condition, exp.Paren) else condition
    parts: list[exp.Expression] = []

    def split(n: exp.Expression) -> None:
        n = n.unnest() if isinstance(n, exp.Paren) else n
        if isinstance(n, exp.Or):
            split(n.this)
            split(n.expression)
        else:
            parts.append(n)
    split(node)
    out: list[tuple[str, str, exp.Expression]] = []
    if len(parts) > 1:
        for part in parts:
            out.append((_text(part), "alternative", part))
    for part in parts:
        for case in part.find_all(exp.Case):
            for branch in case.args.get("ifs") or []:
                out.append((_text(branch.this), "counted sign", branch.this))
    return out


def _text(tree: exp.Expression) -> str:
    return " ".join(tree.sql(dialect="duckdb").replace(" AND ", " and ")
                    .replace(" OR ", " or ").split())


def early_warning(engine: Engine, defs: Definitions, start: dt.date, end: dt.date, *,
                  horizon_days: int = 90, quiet_days: int = 60,
                  phase: str = "potential_divorce") -> Backtest:
    """The phase's signs against who left or went quiet within the horizon."""
    if horizon_days < 1 or quiet_days < 1:
        raise ClientlensError("the horizon and the quiet period must be at least one day")
    if end < start:
        raise ClientlensError(f"--to {end} is before --from {start}")
    rules = {r.id: r for r in defs.phases}
    rule = rules.get(phase)
    if rule is None:
        raise NotFoundError(f"no phase rule '{phase}' in the rulebook."
                            f"{did_you_mean(phase, list(rules))} Phases with rules: "
                            f"{', '.join(rules)}")
    if not engine.table_columns(PROFILES):
        raise NotFoundError("no profiles yet: run `clientlens backfill` over the dates first")
    symbols = defs.decision_symbols("phase")
    condition = exp.and_(*(c.tree.copy() for c in rule.conditions)) \
        if len(rule.conditions) > 1 else rule.conditions[0].tree
    names = sorted({c.name for c in condition.find_all(exp.Column)
                    if symbols.get(c.name) is not None
                    and symbols[c.name].kind in ("term", "decision")})
    have = set(engine.table_columns(PROFILES) or [])
    missing = [n for n in [*names, "phase"] if n not in have]
    if missing:
        raise NotFoundError(f"the stored profiles lack column '{missing[0]}': run "
                            "`clientlens backfill --force` with the current rulebook")
    checks = [(text, kind, compile_expression(tree, symbols))
              for text, kind, tree in _signals(condition)]
    result = Backtest(phase, horizon_days, quiet_days)
    result.signals = [SignalResult(f"phase = '{phase}'", "phase")] + \
        [SignalResult(text, kind) for text, kind, _ in checks]
    stored = [r[0] for r in engine.fetch_all(parse(
        "select distinct as_of from profiles where as_of >= $start and as_of <= $end "
        "order by as_of"), {"start": start, "end": end})]
    if not stored:
        raise NotFoundError(f"no stored profiles between {start} and {end}: run "
                            f"`clientlens backfill --from {start} --to {end}` first")
    last = engine.fetch_all(parse("select max(ts) from transactions"))[0][0]
    data_end = last.date() if isinstance(last, dt.datetime) else last
    query = parse(OUTCOME.replace("{columns}", ", ".join(f"p.{n}" for n in
                                                          [*names, "phase"])))
    for day in stored:
        horizon_end = day + dt.timedelta(days=horizon_days)
        if data_end is None or horizon_end > data_end:
            result.skipped.append((day, f"the horizon ends {horizon_end}, after the last "
                                        f"transaction ({data_end})"))
            continue
        params: dict[str, Any] = {
            "as_of": day, "as_of_next": _midnight(day + dt.timedelta(days=1)),
            "active_after": _midnight(day - dt.timedelta(days=quiet_days - 1)),
            "horizon_end": horizon_end,
            "horizon_next": _midnight(horizon_end + dt.timedelta(days=1)),
            "quiet_after": _midnight(horizon_end - dt.timedelta(days=quiet_days - 1))}
        rows = engine.fetch_arrow(query, params).to_pylist()
        result.dates.append(day)
        flagged = hits = positives = 0
        for row in rows:
            withdrew = bool(row["left_bank"] or row["went_quiet"])
            result.population += 1
            result.positives += withdrew
            result.left += bool(row["left_bank"])
            result.went_quiet += bool(row["went_quiet"]) and not row["left_bank"]
            positives += withdrew
            values = dict(row)
            values["as_of"] = day
            marks = [row["phase"] == phase] + [fn(values) is True for _, _, fn in checks]
            for signal, mark in zip(result.signals, marks, strict=True):
                if mark:
                    signal.flagged += 1
                    signal.hits += withdrew
            flagged += marks[0]
            hits += marks[0] and withdrew
        result.by_date.append((day, len(rows), positives, flagged, hits))
    if not result.dates:
        raise NotFoundError(f"no snapshot between {start} and {end} has its {horizon_days}-"
                            f"day horizon inside the data (last transaction {data_end})")
    return result


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())
