"""Literals of the rule language: their Python values, their SQL, and their limits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from sqlglot import exp

from clientlens.definitions.language.types import is_int_text
from clientlens.model.errors import ExpressionError

# A number written in an expression has at most this many digits before the point
# (integers then fit a BIGINT on every engine) and after it.
MAX_INTEGER_DIGITS = 18
MAX_FRACTION_DIGITS = 18


def literal_value(node: exp.Expression) -> object:
    """The Python value of a literal node (used by renderers and explanations)."""
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg):
        return -literal_value(node.this)  # type: ignore[operator]
    if isinstance(node, exp.Cast):
        raw = node.this.this
        try:
            if node.to.this == exp.DataType.Type.DATE:
                return dt.date.fromisoformat(raw)
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ExpressionError(f"'{raw}' is not a valid {node.to.sql().lower()}") from None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        if is_int_text(node.this):
            value = int(node.this)
            check_number(value, node.this)
            return value
        return number_value(node.this)
    raise ExpressionError(f"'{node.sql()}' is not a literal")


def number_value(text: str) -> Decimal:
    """A number literal as an exact decimal, refused when it is not finite or too long."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ExpressionError(f"'{text}' is not a number") from None
    check_number(value, text)
    return value


def check_number(value: Decimal | int, text: str) -> None:
    if isinstance(value, Decimal) and not value.is_finite():
        raise ExpressionError(f"'{text}' is not a finite number")
    d = Decimal(value).as_tuple()
    exponent = d.exponent if isinstance(d.exponent, int) else 0
    whole = len(d.digits) + exponent
    if whole > MAX_INTEGER_DIGITS or -exponent > MAX_FRACTION_DIGITS:
        raise ExpressionError(f"number '{text}' is out of range: at most {MAX_INTEGER_DIGITS} "
                              f"digits before the point and {MAX_FRACTION_DIGITS} after")


def literal(value: object) -> exp.Expression:
    """A Python value as a SQL literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        # Never a bare NaN/Infinity: an engine would read it as a name (issue 16).
        raise ExpressionError(f"{value!r} is not a finite number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ExpressionError(f"{value!r} is not a finite number")
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
