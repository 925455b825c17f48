"""The expression language: SQL expressions over known names, checked before use.

Analysts write conditions such as ``balance_deposit >= 1500000 and not
has_salary_card``. They are parsed with sqlglot, then every node is checked
against the semantics table (``language/semantics.py``): a node the table has no
entry for is refused by name, so no statement, subquery, table, qualified name,
cast to an arbitrary type or unknown function gets through and a rule cannot
inject SQL. Names resolve against a symbol table (terms, parameters, source
columns, ``as_of``), and each node is given a type by its entry, so mistakes
surface at load time.

Two functions are the language's own and stay as markers in the tree until a
target renders them (``compiler.render`` for SQL, ``pyeval`` for Python):
``days_between(a, b)`` and ``within_days(x, n)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from clientlens.definitions.language.literals import literal_value
from clientlens.definitions.language.semantics import (
    ALLOWED,
    FUNCTION_NAMES,
    check_call,
    entry_for,
)
from clientlens.definitions.language.types import (
    NUMERIC,
    TEMPORAL,
    T,
    assignable,
    unify,
)
from clientlens.model.errors import ExpressionError, did_you_mean

__all__ = ["ALLOWED", "FUNCTION_NAMES", "MAX_DEPTH", "MAX_LENGTH", "NUMERIC", "TEMPORAL",
           "Expr", "Symbol", "T", "assignable", "conjuncts", "literal_value", "parse",
           "type_of", "unify"]

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
    typ = _Typer(symbols, text).t(tree)
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
        if type(node) not in ALLOWED:  # exactly: TRY_CAST is a Cast, for one
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
            continue
        if isinstance(node, exp.Anonymous):
            check_call(node)
        entry = entry_for(node)
        if entry is not None and entry.check is not None:
            entry.check(node)


class _Typer:
    """Gives each node its type through its entry of the semantics table."""

    def __init__(self, symbols: Mapping[str, Symbol], text: str):
        self.symbols = symbols
        self.text = text

    def t(self, node: exp.Expression) -> T:
        entry = entry_for(node)
        if entry is None:  # pragma: no cover - _check_nodes refused it
            raise ExpressionError(f"'{node.sql()}' is not supported")
        return entry.typing(self, node)

    def need(self, node: exp.Expression, kinds: tuple[T, ...], what: str) -> T:
        typ = self.t(node)
        if typ != T.NULL and typ not in kinds:
            raise ExpressionError(f"type error in '{self.text}': {what} needs "
                                  f"{' or '.join(kinds)}, but '{node.sql()}' is {typ}")
        return typ


def conjuncts(tree: exp.Expression) -> list[exp.Expression]:
    """Split a condition at its top-level ANDs (for explanations)."""
    node = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]


def type_of(node: exp.Expression, symbols: Mapping[str, Symbol]) -> T:
    """The type of a sub-tree of a checked expression."""
    return _Typer(symbols, node.sql()).t(node)
