"""Ratings: points tables over glossary terms, each on a 0-100 scale with a grade.

A rating is a list of factors. Each factor gives points from one of:

- numeric ``bins`` of a term: ``{below: 6.5, points: 30}`` for ``x < 6.5``, the
  last bin (no ``below``) for everything else; ``missing`` for an empty value;
- categorical ``bins`` of a text term: ``{values: [a, b], points: 10}``;
  ``other`` for a value in no bin, ``missing`` for an empty one;
- ``cases``: conditions over terms, the segment and the need, first true wins,
  ``else`` when none holds.

The score is ``base`` plus every factor's points, held inside ``scale``. The
grade is the first grade whose ``from`` the score reaches. Reasons are the three
factors whose points lie furthest from their ``neutral`` value (by default the
middle of the factor's lowest and highest points): "which terms pushed the
rating up or down, and by how much". A rating with ``requires`` is
"insufficient data" for a customer who does not meet it.

Trained scorecards (``clientlens train-scorecard``) are written in this same
form, one rating per file in the rulebook's ``scorecards/`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from clientlens.definitions.common import Collector, Labels, check_id, read_labels, read_text
from clientlens.definitions.expressions import NUMERIC, Expr, Symbol, T, parse
from clientlens.definitions.yamlsrc import Located
from clientlens.model.errors import ExpressionError, did_you_mean

INSUFFICIENT = "insufficient data"
SCALE = (Decimal(0), Decimal(100))
RATING_COLUMNS = ("score", "grade", "reason_1", "reason_2", "reason_3")


@dataclass(frozen=True)
class Bin:
    points: Decimal
    below: Decimal | None = None  # numeric: value < below; None for the last bin
    values: tuple[str, ...] = ()  # categorical
    condition: Expr | None = None  # cases

    def label(self) -> str:
        if self.condition is not None:
            return self.condition.text
        if self.values:
            return ", ".join(self.values)
        return f"< {_num(self.below)}" if self.below is not None else "the rest"


@dataclass(frozen=True)
class Factor:
    name: str  # the term, or the id of a cases factor
    kind: str  # "numeric", "categorical", "cases"
    bins: tuple[Bin, ...]
    missing: Decimal  # points for an empty value (numeric and categorical)
    other: Decimal  # points for no matching bin (categorical) or no case (cases)
    neutral: Decimal
    description: str = ""

    @property
    def term(self) -> str | None:
        return None if self.kind == "cases" else self.name

    def all_points(self) -> list[Decimal]:
        return [b.points for b in self.bins] + [self.missing, self.other]

    def deviation(self, points: Decimal) -> Decimal:
        return points - self.neutral

    def reason(self, points: Decimal) -> str | None:
        """The reason text a customer with these points gets from this factor."""
        d = self.deviation(points)
        if d == 0:
            return None
        return f"{self.name} {'+' if d > 0 else '-'}{_num(abs(d))}"


@dataclass(frozen=True)
class Requirement:
    condition: Expr
    otherwise: str  # why the rating cannot be given


@dataclass(frozen=True)
class Grade:
    grade: str
    minimum: Decimal


@dataclass(frozen=True)
class Rating:
    id: str
    labels: Labels
    description: str
    base: Decimal
    scale: tuple[Decimal, Decimal]
    grades: tuple[Grade, ...]  # highest first
    factors: tuple[Factor, ...]
    requires: Requirement | None
    file: str
    line: int

    def columns(self) -> list[str]:
        return [f"{self.id}_{c}" for c in RATING_COLUMNS]

    def grade_of(self, score: Decimal | None) -> str:
        if score is None:
            return INSUFFICIENT
        for g in self.grades:
            if score >= g.minimum:
                return g.grade
        return self.grades[-1].grade

    def points_range(self) -> tuple[Decimal, Decimal]:
        low = self.base + sum((min(f.all_points()) for f in self.factors), Decimal(0))
        high = self.base + sum((max(f.all_points()) for f in self.factors), Decimal(0))
        return low, high


def rating_symbols(ratings: tuple[Rating, ...] | list[Rating]) -> dict[str, Symbol]:
    """Names that products and services may use: each rating's score and grade."""
    out: dict[str, Symbol] = {}
    for r in ratings:
        out[f"{r.id}_score"] = Symbol(f"{r.id}_score", T.DECIMAL, "decision")
        out[f"{r.id}_grade"] = Symbol(f"{r.id}_grade", T.TEXT, "decision")
    return out


def read_rating(node: Any, symbols: dict[str, Symbol], out: Collector,
                parent: Located) -> Rating | None:
    if not isinstance(node, Located):
        out.add("each rating must be a mapping with id, labels, description, grades, factors",
                parent, "ratings")
        return None
    # _rank_<id>_<factor>, with room for 999 factors (compiler/decisions.py)
    rid = check_id(node, "rating", out, longest="_rank_{id}_999")
    if rid is None:
        return None
    what = f"rating {rid}"
    allowed = {"id", "labels", "description", "base", "scale", "grades", "factors", "requires"}
    for key in node:
        if key not in allowed:
            out.add(f"{what}: unknown key '{key}' (known: {', '.join(sorted(allowed))})",
                    node, key)
    labels = read_labels(node, what, out)
    description = read_text(node, "description", what, out)
    base = _points(node.get("base", 0), f"{what}: base", out, node, "base")
    scale = SCALE
    if "scale" in node:
        raw = node["scale"]
        if not (isinstance(raw, list) and len(raw) == 2):
            out.add(f"{what}: scale must be [lowest, highest]", node, "scale")
        else:
            lo = _points(raw[0], f"{what}: scale", out, node, "scale")
            hi = _points(raw[1], f"{what}: scale", out, node, "scale")
            if lo >= hi:
                out.add(f"{what}: scale lowest must be below highest", node, "scale")
            scale = (lo, hi)
    grades = _read_grades(node, what, scale, out)
    factors: list[Factor] = []
    raw_factors = node.get("factors")
    if not isinstance(raw_factors, list) or not raw_factors:
        out.add(f"{what} needs a non-empty 'factors' list", node, "factors")
        raw_factors = []
    seen: set[str] = set()
    for fnode in raw_factors:
        factor = _read_factor(fnode, what, symbols, out, node)
        if factor is None:
            continue
        if factor.name in seen:
            out.add(f"{what}: factor '{factor.name}' appears twice", fnode)
        seen.add(factor.name)
        factors.append(factor)
    requires = None
    if "requires" in node:
        raw = node["requires"]
        if not isinstance(raw, Located) or "when" not in raw or "otherwise" not in raw:
            out.add(f"{what}: requires needs 'when' (a condition) and 'otherwise' (why the "
                    "rating cannot be given)", node, "requires")
        else:
            try:
                cond = parse(str(raw["when"]), symbols, expect=T.BOOLEAN)
                requires = Requirement(cond, read_text(raw, "otherwise", what, out))
            except ExpressionError as e:
                out.add(f"{what}: requires: {e}", raw, "when")
    return Rating(id=rid, labels=labels, description=description, base=base, scale=scale,
                  grades=grades, factors=tuple(factors), requires=requires, file=node.file,
                  line=node.line)


def _read_grades(node: Located, what: str, scale: tuple[Decimal, Decimal], out: Collector
                 ) -> tuple[Grade, ...]:
    raw = node.get("grades")
    if not isinstance(raw, list) or not raw:
        out.add(f"{what} needs 'grades': a list of {{grade: A, from: 80}}, highest first",
                node, "grades")
        return (Grade("-", scale[0]),)
    grades: list[Grade] = []
    for g in raw:
        if not isinstance(g, Located) or not isinstance(g.get("grade"), str) or "from" not in g:
            out.add(f"{what}: each grade needs 'grade' (text) and 'from' (a score)", node,
                    "grades")
            continue
        grades.append(Grade(g["grade"], _points(g["from"], f"{what}: grade {g['grade']}",
                                                out, g, "from")))
    for a, b in zip(grades, grades[1:], strict=False):
        if b.minimum >= a.minimum:
            out.add(f"{what}: grades must be listed highest first ('{b.grade}' from "
                    f"{_num(b.minimum)} is not below '{a.grade}' from {_num(a.minimum)})",
                    node, "grades")
    if grades and grades[-1].minimum > scale[0]:
        out.add(f"{what}: the lowest grade must start at the scale's lowest score "
                f"{_num(scale[0])}, or some scores would have no grade", node, "grades")
    names = [g.grade for g in grades]
    if len(set(names)) != len(names) or INSUFFICIENT in names:
        out.add(f"{what}: grade names must be distinct and not '{INSUFFICIENT}'", node,
                "grades")
    return tuple(grades) or (Grade("-", scale[0]),)


def _read_factor(node: Any, what: str, symbols: dict[str, Symbol], out: Collector,
                 parent: Located) -> Factor | None:
    if not isinstance(node, Located):
        out.add(f"{what}: each factor must be a mapping with 'term' and 'bins', or 'id' and "
                "'cases'", parent, "factors")
        return None
    allowed = {"term", "id", "bins", "cases", "missing", "other", "else", "neutral",
               "description"}
    for key in node:
        if key not in allowed:
            out.add(f"{what}: factor has unknown key '{key}'", node, key)
    if ("term" in node) == ("id" in node):
        out.add(f"{what}: a factor has either 'term' (with bins) or 'id' (with cases)", node)
        return None
    description = str(node.get("description") or "")
    if "id" in node:
        fid = node["id"]
        fwhat = f"{what}, factor {fid}"
        if not isinstance(node.get("cases"), list) or not node["cases"]:
            out.add(f"{fwhat} needs 'cases': a list of {{when: condition, points: n}}", node,
                    "cases")
            return None
        bins = []
        for c in node["cases"]:
            if not isinstance(c, Located) or "when" not in c or "points" not in c:
                out.add(f"{fwhat}: each case needs 'when' and 'points'", node, "cases")
                continue
            try:
                cond = parse(str(c["when"]), symbols, expect=T.BOOLEAN)
            except ExpressionError as e:
                out.add(f"{fwhat}: {e}", c, "when")
                continue
            bins.append(Bin(_points(c["points"], fwhat, out, c, "points"), condition=cond))
        other = _points(node.get("else", 0), fwhat, out, node, "else")
        return _factor(str(fid), "cases", bins, Decimal(0), other, node, fwhat, out,
                       description)
    term = node["term"]
    fwhat = f"{what}, factor {term}"
    sym = symbols.get(term) if isinstance(term, str) else None
    if sym is None or sym.kind != "term":
        known = [n for n, s in symbols.items() if s.kind == "term"]
        out.add(f"{fwhat}: unknown term '{term}'.{did_you_mean(str(term), known)}", node,
                "term")
        return None
    raw_bins = node.get("bins")
    if not isinstance(raw_bins, list) or not raw_bins:
        out.add(f"{fwhat} needs 'bins': a list of {{below: x, points: n}} or "
                "{values: [..], points: n}", node, "bins")
        return None
    categorical = any(isinstance(b, Located) and "values" in b for b in raw_bins)
    if categorical and sym.type != T.TEXT:
        out.add(f"{fwhat}: bins with 'values' need a text term; {term} is {sym.type}", node,
                "bins")
        return None
    if not categorical and sym.type not in NUMERIC:
        out.add(f"{fwhat}: bins with 'below' need a numeric term; {term} is {sym.type} "
                "(use 'values' for text, or a cases factor)", node, "bins")
        return None
    bins: list[Bin] = []
    for i, b in enumerate(raw_bins):
        if not isinstance(b, Located) or "points" not in b:
            out.add(f"{fwhat}: bin {i + 1} needs 'points'", node, "bins")
            continue
        points = _points(b["points"], f"{fwhat}, bin {i + 1}", out, b, "points")
        if categorical:
            values = b.get("values")
            if not isinstance(values, list) or not values or \
                    not all(isinstance(v, str) for v in values):
                out.add(f"{fwhat}, bin {i + 1}: 'values' must be a list of texts", b, "values")
                continue
            bins.append(Bin(points, values=tuple(values)))
            continue
        last = i == len(raw_bins) - 1
        if last and "below" in b:
            out.add(f"{fwhat}: the last bin takes everything else and has no 'below'", b,
                    "below")
        if not last and "below" not in b:
            out.add(f"{fwhat}, bin {i + 1}: every bin but the last needs 'below'", b)
            continue
        below = None if last else _number(b["below"], f"{fwhat}, bin {i + 1}", out, b)
        bins.append(Bin(points, below=below))
    bounds = [b.below for b in bins if b.below is not None]
    if any(y <= x for x, y in zip(bounds, bounds[1:], strict=False)):
        out.add(f"{fwhat}: 'below' bounds must increase from bin to bin", node, "bins")
    if categorical:
        seen_values: set[str] = set()
        for b in bins:
            dup = seen_values & set(b.values)
            if dup:
                out.add(f"{fwhat}: value {sorted(dup)[0]!r} is in two bins", node, "bins")
            seen_values |= set(b.values)
    missing = _points(node.get("missing", 0), fwhat, out, node, "missing")
    other = _points(node.get("other", 0), fwhat, out, node, "other")
    if not categorical and "other" in node:
        out.add(f"{fwhat}: 'other' is for bins with 'values'", node, "other")
    return _factor(term, "categorical" if categorical else "numeric", bins, missing, other,
                   node, fwhat, out, description)


def _factor(name: str, kind: str, bins: list[Bin], missing: Decimal, other: Decimal,
            node: Located, what: str, out: Collector, description: str) -> Factor:
    if "neutral" in node:
        neutral = _points(node["neutral"], what, out, node, "neutral")
    else:
        pts = [b.points for b in bins] or [Decimal(0)]
        neutral = ((min(pts) + max(pts)) / 2).quantize(Decimal("0.01"))
    return Factor(name=name, kind=kind, bins=tuple(bins), missing=missing, other=other,
                  neutral=neutral, description=description)


def _number(value: Any, what: str, out: Collector, node: Located) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        out.add(f"{what}: 'below' must be a number (got {value!r})", node, "below")
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        out.add(f"{what}: 'below' must be a number (got {value!r})", node, "below")
        return Decimal(0)


def _points(value: Any, what: str, out: Collector, node: Located, key: str) -> Decimal:
    """Points are numbers with at most two decimals, so sums are exact on every engine."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        out.add(f"{what}: '{key}' must be a number (got {value!r})", node, key)
        return Decimal(0)
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        out.add(f"{what}: '{key}' must be a number (got {value!r})", node, key)
        return Decimal(0)
    if not d.is_finite() or d != d.quantize(Decimal("0.01")) or abs(d) >= 10**6:
        out.add(f"{what}: '{key}' must be below a million with at most two decimals "
                f"(got {value!r})", node, key)
        return Decimal(0)
    return d


def _num(d: Decimal | None) -> str:
    if d is None:
        return ""
    text = format(d.normalize(), "f")
    return text
