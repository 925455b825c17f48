"""Backtests of needs and next-best products against later product openings.

For every stored snapshot in a range whose horizon lies inside the data, the
customers holding a product with a determined need are the population. What they
opened within the horizon is read from the warehouse's accounts (an account opened
after the as-of date and by the horizon's end that the product's ``holds`` condition
describes), never from anything the rulebook computed.

- **next-best**: how often the offered product was opened, against how often a
  product picked at random among those the customer could have been offered (not
  held, eligible) was opened by the same customers: the lift of the offer over
  chance. Per product too.
- **needs**: of the customers with a need who opened a catalogue product, the share
  whose opening serves their need, against the share of all openers' openings that
  serve it: the lift of knowing the need.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from clientlens.compiler.pyeval import compile_expression
from clientlens.compiler.render import render
from clientlens.definitions.glossary import source_symbols
from clientlens.definitions.rulebook import Definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import lit, parse
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.services.profiling.segmentation import PROFILES


@dataclass
class ProductRow:
    product: str
    offered: int = 0  # customer-dates it was the next-best product
    opened_when_offered: int = 0
    eligible: int = 0  # customer-dates it could have been offered
    opened_when_eligible: int = 0


@dataclass
class NeedRow:
    need: str
    customers: int = 0
    openers: int = 0  # of them, opened at least one catalogue product
    served: int = 0  # of the openers, opened a product serving this need
    # share of every opener's openings that serve this need (the chance level)
    base_share: float | None = None


@dataclass
class OfferBacktest:
    horizon_days: int
    dates: list[dt.date] = field(default_factory=list)
    skipped: list[tuple[dt.date, str]] = field(default_factory=list)
    population: int = 0  # customer-dates with a need
    offered: int = 0  # with a next-best product
    opened_offered: int = 0
    random_expected: float = 0.0  # expected openings of a random eligible product
    products: list[ProductRow] = field(default_factory=list)
    needs: list[NeedRow] = field(default_factory=list)

    @property
    def offer_rate(self) -> float | None:
        return self.opened_offered / self.offered if self.offered else None

    @property
    def random_rate(self) -> float | None:
        return self.random_expected / self.offered if self.offered else None

    @property
    def lift(self) -> float | None:
        a, b = self.offer_rate, self.random_rate
        return a / b if a is not None and b else None


def offers(engine: Engine, defs: Definitions, start: dt.date, end: dt.date, *,
           horizon_days: int = 90) -> OfferBacktest:
    """Needs and next-best products against the products opened within the horizon."""
    if horizon_days < 1:
        raise ClientlensError("the horizon must be at least one day")
    if end < start:
        raise ClientlensError(f"--to {end} is before --from {start}")
    if not defs.products:
        raise NotFoundError("the catalogue has no products to backtest")
    have = set(engine.table_columns(PROFILES) or [])
    if not have:
        raise NotFoundError("no profiles yet: run `clientlens backfill` over the dates first")
    symbols = defs.decision_symbols("offer")
    eligible = {p.id: [compile_expression(c.tree, symbols) for c in p.eligible]
                for p in defs.products}
    names = {"need", "next_best_product"} | {p.holds_term for p in defs.products}
    for p in defs.products:
        for c in p.eligible:
            names |= {n.name for n in c.tree.find_all(exp.Column)
                      if symbols.get(n.name) is not None
                      and symbols[n.name].kind in ("term", "decision")}
    missing = sorted(n for n in names if n not in have)
    if missing:
        raise NotFoundError(f"the stored profiles lack column '{missing[0]}': run "
                            "`clientlens backfill --force` with the current rulebook")
    undetermined = defs.need_default.id if defs.need_default else None
    stored = [r[0] for r in engine.fetch_all(parse(
        "select distinct as_of from profiles where as_of >= $start and as_of <= $end "
        "order by as_of"), {"start": start, "end": end})]
    if not stored:
        raise NotFoundError(f"no stored profiles between {start} and {end}: run "
                            f"`clientlens backfill --from {start} --to {end}` first")
    last_ts = engine.fetch_all(parse("select max(ts) from transactions"))[0][0]
    last = last_ts.date() if isinstance(last_ts, dt.datetime) else last_ts
    result = OfferBacktest(horizon_days)
    rows_by_product = {p.id: ProductRow(p.id) for p in defs.products}
    needs_of = {p.id: set(p.needs) for p in defs.products}
    need_ids = [n.id for n in defs.needs]
    by_need = {n: NeedRow(n) for n in need_ids}
    openings_by_need: dict[str, int] = defaultdict(int)
    all_openings = 0
    columns = ", ".join(f"p.{n}" for n in sorted(names))
    profile_query = parse(f"""
        select p.customer_id, {columns} from profiles p
        where p.as_of = $as_of and p.need is not null and p.need <> $undetermined
          and exists (select 1 from accounts a where a.customer_id = p.customer_id
                      and a.opened_on <= $as_of
                      and (a.closed_on is null or a.closed_on > $as_of))""")
    accounts = source_symbols("accounts", {})
    for day in stored:
        horizon_end = day + dt.timedelta(days=horizon_days)
        if last is None or horizon_end > last:
            result.skipped.append((day, f"the horizon ends {horizon_end}, after the last "
                                        f"transaction ({last})"))
            continue
        result.dates.append(day)
        opened = _openings(engine, defs, day, horizon_end, accounts)
        params: dict[str, Any] = {"as_of": day, "undetermined": undetermined or ""}
        for row in engine.fetch_arrow(profile_query, params).to_pylist():
            result.population += 1
            values = dict(row)
            values["as_of"] = day
            got = opened.get(row["customer_id"], set())
            could = [p.id for p in defs.products if not row[p.holds_term]
                     and all(fn(values) is True for fn in eligible[p.id])]
            for pid in could:
                rows_by_product[pid].eligible += 1
                rows_by_product[pid].opened_when_eligible += pid in got
            offer = row["next_best_product"]
            if offer is not None:
                result.offered += 1
                result.opened_offered += offer in got
                rows_by_product[offer].offered += 1
                rows_by_product[offer].opened_when_offered += offer in got
                if could:
                    result.random_expected += sum(pid in got for pid in could) / len(could)
            need = row["need"]
            if need in by_need:
                by_need[need].customers += 1
                if got:
                    by_need[need].openers += 1
                    by_need[need].served += any(need in needs_of[p] for p in got)
                    for p in got:
                        all_openings += 1
                        for n in needs_of[p]:
                            openings_by_need[n] += 1
    if not result.dates:
        raise NotFoundError(f"no snapshot between {start} and {end} has its {horizon_days}-"
                            f"day horizon inside the data (last transaction {last})")
    for n, row in by_need.items():
        row.base_share = openings_by_need[n] / all_openings if all_openings else None
    result.products = list(rows_by_product.values())
    result.needs = list(by_need.values())
    return result


def _openings(engine: Engine, defs: Definitions, day: dt.date, horizon_end: dt.date,
              accounts: dict) -> dict[str, set[str]]:
    """customer -> catalogue products opened after ``day`` up to ``horizon_end``."""
    parts = []
    for p in defs.products:
        holds = render(p.holds.tree, resolve=lambda n: exp.column(n, table="a"),
                       symbols=accounts, as_of=horizon_end)
        parts.append(exp.select(exp.column("customer_id", table="a"),
                                lit(p.id).as_("product"))
                     .from_(exp.to_table("accounts").as_("a"))
                     .where(parse("a.opened_on > $day and a.opened_on <= $horizon_end"))
                     .where(holds))
    query = parts[0]
    for part in parts[1:]:
        query = exp.union(query, part, distinct=False)
    out: dict[str, set[str]] = defaultdict(set)
    for cid, pid in engine.fetch_all(query, {"day": day, "horizon_end": horizon_end}):
        out[cid].add(pid)
    return out
