"""Why is this customer in this segment? And what would move them up?

For one customer and as-of date: the rule that matched with every condition's
actual term values, and for each higher-priority rule that did not match, the
conditions that failed and what would have to change ("status: needs
balance_total >= 1,500,000; has 1,120,000").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from clientlens.compiler.customer_plan import BaseTerms
from clientlens.compiler.pydecisions import RatingResult
from clientlens.compiler.pyplan import CompiledRulebook, ConditionResult, RuleResult
from clientlens.definitions.catalogue import Service
from clientlens.definitions.rulebook import Definitions, Rule
from clientlens.engines.base import Engine
from clientlens.engines.query import col, parse
from clientlens.model.errors import NotFoundError, did_you_mean
from clientlens.services.profiling.segmentation import profile_row


@dataclass(frozen=True)
class Explanation:
    customer_id: str
    as_of: dt.date
    segment: str
    segment_rule: Rule
    rulebook_version: str
    source: str  # "stored profile" or "computed now"
    note: str | None
    rules: list[RuleResult]  # rules tried, in order, up to and including the match
    terms: dict[str, Any]
    needs: list[RuleResult] = field(default_factory=list)  # need rules tried: the evidence
    ratings: list[RatingResult] = field(default_factory=list)
    services: list[tuple[Service, bool, list[ConditionResult]]] = field(default_factory=list)
    phases: list[RuleResult] = field(default_factory=list)  # phase rules tried: the evidence
    actions: tuple = ()  # the bank's recommended actions for the customer's phase

    @property
    def need(self) -> str | None:
        return self.terms.get("need")

    @property
    def matched(self) -> RuleResult | None:
        return next((r for r in self.rules if r.matched), None)


def explain_customer(engine: Engine, defs: Definitions, customer_id: str, as_of: dt.date,
                     compiled: CompiledRulebook | None = None, *,
                     use_stored: bool = True, stored_row: dict | None = None,
                     base_terms: BaseTerms | None = None) -> Explanation:
    """Explain one customer's segment on ``as_of`` (a Python API and the CLI's backend).

    With ``use_stored=False`` the customer's terms are computed from the warehouse now
    (re-evaluation after a change), whatever the stored snapshot says. ``stored_row``:
    the stored profile row when the caller already has it (a service's cache).

    Computing now asks the engine only for the base terms (aggregates and customer
    columns, ``compiler/customer_plan.py``); expression terms, population, segment and
    decisions are evaluated in-process. ``base_terms`` keeps those queries between
    calls (a service's cache)."""
    compiled = compiled or CompiledRulebook(defs)
    row = None
    if use_stored:
        row = stored_row if stored_row is not None else profile_row(engine, customer_id, as_of)
    note = None
    source = "stored profile"
    if row is not None and row.get("rulebook_version") != defs.version:
        note = (f"the stored profile was made with rulebook {row.get('rulebook_version')}; "
                f"explained with the current rulebook {defs.version}")
        row = None
    if row is None:
        row = (base_terms or BaseTerms(defs)).fetch(engine, customer_id, as_of)
        if row is None:
            raise NotFoundError(why_missing(engine, customer_id, as_of))
        source = "computed now"
    if source == "stored profile":
        values = compiled.stored_values(row, as_of)
    else:
        values = compiled.evaluate({name: row.get(name) for name in defs.terms}, as_of)
        if not values["in_population"]:
            raise NotFoundError(why_missing(engine, customer_id, as_of))
        row = {**row, "segment": values["segment"]}
    rules = compiled.explain_rules(values)
    needs = compiled.explain_rules(values, defs.needs, stage="need") if defs.needs else []
    phases = compiled.explain_rules(values, defs.phases, stage="phase") if defs.phases else []
    ratings = [compiled.decisions.rate(r, values) for r in defs.ratings]
    services = []
    for svc in defs.services:
        conds = compiled.explain_conditions(svc.granted_when, values)
        services.append((svc, values.get(svc.column) is True, conds))
    segment = row["segment"]
    by_id = {s.id: s for s in defs.segments}
    if segment not in by_id:
        raise NotFoundError(f"segment '{segment}' of the stored profile is not in the rulebook")
    return Explanation(customer_id=customer_id, as_of=as_of, segment=segment,
                       segment_rule=by_id[segment], rulebook_version=defs.version,
                       source=source, note=note, rules=rules, terms=values, needs=needs,
                       ratings=ratings, services=services, phases=phases,
                       actions=defs.phase_actions.get(values.get("phase") or "", ()))


def customer_fields(engine: Engine, customer_id: str, columns: Sequence[str]
                    ) -> dict[str, Any] | None:
    """Columns of the customer's row in the customers table, or None for an unknown
    customer."""
    query = exp.select(*(col(c) for c in columns)).from_("customers").where(
        parse("customer_id = $customer_id"))
    rows = engine.fetch_all(query, {"customer_id": customer_id})
    return dict(zip(columns, rows[0], strict=True)) if rows else None


def why_missing(engine: Engine, customer_id: str, as_of: dt.date) -> str:
    """Why a customer has no profile on ``as_of``: unknown (with a did-you-mean),
    registered later, or outside the population."""
    rows = engine.fetch_all(parse("select registered_on, customer_type from customers "
                                  "where customer_id = $customer_id"),
                            {"customer_id": customer_id})
    if not rows:
        close = engine.fetch_all(parse(
            "select customer_id from customers "
            "order by jaro_winkler_similarity(customer_id, $customer_id) desc limit 1"),
            {"customer_id": customer_id}) if "similar_text" in engine.capabilities else []
        hint = did_you_mean(customer_id, [c[0] for c in close])
        return f"unknown customer '{customer_id}'.{hint}"
    registered_on, customer_type = rows[0]
    if registered_on is not None and registered_on > as_of:
        return f"customer '{customer_id}' registered on {registered_on}, after {as_of}"
    return (f"customer '{customer_id}' ({customer_type}) is outside the rulebook's population "
            "and has no segment")


def stored_summary(defs: Definitions, compiled: CompiledRulebook, customer_id: str,
                   as_of: dt.date, row: dict[str, Any]) -> Explanation | None:
    """A stored profile without the explanation: the decisions as the engine stored
    them (segment, need, phase, each rating's score, grade and reasons, services
    granted), no rule traces and no rating factors. What a screen needs to show a
    customer quickly; ``explain_customer`` gives the why. None when the row was made
    with other definitions than ``defs``."""
    by_id = {s.id: s for s in defs.segments}
    segment = row.get("segment")
    if segment not in by_id or row.get("rulebook_version") != defs.version:
        return None
    values = compiled.stored_values(row, as_of)
    ratings = []
    for r in defs.ratings:
        reasons = [x for k in (1, 2, 3) if (x := values.get(f"{r.id}_reason_{k}"))]
        score = values.get(f"{r.id}_score")
        ratings.append(RatingResult(r, score, values.get(f"{r.id}_grade"), reasons, [],
                                    score is not None))
    return Explanation(customer_id=customer_id, as_of=as_of, segment=segment,
                       segment_rule=by_id[segment], rulebook_version=defs.version,
                       source="stored profile", note=None, rules=[], terms=values,
                       ratings=ratings,
                       services=[(s, values.get(s.column) is True, []) for s in defs.services],
                       actions=defs.phase_actions.get(values.get("phase") or "", ()))

