"""Decisions on top of the terms: segment, need, ratings, phase, offers and entitlements.

Each stage is one step of the compiled query, over the step before it:

    decide_segment  segment (first matching rule)
    decide_need     need (first matching need rule; may use the segment)
    decide_points   every rating factor's points, and whether each rating's
                    requirement holds
    decide_score    each rating's score (base + points, held in its scale) and
                    the rank of every factor by how far it moved the score
    decide_grade    grades and the top three reasons
    decide_phase    relationship phase (first matching phase rule; may use the
                    segment, need, scores and grades)
    decide_offer    next-best product with its reason, sales lead and owning
                    department, one flag per service the customer qualifies for

Only CASE, comparisons, arithmetic, GREATEST/LEAST and string literals are
used, so every engine computes the same values. Reason texts are literals made
here ("balance_total +15"), never numbers formatted by an engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from sqlglot import exp

from clientlens.compiler.render import literal, render
from clientlens.definitions.expressions import Expr, Symbol
from clientlens.definitions.ratings import Factor, Rating
from clientlens.definitions.rulebook import Definitions, Rule

POINTS_TYPE = exp.DataType.build("DECIMAL(9, 2)")
SCORE_TYPE = exp.DataType.build("DECIMAL(38, 2)")
OFFER_COLUMNS = ("next_best_product", "next_best_reason", "lead_product", "lead_department")


def decision_columns(defs: Definitions) -> list[str]:
    """Profile columns the decisions add after ``segment``, in order."""
    cols: list[str] = []
    if defs.needs or defs.need_default:
        cols.append("need")
    for rating in defs.ratings:
        cols += rating.columns()
    if defs.phase_default is not None:
        cols.append("phase")
    if defs.products:
        cols += OFFER_COLUMNS
    cols += [s.column for s in defs.services]
    return cols


def add_decisions(defs: Definitions, previous: str, as_of: dt.date,
                  constant: Callable[[str, dict[str, Symbol], dt.date], exp.Expression | None],
                  note: Callable[[Expr], None]) -> tuple[list[tuple[str, exp.Select]], str]:
    """The decision steps after ``previous``; returns (steps, name of the last step)."""

    def renderer(stage: str) -> Callable[[Expr], exp.Expression]:
        symbols = defs.decision_symbols(stage)

        def resolve(name: str) -> exp.Expression:
            return constant(name, symbols, as_of) or exp.column(name)

        def rendered(e: Expr) -> exp.Expression:
            note(e)
            return render(e.tree, resolve=resolve, symbols=symbols, as_of=as_of)
        return rendered

    steps: list[tuple[str, exp.Select]] = []

    def step(name: str, columns: list[tuple[str, exp.Expression]]) -> None:
        nonlocal previous
        select = exp.select(exp.Star()).from_(previous)
        for col, value in columns:
            select = select.select(exp.alias_(value, col), copy=False)
        steps.append((name, select))
        previous = name

    base = renderer("segment")
    step("decide_segment", [("segment", first_match(defs.rules, defs.default, base))])
    if defs.need_default is not None:
        need = renderer("need")
        step("decide_need", [("need", first_match(defs.needs, defs.need_default, need))])
    if defs.ratings:
        for name, columns in zip(("decide_points", "decide_score", "decide_grade"),
                                 rating_stages(defs.ratings, renderer("rating")), strict=True):
            step(name, columns)
    if defs.phase_default is not None:
        phase = renderer("phase")
        step("decide_phase", [("phase", first_match(defs.phases, defs.phase_default, phase))])
    offers: list[tuple[str, exp.Expression]] = []
    offer_r = renderer("offer")
    if defs.products:
        offers += _offers(defs, offer_r)
    for svc in defs.services:
        offers.append((svc.column, _is_true(exp.and_(*[offer_r(c) for c in svc.granted_when]))))
    if offers:
        step("decide_offer", offers)
    return steps, previous


def rating_stages(ratings: tuple[Rating, ...], rendered: Callable[[Expr], exp.Expression]
                  ) -> list[list[tuple[str, exp.Expression]]]:
    """Columns of the three rating steps: factor points, scores and ranks, grades and
    reasons. Each step reads the columns of the one before."""
    points: list[tuple[str, exp.Expression]] = []
    scores: list[tuple[str, exp.Expression]] = []
    grades: list[tuple[str, exp.Expression]] = []
    for rating in ratings:
        for i, factor in enumerate(rating.factors):
            points.append((_p(rating, i), exp.Cast(this=_points(factor, rendered),
                                                   to=POINTS_TYPE)))
        if rating.requires is not None:
            points.append((_ok(rating), _is_true(rendered(rating.requires.condition))))
        scores.append((f"{rating.id}_score", _score(rating)))
        for i in range(len(rating.factors)):
            scores.append((_rank(rating, i), _rank_expr(rating, i)))
        grades.append((f"{rating.id}_grade", _grade(rating)))
        for k in (1, 2, 3):
            grades.append((f"{rating.id}_reason_{k}", _reason(rating, k)))
    return [points, scores, grades]


def rating_query(ratings: tuple[Rating, ...], source: str,
                 rendered: Callable[[Expr], exp.Expression]) -> exp.Select:
    """Ratings over any table whose columns are the factors' terms (e.g. a labelled
    training table): ``SELECT *, <rating columns> FROM source``."""
    query: exp.Select = exp.select(exp.Star()).from_(source)
    for n, columns in enumerate(rating_stages(ratings, rendered)):
        step = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=query), f"s{n}"))
        for col, value in columns:
            step = step.select(exp.alias_(value, col), copy=False)
        query = step
    return query


def first_match(rules: tuple[Rule, ...], default: Rule,
                rendered: Callable[[Expr], exp.Expression]) -> exp.Expression:
    case = exp.Case()
    for rule in rules:
        case = case.when(exp.and_(*[rendered(c) for c in rule.conditions]),
                         exp.Literal.string(rule.id))
    return case.else_(exp.Literal.string(default.id)) if rules else \
        exp.Literal.string(default.id)


def _is_true(cond: exp.Expression) -> exp.Expression:
    """A condition as a definite true/false: unknown (NULL) counts as false."""
    return exp.Coalesce(this=exp.Paren(this=cond), expressions=[exp.false()])


def _p(rating: Rating, i: int) -> str:
    return f"_p_{rating.id}_{i}"


def _ok(rating: Rating) -> str:
    return f"_ok_{rating.id}"


def _rank(rating: Rating, i: int) -> str:
    return f"_rank_{rating.id}_{i}"


def _num(d: Decimal) -> exp.Expression:
    return literal(d)


def _points(factor: Factor, rendered: Callable[[Expr], exp.Expression]) -> exp.Expression:
    case = exp.Case()
    if factor.kind == "cases":
        for b in factor.bins:
            assert b.condition is not None
            case = case.when(rendered(b.condition), _num(b.points))
        return case.else_(_num(factor.other))
    x = exp.column(factor.name)
    case = case.when(exp.Is(this=x.copy(), expression=exp.Null()), _num(factor.missing))
    if factor.kind == "categorical":
        for b in factor.bins:
            case = case.when(x.copy().isin(*[exp.Literal.string(v) for v in b.values]),
                             _num(b.points))
        return case.else_(_num(factor.other))
    for b in factor.bins:
        if b.below is None:
            return case.else_(_num(b.points))
        case = case.when(exp.LT(this=x.copy(), expression=_num(b.below)), _num(b.points))
    return case  # pragma: no cover - the loader requires a last bin


def _score(rating: Rating) -> exp.Expression:
    total: exp.Expression = _num(rating.base)
    for i in range(len(rating.factors)):
        total = exp.Add(this=total, expression=exp.column(_p(rating, i)))
    lo, hi = rating.scale
    clipped = exp.Greatest(this=_num(lo), expressions=[
        exp.Least(this=exp.Paren(this=total), expressions=[_num(hi)])])
    score = exp.Cast(this=clipped, to=SCORE_TYPE)
    if rating.requires is None:
        return score
    return exp.Case().when(exp.column(_ok(rating)), score).else_(exp.Null())


def _distance(rating: Rating, i: int) -> exp.Expression:
    factor = rating.factors[i]
    return exp.Abs(this=exp.Sub(this=exp.column(_p(rating, i)), expression=_num(factor.neutral)))


def _rank_expr(rating: Rating, i: int) -> exp.Expression:
    """How many factors moved the score further than factor ``i`` (ties: list order)."""
    total: exp.Expression = exp.Literal.number(0)
    for j in range(len(rating.factors)):
        if j == i:
            continue
        beats = exp.GT(this=_distance(rating, j), expression=_distance(rating, i))
        if j < i:
            beats = exp.or_(beats, exp.EQ(this=_distance(rating, j),
                                          expression=_distance(rating, i)))
        total = exp.Add(this=total, expression=exp.Case().when(
            beats, exp.Literal.number(1)).else_(exp.Literal.number(0)))
    return total


def _grade(rating: Rating) -> exp.Expression:
    score = exp.column(f"{rating.id}_score")
    case = exp.Case().when(exp.Is(this=score.copy(), expression=exp.Null()),
                           exp.Literal.string("insufficient data"))
    for g in rating.grades[:-1]:
        case = case.when(exp.GTE(this=score.copy(), expression=_num(g.minimum)),
                         exp.Literal.string(g.grade))
    return case.else_(exp.Literal.string(rating.grades[-1].grade))


def _reason(rating: Rating, k: int) -> exp.Expression:
    case = exp.Case()
    if rating.requires is not None:
        case = case.when(exp.Not(this=exp.column(_ok(rating))),
                         exp.Literal.string(rating.requires.otherwise) if k == 1
                         else exp.Null())
    for i, factor in enumerate(rating.factors):
        texts = {}
        for pts in factor.all_points():
            text = factor.reason(pts)
            if text is not None:
                texts[pts] = text
        if not texts:
            continue
        by_points = exp.Case()
        for pts, text in texts.items():
            by_points = by_points.when(
                exp.EQ(this=exp.column(_p(rating, i)), expression=_num(pts)),
                exp.Literal.string(text))
        case = case.when(
            exp.and_(exp.EQ(this=exp.column(_rank(rating, i)),
                            expression=exp.Literal.number(k - 1)),
                     exp.NEQ(this=exp.column(_p(rating, i)), expression=_num(factor.neutral))),
            by_points)
    return case.else_(exp.Null()) if case.args.get("ifs") else exp.Null()


def product_reason(product_id: str, need: str, label: str) -> str:
    return f"{label} serves the customer's need '{need}', is open to them and not held yet"


def _offers(defs: Definitions, rendered: Callable[[Expr], exp.Expression]
            ) -> list[tuple[str, exp.Expression]]:
    best = exp.Case()
    reason = exp.Case()
    lead = exp.Case()
    department = exp.Case()
    for product in defs.products:
        eligible = [rendered(c) for c in product.eligible]
        not_held = exp.Not(this=exp.column(product.holds_term))
        for need in product.needs:
            cond = exp.and_(exp.EQ(this=exp.column("need"), expression=exp.Literal.string(need)),
                            not_held.copy(), *[e.copy() for e in eligible])
            best = best.when(cond.copy(), exp.Literal.string(product.id))
            reason = reason.when(cond, exp.Literal.string(
                product_reason(product.id, need, product.labels.en)))
        if product.lead:
            cond = exp.and_(not_held.copy(), *[e.copy() for e in eligible],
                            *[rendered(c) for c in product.lead])
            lead = lead.when(cond.copy(), exp.Literal.string(product.id))
            department = department.when(cond, exp.Literal.string(product.department))
    out = []
    for name, case in (("next_best_product", best), ("next_best_reason", reason),
                       ("lead_product", lead), ("lead_department", department)):
        out.append((name, case.else_(exp.Null()) if case.args.get("ifs") else
                    exp.Cast(this=exp.Null(), to=exp.DataType.build("VARCHAR"))))
    return out
