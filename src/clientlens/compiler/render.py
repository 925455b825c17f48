"""Checked expressions -> dialect-neutral sqlglot trees.

Names are swapped for what they stand for (a column of an earlier step, a
parameter's literal, a derived column, the as-of date), and the language's own
functions are expanded. Semantics that differ between engines are pinned here
once, so every engine computes the same value:

- ``a / b`` is ``CAST(a AS DOUBLE) / NULLIF(b, 0)``: PostgreSQL truncates integer
  division and raises on zero, DuckDB and Spark do neither.
- ``a % b`` is ``a % NULLIF(b, 0)`` for the same reason.
- ``within_days(x, n)`` becomes a range over literals computed from the as-of
  date, so engines can prune and never cast the column row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal

from sqlglot import exp

from clientlens.definitions.expressions import Symbol, T, literal_value, type_of

Resolver = Callable[[str], exp.Expression]


def literal(value: object) -> exp.Expression:
    """A Python value as a SQL literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | Decimal | float):
        if isinstance(value, int | Decimal) and value < 0:
            return exp.Neg(this=exp.Literal.number(str(-value)))
        return exp.Literal.number(str(value))
    if isinstance(value, dt.datetime):
        return exp.Cast(this=exp.Literal.string(value.isoformat(sep=" ")),
                        to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()),
                        to=exp.DataType.build("DATE"))
    return exp.Literal.string(str(value))


def render(tree: exp.Expression, *, resolve: Resolver, symbols: Mapping[str, Symbol],
           as_of: dt.date) -> exp.Expression:
    """Render a checked tree; ``resolve`` maps a name to the SQL that stands for it."""

    def r(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return resolve(node.name)
        if isinstance(node, exp.Anonymous):
            fname = str(node.this).upper()
            first, second = node.expressions
            if fname == "DAYS_BETWEEN":
                return days_between(r(first), r(second))
            return _within_days(r(first), type_of(first, symbols),
                                _constant(second, symbols), as_of)
        if isinstance(node, exp.Div):
            return exp.Div(this=exp.Cast(this=_wrap(r(node.this)),
                                         to=exp.DataType.build("DOUBLE")),
                           expression=exp.Nullif(this=r(node.expression),
                                                 expression=exp.Literal.number(0)))
        if isinstance(node, exp.Pow):  # double precision on every engine
            return exp.Pow(this=exp.Cast(this=_wrap(r(node.this)), to=exp.DataType.build("DOUBLE")),
                           expression=exp.Cast(this=_wrap(r(node.expression)),
                                               to=exp.DataType.build("DOUBLE")))
        if isinstance(node, exp.Mod):
            return exp.Mod(this=_wrap(r(node.this)),
                           expression=exp.Nullif(this=r(node.expression),
                                                 expression=exp.Literal.number(0)))
        if isinstance(node, exp.Add | exp.Sub | exp.Mul):
            # Integer literals are 32-bit on DuckDB and PostgreSQL: 135000000 * 90
            # overflows there but not in Python. Widen them, as the terms are.
            new = node.copy()
            for key in ("this", "expression"):
                part = r(node.args[key])
                if _is_int_literal(part):
                    part = exp.Cast(this=part, to=exp.DataType.build("BIGINT"))
                new.set(key, part)
            return new
        if isinstance(node, exp.Literal | exp.Null | exp.Boolean | exp.Cast):
            return node.copy()
        new = node.copy()
        for key, value in node.args.items():
            if isinstance(value, exp.Expression):
                new.set(key, r(value))
            elif isinstance(value, list):
                new.set(key, [r(v) if isinstance(v, exp.Expression) else v for v in value])
        return new

    return r(tree)


def _is_int_literal(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren | exp.Neg):
        node = node.this
    return isinstance(node, exp.Literal) and node.is_int


def _wrap(node: exp.Expression) -> exp.Expression:
    simple = (exp.Column, exp.Literal, exp.Paren, exp.Func, exp.Null)
    return node if isinstance(node, simple) else exp.Paren(this=node)


def days_between(start: exp.Expression, end: exp.Expression) -> exp.Expression:
    """Whole calendar days from ``start`` to ``end`` (dates; timestamps are truncated)."""
    return exp.DateDiff(this=exp.Cast(this=end, to=exp.DataType.build("DATE")),
                        expression=exp.Cast(this=start, to=exp.DataType.build("DATE")),
                        unit=exp.var("DAY"))


def _constant(node: exp.Expression, symbols: Mapping[str, Symbol]) -> int:
    if isinstance(node, exp.Column):
        return int(symbols[node.name].value)  # type: ignore[arg-type]
    return int(literal_value(node))  # type: ignore[arg-type]


def window_bounds(days: int, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """First and last calendar day of the ``days``-day window ending on ``as_of``."""
    return as_of - dt.timedelta(days=max(days, 0) - 1), as_of


def _within_days(x: exp.Expression, x_type: T, days: int, as_of: dt.date) -> exp.Expression:
    if days <= 0:
        return exp.Boolean(this=False)
    first, last = window_bounds(days, as_of)
    if x_type == T.TIMESTAMP:
        lo = literal(dt.datetime.combine(first, dt.time()))
        hi = literal(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
        return exp.Paren(this=exp.and_(exp.GTE(this=x, expression=lo),
                                       exp.LT(this=x.copy(), expression=hi)))
    return exp.Paren(this=exp.and_(exp.GTE(this=x, expression=literal(first)),
                                   exp.LTE(this=x.copy(), expression=literal(last))))
