"""The decision stages in Python, with the same semantics as ``compiler.decisions``.

Used to re-evaluate one customer in-process and to explain every decision:
which bin of each rating factor the customer fell in, which product rules held,
which service conditions were met. Conditions are three-valued: an empty term
makes a comparison unknown, and only a condition that is true counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clientlens.compiler.decisions import product_reason
from clientlens.compiler.pyeval import compile_expression
from clientlens.definitions.expressions import Expr
from clientlens.definitions.ratings import Bin, Factor, Rating
from clientlens.definitions.rulebook import Definitions, Rule


@dataclass(frozen=True)
class FactorResult:
    factor: Factor
    value: Any  # the term's value, None for a cases factor
    bin: str  # which bin or case applied, as staff read it
    points: Decimal
    deviation: Decimal


@dataclass(frozen=True)
class RatingResult:
    rating: Rating
    score: Decimal | None
    grade: str
    reasons: list[str]
    factors: list[FactorResult]
    requirement_met: bool


class DecisionEvaluator:
    """Needs, ratings, offers and services for one customer's values."""

    def __init__(self, defs: Definitions):
        self.defs = defs
        self._fns: dict[int, Callable[[dict[str, Any]], Any]] = {}
        # texts that depend only on the bin: made once
        self._labels: dict[tuple[int, int], str] = {}
        self._reasons: dict[tuple[int, Decimal], str | None] = {}
        stages = {"need": [c for r in defs.needs for c in r.conditions],
                  "rating": [c for r in defs.ratings for f in r.factors for b in f.bins
                             if (c := b.condition) is not None]
                  + [r.requires.condition for r in defs.ratings if r.requires],
                  "phase": [c for r in defs.phases for c in r.conditions],
                  "offer": [c for p in defs.products for c in (*p.eligible, *p.lead)]
                  + [c for s in defs.services for c in s.granted_when]}
        for stage, conditions in stages.items():
            symbols = defs.decision_symbols(stage)
            for cond in conditions:
                self._fns[id(cond)] = compile_expression(cond.tree, symbols)

    def holds(self, cond: Expr, v: dict[str, Any]) -> bool:
        return self._fns[id(cond)](v) is True

    def all_hold(self, conds: tuple[Expr, ...], v: dict[str, Any]) -> bool:
        # SQL's AND over the conditions, then unknown counts as false.
        results = [self._fns[id(c)](v) for c in conds]
        return all(r is True for r in results)

    def evaluate(self, v: dict[str, Any]) -> None:
        """Add need, ratings, offers and service flags to ``v`` (which has the segment)."""
        defs = self.defs
        if defs.need_default is not None:
            v["need"] = self.first_match(defs.needs, defs.need_default, v).id
        for rating in defs.ratings:
            result = self.rate(rating, v)
            v[f"{rating.id}_score"] = result.score
            v[f"{rating.id}_grade"] = result.grade
            for k in range(3):
                v[f"{rating.id}_reason_{k + 1}"] = result.reasons[k] \
                    if k < len(result.reasons) else None
        if defs.phase_default is not None:
            v["phase"] = self.first_match(defs.phases, defs.phase_default, v).id
        if defs.products:
            v.update(self.offers(v))
        for svc in defs.services:
            v[svc.column] = self.all_hold(svc.granted_when, v)

    def first_match(self, rules: tuple[Rule, ...], default: Rule, v: dict[str, Any]) -> Rule:
        for rule in rules:
            if self.all_hold(rule.conditions, v):
                return rule
        return default

    def rate(self, rating: Rating, v: dict[str, Any]) -> RatingResult:
        factors = [self._factor(f, v) for f in rating.factors]
        met = rating.requires is None or self.holds(rating.requires.condition, v)
        if not met:
            assert rating.requires is not None
            return RatingResult(rating, None, rating.grade_of(None),
                                [rating.requires.otherwise], factors, False)
        total = rating.base + sum((f.points for f in factors), Decimal(0))
        lo, hi = rating.scale
        score = max(lo, min(hi, total)).quantize(Decimal("0.01"))
        order = sorted(range(len(factors)),
                       key=lambda i: (-abs(factors[i].deviation), i))
        reasons = [text for i in order
                   if (text := self._reason(factors[i].factor, factors[i].points))
                   is not None][:3]
        return RatingResult(rating, score, rating.grade_of(score), reasons, factors, True)

    def _factor(self, factor: Factor, v: dict[str, Any]) -> FactorResult:
        value = None if factor.kind == "cases" else v.get(factor.name)
        chosen: Bin | None = None
        if factor.kind == "cases":
            chosen = next((b for b in factor.bins
                           if b.condition is not None and self.holds(b.condition, v)), None)
            points, label = (chosen.points, chosen.label()) if chosen else \
                (factor.other, "none of the cases")
        elif value is None:
            points, label = factor.missing, "empty"
        elif factor.kind == "categorical":
            chosen = next((b for b in factor.bins if value in b.values), None)
            points, label = (chosen.points, chosen.label()) if chosen else \
                (factor.other, "another value")
        else:
            chosen = next((b for b in factor.bins
                           if b.below is None or _lt(value, b.below)), None)
            assert chosen is not None
            points, label = chosen.points, self._numeric_label(factor, chosen)
        return FactorResult(factor, value, label, points, factor.deviation(points))

    def _reason(self, factor: Factor, points: Decimal) -> str | None:
        key = (id(factor), points)
        if key not in self._reasons:
            self._reasons[key] = factor.reason(points)
        return self._reasons[key]

    def _numeric_label(self, factor: Factor, chosen: Bin) -> str:
        key = (id(factor), id(chosen))
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = self._make_numeric_label(factor, chosen)
        return label

    @staticmethod
    def _make_numeric_label(factor: Factor, chosen: Bin) -> str:
        i = factor.bins.index(chosen)
        low = factor.bins[i - 1].below if i > 0 else None
        if chosen.below is None:
            return f">= {_n(low)}" if low is not None else "any value"
        return f"{_n(low)} to < {_n(chosen.below)}" if low is not None \
            else f"< {_n(chosen.below)}"

    def offers(self, v: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"next_best_product": None, "next_best_reason": None,
                               "lead_product": None, "lead_department": None}
        need = v.get("need")
        for product in self.defs.products:
            if v.get(product.holds_term) is True or not self.all_hold(product.eligible, v):
                continue
            if out["next_best_product"] is None and need in product.needs:
                out["next_best_product"] = product.id
                out["next_best_reason"] = product_reason(product.id, need, product.labels.en)
            if out["lead_product"] is None and product.lead and \
                    self.all_hold(product.lead, v):
                out["lead_product"] = product.id
                out["lead_department"] = product.department
        return out


def _lt(value: Any, bound: Decimal) -> bool:
    if isinstance(value, float):
        return value < float(bound)
    return Decimal(value) < bound


def _n(d: Decimal | None) -> str:
    if d is None:
        return ""
    text = format(d.normalize(), "f")
    return f"{int(text):,}" if text.lstrip("-").isdigit() else text
