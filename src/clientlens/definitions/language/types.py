"""Types of the expression language (and of glossary terms), and how they mix."""

from __future__ import annotations

from enum import StrEnum

from clientlens.model.errors import ExpressionError


class T(StrEnum):
    """Types of the expression language (and of glossary terms)."""

    INTEGER = "integer"
    DECIMAL = "decimal"  # exact, money
    NUMBER = "number"  # floating point
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TEXT = "text"
    NULL = "null"


NUMERIC = (T.INTEGER, T.DECIMAL, T.NUMBER)
TEMPORAL = (T.DATE, T.TIMESTAMP)


def assignable(src: T, dst: T) -> bool:
    """Can a value of type ``src`` be used where ``dst`` is declared?"""
    if src == dst or src == T.NULL:
        return True
    order = {T.INTEGER: 0, T.DECIMAL: 1, T.NUMBER: 2}
    if src in order and dst in order:
        return order[src] <= order[dst]
    return src == T.DATE and dst == T.TIMESTAMP


def unify(a: T, b: T, where: str) -> T:
    """The common type of two operands, or an ExpressionError naming ``where``."""
    if a == T.NULL:
        return b
    if b == T.NULL or a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return a if assignable(b, a) else b
    if a in TEMPORAL and b in TEMPORAL:
        return T.TIMESTAMP
    raise ExpressionError(f"type error in '{where}': {a} and {b} do not mix")


def is_int_text(text: str) -> bool:
    return text.isdigit()
