"""Glossary + rulebook -> one dialect-neutral query (a sqlglot tree).

The shape, for one as-of date:

    WITH agg_accounts AS (SELECT customer_id, SUM(..) FILTER (WHERE ..) AS t1, ..
                          FROM accounts WHERE opened_on <= :as_of GROUP BY customer_id),
         agg_transactions AS (..), agg_interactions AS (..),
         base AS (SELECT customers' columns, COALESCE(agg.t, default) ..
                  FROM customers LEFT JOIN agg_* USING (customer_id)),
         level_1 AS (SELECT *, <expression terms that need only base> FROM base),
         level_2 ..
    SELECT as_of, customer_id, CASE WHEN <rule 1> THEN 'id' .. ELSE 'default' END AS segment,
           rulebook_version, <every term> FROM level_n WHERE <population>

Each source table is read once, grouped once. Nothing here is engine-specific:
an engine renders the tree in its own dialect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlglot import exp

from clientlens.compiler.decisions import add_decisions, decision_columns
from clientlens.compiler.render import literal, render
from clientlens.definitions.expressions import Expr, Symbol, T
from clientlens.definitions.glossary import (
    Term,
    derived_column,
    evaluation_order,
    source_symbols,
)
from clientlens.definitions.language.semantics import AGGREGATES, DECIMAL_RESULT
from clientlens.definitions.rulebook import Definitions
from clientlens.model.errors import UnsupportedFeature
from clientlens.model.tables import ENTITY_KEY, ENTITY_TABLE, TABLES, ColumnType

FIXED_COLUMNS = ("as_of", ENTITY_KEY, "segment", "rulebook_version")


@dataclass
class Plan:
    query: exp.Select
    as_of: dt.date
    columns: list[str]
    features: set[str] = field(default_factory=set)
    stages: tuple[str, ...] = ()  # the decision steps' CTE names, in order

    def sql(self, dialect: str, *, fence_stages: bool = False) -> str:
        """The query in ``dialect``. With ``fence_stages`` the decision steps are
        rendered ``AS MATERIALIZED``: an engine that inlines CTEs without sharing
        repeated subexpressions (PostgreSQL) would otherwise recompute every points
        table in every rank and reason, and the query grows many times over."""
        if not fence_stages:
            return self.query.sql(dialect=dialect)
        ctes = [c for c in self.query.find(exp.With).expressions if c.alias in self.stages]
        for cte in ctes:
            cte.set("materialized", True)
        try:
            return self.query.sql(dialect=dialect)
        finally:
            for cte in ctes:
                cte.set("materialized", None)


def compile_plan(defs: Definitions, as_of: dt.date, *, customer_ids: list[str] | None = None,
                 capabilities: frozenset[str] | None = None, engine: str = "") -> Plan:
    """The profile query for ``as_of``; optionally only for some customers."""
    features: set[str] = {"decimal"}
    by_source: dict[str, list[Term]] = {}
    for term in defs.terms.values():
        if term.aggregate:
            by_source.setdefault(term.aggregate.source, []).append(term)

    ctes: list[tuple[str, exp.Select]] = []
    for source, terms in by_source.items():
        ctes.append((f"agg_{source}",
                     _aggregate_cte(source, terms, defs, as_of, customer_ids, features)))

    base = exp.select(exp.column(ENTITY_KEY, table="c"))
    for term in defs.terms.values():
        if term.column:
            base = base.select(exp.alias_(exp.column(term.column, table="c"), term.name),
                               copy=False)
        elif term.aggregate:
            value: exp.Expression = exp.column(term.name, table=f"agg_{term.aggregate.source}")
            if term.aggregate.default is not None:
                value = exp.Coalesce(this=value, expressions=[literal(term.aggregate.default)])
            base = base.select(exp.alias_(value, term.name), copy=False)
    base = base.from_(exp.alias_(exp.to_table(ENTITY_TABLE), "c", table=True))
    for source in by_source:
        base = base.join(exp.to_table(f"agg_{source}"), join_type="left",
                         on=exp.column(ENTITY_KEY, table="c").eq(
                             exp.column(ENTITY_KEY, table=f"agg_{source}")))
    base = base.where(_event_filter(ENTITY_TABLE, as_of, table_alias="c"))
    if customer_ids is not None:
        base = base.where(exp.column(ENTITY_KEY, table="c").isin(
            *[exp.Literal.string(c) for c in customer_ids]))
    population_early = _population_on_customers(defs, as_of, features)
    if population_early is not None:
        # The population reads only customer columns: filter before grouping and
        # joining instead of after, as a hand-written query would.
        base = base.where(population_early)
    ctes.append(("base", base))

    symbols = defs.symbols()

    def resolve_term(name: str) -> exp.Expression:
        return _constant(name, symbols, as_of) or exp.column(name)

    def rendered(e: Expr) -> exp.Expression:
        _note_features(e, features)
        return render(e.tree, resolve=resolve_term, symbols=symbols, as_of=as_of)

    previous = "base"
    for i, level in enumerate(evaluation_order(defs.terms), start=1):
        step = exp.select(exp.Star()).from_(previous)
        for name in level:
            step = step.select(exp.alias_(rendered(defs.terms[name].expression), name),
                               copy=False)
        previous = f"level_{i}"
        ctes.append((previous, step))

    steps, previous = add_decisions(defs, previous, as_of, _constant,
                                    lambda e: _note_features(e, features))
    ctes += steps
    decided = decision_columns(defs)
    columns = [*FIXED_COLUMNS, *decided, *defs.terms]
    final = exp.select(
        exp.alias_(literal(as_of), "as_of"),
        exp.column(ENTITY_KEY),
        exp.column("segment"),
        exp.alias_(exp.Literal.string(defs.version), "rulebook_version"),
        *[exp.column(c) for c in decided],
        *[_output_column(t) for t in defs.terms.values()],
    ).from_(previous)
    if defs.population is not None and population_early is None:
        final = final.where(rendered(defs.population))
    for name, cte in ctes:
        final = final.with_(name, as_=cte, copy=False)

    if capabilities is not None:
        missing = sorted(features - capabilities)
        if missing:
            raise UnsupportedFeature(engine or "engine", ", ".join(missing))
    return Plan(query=final, as_of=as_of, columns=columns, features=features,
                stages=tuple(name for name, _ in steps))


def _constant(name: str, symbols: dict[str, Symbol], as_of: dt.date
              ) -> exp.Expression | None:
    """A parameter's value or the as-of date as a literal; None for anything else."""
    sym = symbols.get(name)
    if sym is not None and sym.kind == "parameter":
        return literal(sym.value)
    if name == "as_of":
        return literal(as_of)
    return None


def _population_on_customers(defs: Definitions, as_of: dt.date, features: set[str]
                             ) -> exp.Expression | None:
    """The population as a condition on ``customers`` alone, or None if it needs more."""
    if defs.population is None:
        return None
    symbols = defs.symbols()

    def column_only(name: str, seen: frozenset[str] = frozenset()) -> bool:
        term = defs.terms.get(name)
        if term is None:  # a parameter or as_of
            return True
        if term.column:
            return True
        if term.expression is None or name in seen:
            return False
        return all(column_only(n, seen | {name}) for n in term.expression.names)

    if not all(column_only(n) for n in defs.population.names):
        return None

    def resolve(name: str) -> exp.Expression:
        constant = _constant(name, symbols, as_of)
        if constant is not None:
            return constant
        term = defs.terms[name]
        if term.column:
            return exp.column(term.column, table="c")
        return exp.Paren(this=render(term.expression.tree, resolve=resolve, symbols=symbols,
                                     as_of=as_of))

    _note_features(defs.population, features)
    return render(defs.population.tree, resolve=resolve, symbols=symbols, as_of=as_of)


def _output_column(term: Term) -> exp.Expression:
    col: exp.Expression = exp.column(term.name)
    if term.type == T.DECIMAL:
        # Sums widen decimals differently per engine; store one exact type.
        col = exp.Cast(this=col, to=DECIMAL_RESULT)
    elif term.type == T.INTEGER:
        # e.g. year(as_of) - car_year is NUMERIC on PostgreSQL: store the declared type.
        col = exp.Cast(this=col, to=exp.DataType.build("BIGINT"))
    elif term.type == T.NUMBER:
        col = exp.Cast(this=col, to=exp.DataType.build("DOUBLE"))
    return exp.alias_(col, term.name)


def _event_filter(table: str, as_of: dt.date, table_alias: str | None = None
                  ) -> exp.Expression:
    """Only rows that existed on the as-of date."""
    spec = TABLES[table]
    col = exp.column(spec.event_time, table=table_alias)
    if spec.column(spec.event_time).type == ColumnType.TIMESTAMP:
        end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
        return exp.LT(this=col, expression=literal(end))
    return exp.LTE(this=col, expression=literal(as_of))


def _aggregate_cte(source: str, terms: list[Term], defs: Definitions, as_of: dt.date,
                   customer_ids: list[str] | None, features: set[str]) -> exp.Select:
    symbols = source_symbols(source, defs.parameters)
    derived = TABLES[source].derived

    def resolve(name: str) -> exp.Expression:
        constant = _constant(name, symbols, as_of)
        if constant is not None:
            return constant
        if name in derived:
            d = derived_column(source, name, defs.parameters)
            _note_features(d, features)
            return exp.Paren(this=render(d.tree, resolve=resolve, symbols=symbols, as_of=as_of))
        return exp.column(name)

    def r(e: Expr) -> exp.Expression:
        _note_features(e, features)
        return render(e.tree, resolve=resolve, symbols=symbols, as_of=as_of)

    select = exp.select(exp.column(ENTITY_KEY))
    for term in terms:
        agg = term.aggregate
        assert agg is not None
        of = r(agg.of) if agg.of else None
        meaning = AGGREGATES[agg.function]
        fn = meaning.sql(of)
        if agg.function == "count_distinct":
            features.add("count_distinct")
        if agg.where is not None:
            fn = exp.Filter(this=fn, expression=exp.Where(this=r(agg.where)))
            features.add("aggregate_filter")
        fn = meaning.finish(fn, term.type)
        select = select.select(exp.alias_(fn, term.name), copy=False)
    select = select.from_(source).where(_event_filter(source, as_of))
    if customer_ids is not None:
        select = select.where(exp.column(ENTITY_KEY).isin(
            *[exp.Literal.string(c) for c in customer_ids]))
    return select.group_by(exp.column(ENTITY_KEY))


def _note_features(e: Expr, features: set[str]) -> None:
    for node in e.tree.find_all(exp.Anonymous, exp.Cast):
        features.add("date_arithmetic")
        del node
        break
