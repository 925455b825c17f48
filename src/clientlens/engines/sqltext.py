"""The one place where names and values become SQL text.

clientlens writes SQL for three dialects. Anything it puts into that text that is
not a constant of the code (a table or column of the data model, a glossary term,
a rule or service id from the definitions, a schema from the settings, a date, a
label) goes through these helpers, which build sqlglot nodes and render them for
the engine's dialect. sqlglot knows each dialect's quoting: a double quote inside a
name is doubled (``"a""b"``), Spark's backticks likewise (`` `a``b` ``), and a
string literal is escaped the way the dialect reads it (``'it''s'``; on Spark also
backslashes). Values a user types at run time (a customer id, an as-of date) are not
rendered at all: they are bound parameters (``?``).

Quoting is the second line of defence. The first is that names from outside are
checked before any SQL is built: file headers against the data model
(``services.ingest.reader``), definition names by the loader (``is_plain_name``), the
PostgreSQL schema by the settings. ``ident`` and ``literal`` still refuse a NUL
character, which no engine treats alike (PostgreSQL refuses it, C APIs cut the text
there), so a NUL can never end a name early.

A reviewer auditing SQL text searches for these helpers; an f-string that puts
anything else into SQL is a bug.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from decimal import Decimal

from sqlglot import exp

from clientlens.compiler.ddl import data_type as column_type
from clientlens.model.errors import ClientlensError
from clientlens.model.tables import ColumnType

# A plain name: what the loader accepts for terms and ids, and what a PostgreSQL
# schema may be. At most 63 characters: PostgreSQL cuts longer names silently.
# Matched with fullmatch: ``$`` would accept a trailing newline.
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class UnsafeSqlText(ClientlensError):
    """A name or value that cannot be put into SQL text (a NUL character, not finite)."""

    code = "unsafe_sql_text"


def is_plain_name(name: object) -> bool:
    """True for lower-case letters, digits and '_', starting with a letter or '_'."""
    return isinstance(name, str) and PLAIN_NAME.fullmatch(name) is not None


def _checked(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__}")
    if "\x00" in text:
        raise UnsafeSqlText(f"{what} {text!r} contains a NUL character")
    return text


def ident(name: str, dialect: str) -> str:
    """A quoted identifier: ``"name"`` (DuckDB, PostgreSQL) or `` `name` `` (Spark)."""
    if not _checked(name, "name"):
        raise UnsafeSqlText("an empty name cannot be an identifier")
    if dialect == "postgres" and len(name.encode()) > 63:
        # PostgreSQL would cut it to 63 bytes, silently, and two long names could meet.
        raise UnsafeSqlText(f"the name {name!r} is longer than PostgreSQL's 63 bytes")
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def idents(names: Iterable[str], dialect: str) -> str:
    """Quoted identifiers separated by ``, ``."""
    return ", ".join(ident(n, dialect) for n in names)


def column(name: str, dialect: str, table: str | None = None) -> str:
    """A column, optionally qualified by a table or alias: ``t."name"``."""
    return f"{ident(table, dialect)}.{ident(name, dialect)}" if table else ident(name, dialect)


def table(name: str, dialect: str, schema: str | None = None) -> str:
    """A table, optionally in a schema: ``"schema"."name"``."""
    return exp.table_(ident_node(name), db=ident_node(schema) if schema else None
                      ).sql(dialect=dialect)


def ident_node(name: str) -> exp.Identifier:
    """The sqlglot node of a quoted identifier, for callers that build trees."""
    return exp.to_identifier(_checked(name, "name"), quoted=True)


def literal_node(value: object) -> exp.Expression:
    """A Python value as a sqlglot literal node (str, int, Decimal, float, bool, date,
    datetime or None); NaN and infinities are refused, not turned into names."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | Decimal | float):
        if isinstance(value, float) and not math.isfinite(value) or \
                isinstance(value, Decimal) and not value.is_finite():
            raise UnsafeSqlText(f"the number {value} is not finite and has no SQL literal")
        text = format(value, "f") if isinstance(value, Decimal) else repr(value)
        if text.startswith("-"):
            return exp.Neg(this=exp.Literal.number(text[1:]))
        return exp.Literal.number(text)
    if isinstance(value, dt.datetime):
        return exp.Cast(this=exp.Literal.string(value.isoformat(sep=" ")),
                        to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()),
                        to=exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(_checked(value, "text"))
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def literal(value: object, dialect: str) -> str:
    """A Python value as a SQL literal of the dialect (see ``literal_node``)."""
    return literal_node(value).sql(dialect=dialect)


def literals(values: Iterable[object], dialect: str) -> str:
    """Literals separated by ``, `` (for ``in (...)`` lists)."""
    return ", ".join(literal(v, dialect) for v in values)


def data_type(kind: ColumnType | str | exp.DataType, dialect: str) -> str:
    """A column type for the dialect: ``DOUBLE`` is ``DOUBLE PRECISION`` on PostgreSQL,
    ``VARCHAR`` is ``STRING`` on Spark."""
    return type_node(kind).sql(dialect=dialect)


def type_node(kind: ColumnType | str | exp.DataType) -> exp.DataType:
    if isinstance(kind, exp.DataType):
        return kind
    if isinstance(kind, ColumnType):
        return column_type(kind)
    return exp.DataType.build(kind)


# The kinds of value a stored column holds, for telling whether a column still fits a
# term's type; widths (INT vs BIGINT, DECIMAL(18,2) vs (38,2)) do not matter.
_KINDS: dict[str, frozenset[exp.DataType.Type]] = {
    "integer": frozenset(exp.DataType.INTEGER_TYPES),
    "decimal": frozenset({exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL}),
    "number": frozenset(exp.DataType.REAL_TYPES) - {exp.DataType.Type.DECIMAL,
                                                    exp.DataType.Type.BIGDECIMAL},
    "boolean": frozenset({exp.DataType.Type.BOOLEAN}),
    "date": frozenset({exp.DataType.Type.DATE, exp.DataType.Type.DATE32}),
    "timestamp": frozenset(exp.DataType.TEMPORAL_TYPES) - {exp.DataType.Type.DATE,
                                                           exp.DataType.Type.DATE32,
                                                           exp.DataType.Type.TIME,
                                                           exp.DataType.Type.TIMETZ},
    "text": frozenset(exp.DataType.TEXT_TYPES),
}
# Changes that keep every stored value (a whole number is also a decimal or a float).
WIDENING = frozenset({("integer", "decimal"), ("integer", "number"), ("decimal", "number")})


def type_kind(kind: ColumnType | str | exp.DataType, dialect: str | None = None) -> str:
    """integer, decimal, number, boolean, date, timestamp, text, or other."""
    node = kind if isinstance(kind, exp.DataType) else \
        column_type(kind) if isinstance(kind, ColumnType) else \
        exp.DataType.build(kind, dialect=dialect)
    for name, types in _KINDS.items():
        if node.this in types:
            return name
    return "other"
