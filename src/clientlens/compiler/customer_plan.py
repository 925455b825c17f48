"""One customer's base terms, for re-evaluating a single customer now.

Re-evaluating one customer needs from the engine only the *base* terms: the aggregates
over the source tables and the customer columns (the plan's ``agg_*`` and ``base``
steps, ``compiler/plan.py``). Expression terms, the population, the segment and every
decision are then computed in-process by ``CompiledRulebook``, which follows the SQL's
semantics. (The full plan for one customer costs seconds to build, its decision steps
being large trees, and as long again for the engine to plan.)

Two ways, with the same answer (``tests/services/relationship/test_reevaluation.py``
compares them on every customer of a demo bank):

- ``rows`` (the default): the customer's row and their rows of each source table as
  they stood on the as-of date, without any aggregate (on DuckDB one UNION ALL query
  of the rows as JSON text, elsewhere one query per table), then every aggregate in
  Python: its ``where`` as a FILTER (the row counts when it is true), NULLs skipped as
  SQL skips them, sums of decimals as DECIMAL(38, 2), a customer without rows gets the
  term's default, and derived columns computed per row. An engine plans a query with
  seventy aggregates in tens of milliseconds, every time (DuckDB re-plans a prepared
  statement with parameters too); this costs a few.
- ``sql``: the ``agg_*`` and ``base`` steps of the plan for one customer, built once
  per as-of date and engine with the customer id as a parameter. Used when an
  expression has no Python form.

Each query is a tree with the customer id as the named parameter ``customer_id``,
rendered once by the engine (``Engine.prepare``) and then run for one customer after
another with the id bound.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlglot import exp

from clientlens.compiler.plan import _aggregate_cte, _event_filter, _population_on_customers
from clientlens.compiler.pyeval import NotExpressible, compile_expression
from clientlens.compiler.render import literal
from clientlens.definitions.expressions import T
from clientlens.definitions.glossary import Term, derived_column, source_symbols
from clientlens.definitions.language.semantics import AGGREGATES
from clientlens.definitions.rulebook import Definitions
from clientlens.model.tables import ENTITY_KEY, ENTITY_TABLE, TABLES, ColumnType

_MARKER = "__clientlens_one_customer__"
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class BaseQuery:
    tree: exp.Expression  # with the customer id as the parameter ``customer_id``
    prepared: Any = None  # the tree as the engine renders it (``Engine.prepare``)

    def params(self, customer_id: str) -> dict[str, str]:
        return {"customer_id": customer_id}

    def for_engine(self, engine: Any) -> BaseQuery:
        return replace(self, prepared=engine.prepare(self.tree))


def _by_source(defs: Definitions) -> dict[str, list[Term]]:
    by_source: dict[str, list[Term]] = {}
    for term in defs.terms.values():
        if term.aggregate:
            by_source.setdefault(term.aggregate.source, []).append(term)
    return by_source


def _customer_select(defs: Definitions, as_of: dt.date, features: set[str],
                     by_source: dict[str, list[Term]] | None) -> exp.Select:
    """The customer's columns as their terms (and, with ``by_source``, the aggregates
    joined in), for the one customer, registered by ``as_of`` and in a population that
    reads only customer columns."""
    select = exp.select(exp.column(ENTITY_KEY, table="c"))
    for term in defs.terms.values():
        if term.column:
            select = select.select(exp.alias_(exp.column(term.column, table="c"), term.name),
                                   copy=False)
        elif term.aggregate and by_source is not None:
            value: exp.Expression = exp.column(term.name, table=f"agg_{term.aggregate.source}")
            if term.aggregate.default is not None:
                value = exp.Coalesce(this=value, expressions=[literal(term.aggregate.default)])
            select = select.select(exp.alias_(value, term.name), copy=False)
    select = select.from_(exp.alias_(exp.to_table(ENTITY_TABLE), "c", table=True))
    for source in by_source or ():
        select = select.join(exp.to_table(f"agg_{source}"), join_type="left",
                             on=exp.column(ENTITY_KEY, table="c").eq(
                                 exp.column(ENTITY_KEY, table=f"agg_{source}")))
    select = select.where(_event_filter(ENTITY_TABLE, as_of, table_alias="c"))
    select = select.where(exp.column(ENTITY_KEY, table="c").eq(exp.Literal.string(_MARKER)))
    early = _population_on_customers(defs, as_of, features)
    if early is not None:
        select = select.where(early)
    return select


def _with_parameter(select: exp.Select, dialect: str) -> BaseQuery:
    """The query with the parameter ``customer_id`` where the marker stood (``dialect``
    is the engine's: the queries differ a little per dialect)."""
    del dialect

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal) and node.is_string and node.this == _MARKER:
            return exp.Placeholder(this="customer_id")
        return node

    return BaseQuery(select.transform(swap))


def base_query(defs: Definitions, as_of: dt.date, dialect: str) -> BaseQuery:
    """The base terms of one customer on ``as_of`` in one query: one row, or none when
    the customer is unknown, registered after ``as_of`` or outside a population that
    reads only customer columns."""
    features: set[str] = set()
    by_source = _by_source(defs)
    select = _customer_select(defs, as_of, features, by_source)
    for source, terms in by_source.items():
        select = select.with_(f"agg_{source}", as_=_aggregate_cte(
            source, terms, defs, as_of, [_MARKER], features), copy=False)
    return _with_parameter(select, dialect)


# -- the aggregates in Python -------------------------------------------------------------
@dataclass(frozen=True)
class _Aggregate:
    name: str
    function: str
    where: Any  # row values -> True/False/None, or None for every row
    of: Any  # row values -> value, or None
    default: Any
    type: T


def _typed_default(term: Term) -> Any:
    """The default as COALESCE gives it back: in the term's type."""
    value = term.aggregate.default  # type: ignore[union-attr]
    if value is None or isinstance(value, bool):
        return value
    if term.type == T.DECIMAL:
        return Decimal(str(value))
    if term.type == T.NUMBER:
        return float(value)
    if term.type == T.INTEGER and isinstance(value, int | float | Decimal):
        return int(value)
    return value


class _Source:
    """One source table's aggregates, compiled to Python once."""

    def __init__(self, source: str, terms: list[Term], defs: Definitions):
        symbols = source_symbols(source, defs.parameters)
        base = {k: v for k, v in symbols.items() if k not in TABLES[source].derived}
        self.source = source
        self.derived = [(name, compile_expression(
            derived_column(source, name, defs.parameters).tree, base))
            for name in TABLES[source].derived]
        self.aggregates = []
        for term in terms:
            agg = term.aggregate
            assert agg is not None
            self.aggregates.append(_Aggregate(
                term.name, agg.function,
                compile_expression(agg.where.tree, symbols) if agg.where else None,
                compile_expression(agg.of.tree, symbols) if agg.of else None,
                _typed_default(term), term.type))

    def values(self, rows: list[dict[str, Any]], as_of: dt.date) -> dict[str, Any]:
        """Every aggregate over the customer's ``rows`` (already those on ``as_of``)."""
        if not rows:  # no group for the customer: the LEFT JOIN's NULL, then COALESCE
            return {a.name: a.default for a in self.aggregates}
        for v in rows:
            v["as_of"] = as_of
            for name, fn in self.derived:
                v[name] = fn(v)
        out: dict[str, Any] = {}
        for a in self.aggregates:
            picked = rows if a.where is None else [v for v in rows if a.where(v) is True]
            meaning = AGGREGATES[a.function]
            if meaning.needs_of is True:
                picked = [x for x in (a.of(v) for v in picked) if x is not None]
            value = meaning.python(picked, a.type)
            out[a.name] = a.default if value is None else value
        return out


def _python_sources(defs: Definitions) -> list[_Source] | None:
    """The aggregates compiled to Python, or None if an expression has no Python form."""
    try:
        return [_Source(source, terms, defs) for source, terms in _by_source(defs).items()]
    except NotExpressible:
        return None


@dataclass(frozen=True)
class RowQueries:
    customer: BaseQuery
    sources: tuple[BaseQuery, ...]  # each source's rows on as_of, for one customer
    # DuckDB: the customer's row and every source's rows in one query, as JSON text
    together: BaseQuery | None = None


_CUSTOMER = "__customer__"


def row_queries(defs: Definitions, as_of: dt.date, dialect: str) -> RowQueries:
    customer_select = _customer_select(defs, as_of, set(), None)
    sources = []
    for source in _by_source(defs):
        select = (exp.select(exp.Star()).from_(source)
                  .where(_event_filter(source, as_of))
                  .where(exp.column(ENTITY_KEY).eq(exp.Literal.string(_MARKER))))
        sources.append(_with_parameter(select, dialect))
    together = None
    if dialect == "duckdb":
        # One query instead of ten: DuckDB spends about a millisecond and a half on
        # any query before it reads a row. Rows travel as JSON text, turned back into
        # the columns' types by ``_typed``.
        parts = [exp.select(exp.Literal.string(_CUSTOMER).as_("s"), _json_text("c"))
                 .from_(exp.alias_(exp.to_table(ENTITY_TABLE), "c", table=True))
                 .where(customer_select.args["where"].this)]
        for source in _by_source(defs):
            parts.append(exp.select(exp.Literal.string(source).as_("s"), _json_text("t"))
                         .from_(exp.alias_(exp.to_table(source), "t", table=True))
                         .where(_event_filter(source, as_of, table_alias="t"))
                         .where(exp.column(ENTITY_KEY, table="t").eq(
                             exp.Literal.string(_MARKER))))
        union = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=False)
        together = _with_parameter(union, dialect)  # type: ignore[arg-type]
    return RowQueries(_with_parameter(customer_select, dialect), tuple(sources), together)


def _json_text(alias: str) -> exp.Expression:
    return exp.Cast(this=exp.Anonymous(this="to_json", expressions=[exp.column(alias)]),
                    to=exp.DataType.build("VARCHAR")).as_("j")


_FROM_JSON: dict[ColumnType, Any] = {
    ColumnType.INTEGER: int,
    ColumnType.DECIMAL: lambda x: x if isinstance(x, Decimal) else Decimal(str(x)),
    ColumnType.DATE: dt.date.fromisoformat,
    ColumnType.TIMESTAMP: dt.datetime.fromisoformat,
    ColumnType.BOOLEAN: bool,
}


def _typed(table: str, text: str) -> dict[str, Any]:
    """A row of ``table`` from its JSON text, in the types a query gives."""
    row = json.loads(text, parse_float=Decimal)
    for column in TABLES[table].columns:
        convert = _FROM_JSON.get(column.type)
        value = row.get(column.name)
        if convert is not None and value is not None:
            row[column.name] = convert(value)
    return row


class BaseTerms:
    """One customer's base terms on a date, for one set of definitions. The queries are
    built on first use and kept for the most recent as-of dates. Thread-safe; an
    engine is used by one thread at a time."""

    def __init__(self, defs: Definitions, keep: int = 8, *, how: str = "rows"):
        if how not in ("rows", "sql"):
            raise ValueError(f"how: rows or sql, not {how!r}")
        self.defs = defs
        self._keep = keep
        self._python = _python_sources(defs) if how == "rows" else None
        self.how = "rows" if self._python is not None else "sql"
        self._queries: OrderedDict[tuple[dt.date, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def _query(self, as_of: dt.date, engine: Any) -> Any:
        key = (as_of, engine.name, engine.dialect)
        with self._lock:
            found = self._queries.get(key)
            if found is not None:
                self._queries.move_to_end(key)
                return found
        if self._python is not None:
            rows = row_queries(self.defs, as_of, engine.dialect)
            made: Any = RowQueries(
                rows.customer.for_engine(engine),
                tuple(q.for_engine(engine) for q in rows.sources),
                rows.together.for_engine(engine) if rows.together is not None else None)
        else:
            made = base_query(self.defs, as_of, engine.dialect).for_engine(engine)
        with self._lock:
            self._queries[key] = made
            while len(self._queries) > self._keep:
                self._queries.popitem(last=False)
        return made

    def fetch(self, engine: Any, customer_id: str, as_of: dt.date) -> dict[str, Any] | None:
        """The customer's base terms on ``as_of``, or None when the customer is unknown,
        registered after ``as_of`` or outside a population of customer columns only."""
        q = self._query(as_of, engine)
        if self._python is None:
            rows = engine.fetch_arrow(q.prepared, q.params(customer_id)).to_pylist()
            return rows[0] if rows else None
        if q.together is not None:
            return self._from_json(engine, q.together, customer_id, as_of)
        found = engine.fetch_arrow(q.customer.prepared,
                                   q.customer.params(customer_id)).to_pylist()
        if not found:
            return None
        row = found[0]
        for source, query in zip(self._python, q.sources, strict=True):
            rows = engine.fetch_arrow(query.prepared, query.params(customer_id)).to_pylist()
            row.update(source.values(rows, as_of))
        return row

    def _from_json(self, engine: Any, query: BaseQuery, customer_id: str, as_of: dt.date
                   ) -> dict[str, Any] | None:
        by_source: dict[str, list[dict[str, Any]]] = {}
        for source, text in engine.fetch_all(query.prepared, query.params(customer_id)):
            by_source.setdefault(source, []).append(
                _typed(ENTITY_TABLE if source == _CUSTOMER else source, text))
        found = by_source.get(_CUSTOMER)
        if not found:
            return None
        customer = found[0]
        row: dict[str, Any] = {ENTITY_KEY: customer[ENTITY_KEY]}
        for term in self.defs.terms.values():
            if term.column:
                row[term.name] = customer.get(term.column)
        for source in self._python:  # type: ignore[union-attr]
            row.update(source.values(by_source.get(source.source, []), as_of))
        return row
