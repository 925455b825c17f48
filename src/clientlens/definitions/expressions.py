"""The expression language: SQL expressions over known names, checked before use.

Analysts write conditions such as ``balance_deposit >= 1500000 and not
has_salary_card``. They are parsed with sqlglot, then every node is checked
against a whitelist: no statement, subquery, table, qualified name, cast to an
arbitrary type or unknown function gets through, so a rule cannot inject SQL.
Names resolve against a symbol table (terms, parameters, source columns,
``as_of``), and each node is given a type so mistakes surface at load time.

Two functions are the language's own and stay as markers in the tree until a
target renders them (``compiler.render`` for SQL, ``pyeval`` for Python):
``days_between(a, b)`` and ``within_days(x, n)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from clientlens.model.errors import ExpressionError, did_you_mean


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
MACROS = {"DAYS_BETWEEN": 2, "WITHIN_DAYS": 2}
MAX_LENGTH = 4000
MAX_DEPTH = 60
_DIALECT = Dialect.get_or_raise("duckdb")


@dataclass(frozen=True)
class Symbol:
    name: str
    type: T
    kind: str  # "term", "parameter", "column", "builtin"
    value: object = None  # a parameter's value


@dataclass(frozen=True)
class Expr:
    """A parsed, checked expression."""

    text: str
    tree: exp.Expression
    type: T
    names: frozenset[str]


# Node types that may appear; anything else is refused by name.
ALLOWED: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
    exp.Neg, exp.Not, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.Is, exp.In, exp.Between, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.Case, exp.If, exp.Coalesce, exp.Abs, exp.Round, exp.Least, exp.Greatest,
    exp.Like, exp.Year, exp.Month, exp.Anonymous, exp.Cast, exp.DataType, exp.Pow,
)
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


def parse(text: str, symbols: Mapping[str, Symbol], *, expect: T | None = None) -> Expr:
    """Parse and check ``text``; raise ExpressionError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        tokens = _DIALECT.tokenize(text)
    except (ParseError, TokenError) as e:
        raise ExpressionError(f"cannot parse '{text}': {_first_error(e)}") from None
    for token in tokens:
        # Statement separators and comments have no place in a condition (they may
        # still appear inside string literals, which are single tokens).
        if token.token_type == TokenType.SEMICOLON or token.comments:
            raise ExpressionError("comments and ';' are not allowed in an expression")
    try:
        trees = sqlglot.parse(text, read="duckdb")
    except (ParseError, TokenError) as e:
        raise ExpressionError(f"cannot parse '{text}': {_first_error(e)}") from None
    except RecursionError:
        raise ExpressionError(f"'{text[:60]}...' is nested too deeply") from None
    if len(trees) != 1 or trees[0] is None:
        raise ExpressionError(f"'{text}' must be exactly one expression")
    tree = trees[0]
    names: set[str] = set()
    _check_nodes(tree, text, symbols, names)
    typ = _type_of(tree, symbols, text)
    if expect is not None and not assignable(typ, expect):
        raise ExpressionError(f"'{text}' is {typ}, but {expect} is needed here")
    return Expr(text=text, tree=tree, type=typ, names=frozenset(names))


def _first_error(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if errors:
        first = errors[0]
        return f"{first.get('description')} at line {first.get('line')}, col {first.get('col')}"
    return str(e).splitlines()[0]


def _check_nodes(tree: exp.Expression, text: str, symbols: Mapping[str, Symbol],
                 names: set[str]) -> None:
    for node in tree.walk():
        if node.depth > MAX_DEPTH:
            raise ExpressionError(f"'{text}' is nested too deeply")
        if not isinstance(node, ALLOWED):
            raise ExpressionError(f"'{node.sql()}' is not allowed in an expression "
                                  f"({type(node).__name__.lower()})")
        if isinstance(node, exp.Column):
            if node.table or node.args.get("db") or node.args.get("catalog"):
                raise ExpressionError(f"qualified name '{node.sql()}' is not allowed; "
                                      "use the term name alone")
            name = node.name
            if not isinstance(node.this, exp.Identifier) or node.this.quoted:
                raise ExpressionError(f"'{node.sql()}' is not a plain name")
            if name not in symbols:
                raise ExpressionError(f"unknown name '{name}' in '{text}'."
                                      f"{did_you_mean(name, symbols)}")
            names.add(name)
        elif isinstance(node, exp.Anonymous):
            fname = str(node.this).upper()
            if fname not in MACROS:
                allowed = "abs, round, power, least, greatest, coalesce, year, month, " \
                          "days_between, within_days"
                raise ExpressionError(f"function '{str(node.this).lower()}' is not allowed."
                                      f"{did_you_mean(str(node.this).lower(), allowed.split(', '))}"
                                      f" Allowed functions: {allowed}")
            if len(node.expressions) != MACROS[fname]:
                raise ExpressionError(f"{fname.lower()} takes {MACROS[fname]} arguments")
        elif isinstance(node, exp.Cast):
            # Only typed literals: DATE '2024-01-01', TIMESTAMP '2024-01-01 10:00:00'.
            target = node.to.this
            # sqlglot reads DuckDB's `timestamp '...'` as TIMESTAMPNTZ (no time zone).
            if target not in (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP,
                              exp.DataType.Type.TIMESTAMPNTZ) or \
                    not (isinstance(node.this, exp.Literal) and node.this.is_string):
                raise ExpressionError(f"'{node.sql()}' is not allowed; only date '...' and "
                                      "timestamp '...' literals may be written")
            _literal_value(node)  # validates the text of the date
        elif isinstance(node, exp.In):
            if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
                raise ExpressionError(f"'{node.sql()}': IN takes a list of literals only")
            for item in node.expressions:
                if not isinstance(item, exp.Literal | exp.Null | exp.Boolean | exp.Neg):
                    raise ExpressionError(f"'{node.sql()}': IN takes a list of literals only")
        elif isinstance(node, exp.Like) and node.args.get("escape"):
            raise ExpressionError("LIKE ... ESCAPE is not supported")


def literal_value(node: exp.Expression) -> object:
    """The Python value of a literal node (used by renderers and explanations)."""
    return _literal_value(node)


def _literal_value(node: exp.Expression) -> object:
    from decimal import Decimal

    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg):
        return -_literal_value(node.this)  # type: ignore[operator]
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
        return int(node.this) if _is_int_text(node.this) else Decimal(node.this)
    raise ExpressionError(f"'{node.sql()}' is not a literal")


def _is_int_text(text: str) -> bool:
    return text.isdigit()


def assignable(src: T, dst: T) -> bool:
    """Can a value of type ``src`` be used where ``dst`` is declared?"""
    if src == dst or src == T.NULL:
        return True
    order = {T.INTEGER: 0, T.DECIMAL: 1, T.NUMBER: 2}
    if src in order and dst in order:
        return order[src] <= order[dst]
    return src == T.DATE and dst == T.TIMESTAMP


def unify(a: T, b: T, where: str) -> T:
    if a == T.NULL:
        return b
    if b == T.NULL or a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return a if assignable(b, a) else b
    if a in TEMPORAL and b in TEMPORAL:
        return T.TIMESTAMP
    raise ExpressionError(f"type error in '{where}': {a} and {b} do not mix")


def _type_of(node: exp.Expression, symbols: Mapping[str, Symbol], text: str) -> T:
    def t(n: exp.Expression) -> T:
        return _type_of(n, symbols, text)

    def need(n: exp.Expression, kinds: tuple[T, ...], what: str) -> T:
        typ = t(n)
        if typ != T.NULL and typ not in kinds:
            raise ExpressionError(f"type error in '{text}': {what} needs "
                                  f"{' or '.join(kinds)}, but '{n.sql()}' is {typ}")
        return typ

    if isinstance(node, exp.Paren):
        return t(node.this)
    if isinstance(node, exp.Column):
        return symbols[node.name].type
    if isinstance(node, exp.Null):
        return T.NULL
    if isinstance(node, exp.Boolean):
        return T.BOOLEAN
    if isinstance(node, exp.Literal):
        if node.is_string:
            return T.TEXT
        return T.INTEGER if _is_int_text(node.this) else T.DECIMAL
    if isinstance(node, exp.Cast):
        return T.DATE if node.to.this == exp.DataType.Type.DATE else T.TIMESTAMP
    if isinstance(node, exp.And | exp.Or):
        need(node.this, (T.BOOLEAN,), node.key.upper())
        need(node.expression, (T.BOOLEAN,), node.key.upper())
        return T.BOOLEAN
    if isinstance(node, exp.Not):
        need(node.this, (T.BOOLEAN,), "NOT")
        return T.BOOLEAN
    if isinstance(node, COMPARISONS):
        unify(t(node.this), t(node.expression), node.sql())
        return T.BOOLEAN
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise ExpressionError(f"'{node.sql()}': only IS NULL / IS NOT NULL are supported")
        t(node.this)
        return T.BOOLEAN
    if isinstance(node, exp.In):
        typ = t(node.this)
        for item in node.expressions:
            typ = unify(typ, t(item), node.sql())
        return T.BOOLEAN
    if isinstance(node, exp.Between):
        unify(unify(t(node.this), t(node.args["low"]), node.sql()), t(node.args["high"]),
              node.sql())
        return T.BOOLEAN
    if isinstance(node, exp.Like):
        need(node.this, (T.TEXT,), "LIKE")
        need(node.expression, (T.TEXT,), "LIKE")
        return T.BOOLEAN
    if isinstance(node, exp.Neg):
        return need(node.this, NUMERIC, "'-'")
    if isinstance(node, ARITHMETIC):
        op = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
        left = need(node.this, NUMERIC, f"'{op}'")
        right = need(node.expression, NUMERIC, f"'{op}'")
        if isinstance(node, exp.Div):
            return T.NUMBER
        if isinstance(node, exp.Mod):
            if left not in (T.INTEGER, T.NULL) or right not in (T.INTEGER, T.NULL):
                raise ExpressionError(f"type error in '{text}': '%' needs whole numbers")
            return T.INTEGER
        return unify(left, right, node.sql())
    if isinstance(node, exp.Case):
        typ = T.NULL
        for branch in node.args.get("ifs") or []:
            need(branch.this, (T.BOOLEAN,), "WHEN")
            typ = unify(typ, t(branch.args["true"]), node.sql())
        if node.args.get("default") is not None:
            typ = unify(typ, t(node.args["default"]), node.sql())
        if node.this is not None:
            raise ExpressionError("use CASE WHEN condition THEN ..., not CASE value WHEN ...")
        return typ
    if isinstance(node, exp.If):
        need(node.this, (T.BOOLEAN,), "IF")
        typ = t(node.args["true"])
        if node.args.get("false") is not None:
            typ = unify(typ, t(node.args["false"]), node.sql())
        return typ
    if isinstance(node, exp.Coalesce | exp.Least | exp.Greatest):
        typ = t(node.this)
        for other in node.expressions:
            typ = unify(typ, t(other), node.sql())
        return typ
    if isinstance(node, exp.Abs):
        return need(node.this, NUMERIC, "ABS")
    if isinstance(node, exp.Pow):
        need(node.this, NUMERIC, "POWER")
        need(node.expression, NUMERIC, "POWER")
        return T.NUMBER
    if isinstance(node, exp.Round):
        typ = need(node.this, NUMERIC, "ROUND")
        decimals = node.args.get("decimals")
        if decimals is not None and not (isinstance(decimals, exp.Literal)
                                         and _is_int_text(decimals.this)):
            raise ExpressionError(f"'{node.sql()}': ROUND takes a whole number of places")
        return typ
    if isinstance(node, exp.Year | exp.Month):
        need(node.this, TEMPORAL, node.key.upper())
        return T.INTEGER
    if isinstance(node, exp.Anonymous):
        fname = str(node.this).upper()
        first, second = node.expressions
        if fname == "DAYS_BETWEEN":
            need(first, TEMPORAL, "days_between")
            need(second, TEMPORAL, "days_between")
            return T.INTEGER
        need(first, TEMPORAL, "within_days")
        if not _is_constant_int(second, symbols):
            raise ExpressionError(f"'{node.sql()}': within_days needs a whole number of days "
                                  "(a literal or a parameter)")
        return T.BOOLEAN
    raise ExpressionError(f"'{node.sql()}' is not supported")  # pragma: no cover


def _is_constant_int(node: exp.Expression, symbols: Mapping[str, Symbol]) -> bool:
    if isinstance(node, exp.Literal) and not node.is_string and _is_int_text(node.this):
        return True
    if isinstance(node, exp.Column):
        sym = symbols[node.name]
        return sym.kind == "parameter" and sym.type == T.INTEGER
    return False


def conjuncts(tree: exp.Expression) -> list[exp.Expression]:
    """Split a condition at its top-level ANDs (for explanations)."""
    node = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]


def type_of(node: exp.Expression, symbols: Mapping[str, Symbol]) -> T:
    """The type of a sub-tree of a checked expression."""
    return _type_of(node, symbols, node.sql())
