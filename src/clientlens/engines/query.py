"""Service queries as sqlglot trees, which each engine renders in its own dialect.

A service writes a query one of two ways, and never pastes a value into SQL text:

- built with sqlglot's builders (``exp.select(...).from_(...).where(...)``), names from
  outside (a term, a column of the definitions) as quoted identifier nodes (``col``,
  ``name``), values of the definitions as literal nodes (``lit``);
- or written as constant text of the code and parsed once into a tree (``parse``),
  then extended with builders.

Values that come in at run time (an as-of date, a customer id) are named parameters,
``$as_of`` in the text (DuckDB's way of naming one) or ``param("as_of")`` in a tree,
with their values in a mapping passed beside the query
(``engine.fetch_all(tree, {"as_of": day})``); each engine binds them its own way
(``engines/base.py``).

The constant texts are read in DuckDB's dialect (``READ``): they were written and tested
in it, and sqlglot then keeps their meaning (NULL ordering, ``date_diff``) when it renders
them for PostgreSQL or Spark, exactly as when the services sent DuckDB text that was
transpiled at every call.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp

from clientlens.engines import sqltext

READ = "duckdb"


@lru_cache(maxsize=512)
def _parsed(text: str) -> exp.Expression:
    return sqlglot.parse_one(text, read=READ)


def parse(text: str) -> exp.Expression:
    """A query written as constant text of the code, as a tree (parsed once; each call
    gets its own copy to build on). Only constant text: anything from outside goes in
    as a node or a parameter."""
    return _parsed(text).copy()


def param(name: str) -> exp.Placeholder:
    """A named parameter; its value is passed beside the query."""
    return exp.Placeholder(this=name)


def name(text: str) -> exp.Identifier:
    """A quoted identifier (a column or table name that is not a constant of the code)."""
    return sqltext.ident_node(text)


def col(column: str, table: str | None = None) -> exp.Column:
    """A quoted column, optionally qualified by a table or alias."""
    return exp.Column(this=name(column), table=name(table) if table else None)


def table(table_name: str) -> exp.Table:
    return exp.Table(this=name(table_name))


def lit(value: object) -> exp.Expression:
    """A value of the definitions or the code as a literal (``sqltext.literal_node``)."""
    return sqltext.literal_node(value)


def limit_rows(query: exp.Select, rows: int | None) -> exp.Select:
    """``query`` limited to ``rows`` (a literal whole number), or as it is for None."""
    return query if rows is None else query.limit(lit(int(rows)))


def fill(tree: exp.Expression, **nodes: exp.Expression) -> exp.Expression:
    """``tree`` with each named slot (``$name`` in its text) replaced by a node: for a
    statement that takes no parameters (``Engine.replace_many``), where values of the
    definitions go in as literal nodes (``lit``) and names as columns (``col``)."""
    missing = set(nodes) - {p.name for p in tree.find_all(exp.Placeholder)}
    if missing:
        raise TypeError(f"no slot for {sorted(missing)} in {tree.sql()[:200]}")
    return exp.replace_placeholders(tree, **nodes)


def set_cte(tree: exp.Expression, alias: str, body: exp.Expression) -> exp.Expression:
    """``tree`` with the body of its CTE ``alias`` replaced (a union built from the
    definitions, say), in place; returns the tree."""
    for cte in tree.find_all(exp.CTE):
        if cte.alias == alias:
            cte.set("this", body)
            return tree
    raise TypeError(f"no CTE '{alias}' in {tree.sql()[:200]}")


def set_rows(tree: exp.Expression, alias: str, rows: list[tuple[object, ...]]) -> exp.Expression:
    """``tree`` with the ``values`` rows of its CTE ``alias`` replaced by ``rows`` of
    literals, in place; returns the tree."""
    for cte in tree.find_all(exp.CTE):
        if cte.alias == alias:
            values = cte.find(exp.Values)
            if values is not None:
                values.set("expressions", [exp.Tuple(expressions=[lit(v) for v in row])
                                           for row in rows])
                return tree
    raise TypeError(f"no CTE '{alias}' of values in {tree.sql()[:200]}")
