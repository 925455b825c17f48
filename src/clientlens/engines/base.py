"""What every engine adapter provides, and what it declares it can do.

Adapters are thin. A query comes in one of two forms:

- a sqlglot tree (what the services build, ``engines/query.py``): the engine renders it
  in its own dialect and binds its parameters its own way. Parameters are named
  placeholders (``exp.Placeholder(this="as_of")``, ``$as_of`` in text the services
  parse) with their values in a mapping: DuckDB binds ``$as_of``, Spark ``:as_of``,
  PostgreSQL ``$1``.
  A value a user typed never becomes SQL text.
- text already in the engine's dialect (what the compiler renders per dialect, and the
  engines' own statements), with ``?`` parameters in a list where the driver takes them.

Capabilities are data (``FEATURES``): what a compiled plan may need, checked at compile
time (see ``compiler.plan.check_capabilities``), so an unsupported feature is a named
error before anything runs; and what a service may ask of an engine beyond SQL, which
the service checks instead of asking which engine it has.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import pyarrow as pa
from sqlglot import exp

from clientlens.engines import sqltext
from clientlens.model.errors import EngineError

# What an engine may support; each engine lists the ones it does (``capabilities``).
FEATURES = frozenset({
    # needed by a compiled plan (checked by ``compiler.plan``)
    "aggregate_filter",   # SUM(x) FILTER (WHERE ...)
    "count_distinct",
    "date_arithmetic",    # days_between, date literals
    "decimal",            # exact DECIMAL(18, 2) money
    "median",
    "parquet_export",
    # asked for by services, which check before they ask
    "partitioned_parquet",  # export(..., partition_by=...): a folder of Parquet partitions
    "similar_text",         # jaro_winkler_similarity, for "did you mean" over customer ids
})

@dataclass(frozen=True)
class Prepared:
    """A tree as one engine renders it (``Engine.prepare``), to run many times with other
    values without rendering it again (a large query for one customer at a time)."""

    engine: str  # the name of the engine that rendered it
    sql: str
    names: tuple[str, ...]  # its parameters, in the order the engine binds them


# A query: a sqlglot tree, text already in the engine's dialect, or a prepared tree.
Query: TypeAlias = exp.Expression | str | Prepared
# Parameters: a mapping for a tree's named placeholders, a list for text's ``?``.
Params: TypeAlias = Mapping[str, Any] | Sequence[Any] | None


def placeholder_names(tree: exp.Expression) -> set[str]:
    """The names of a tree's parameters; an unnamed placeholder is a bug (a tree binds
    by name, so the order an engine renders its parts in never matters)."""
    names = set()
    for node in tree.find_all(exp.Placeholder):
        if not node.this:
            raise TypeError("a query tree takes named parameters (exp.Placeholder(this=...)), "
                            f"not '?': {tree.sql()[:200]}")
        names.add(node.name)
    return names


def bind(tree: exp.Expression, params: Params) -> dict[str, Any]:
    """The tree's parameter values by name: every placeholder has a value, and every
    value a placeholder (a misspelt name is a bug, not a silently unbound value)."""
    if params is not None and not isinstance(params, Mapping):
        raise TypeError("a query tree takes its parameters as a mapping by name")
    given = dict(params or {})
    names = placeholder_names(tree)
    if names != set(given):
        missing, unused = sorted(names - set(given)), sorted(set(given) - names)
        raise TypeError(f"query parameters do not match: no value for {missing}, "
                        f"no placeholder for {unused}")
    return given


class Engine(ABC):
    """An engine runs compiled SQL over the canonical tables."""

    name: ClassVar[str]
    dialect: ClassVar[str]  # a sqlglot dialect name
    capabilities: ClassVar[frozenset[str]]
    # True where the engine inlines CTEs and recomputes repeated expressions instead of
    # sharing them: the compiled plan then materializes its decision steps.
    fence_stages: ClassVar[bool] = False

    def prepare(self, tree: exp.Expression) -> Prepared:
        """The tree rendered once for this engine. Its named placeholders are rendered as
        the dialect writes them (``$name`` on DuckDB, ``:name`` on Spark) and bound by
        name; engines whose driver binds otherwise override this and ``bind_prepared``."""
        return Prepared(self.name, tree.sql(dialect=self.dialect),
                        tuple(sorted(placeholder_names(tree))))

    def bind_prepared(self, prepared: Prepared, params: Params) -> Any:
        """The parameters of a prepared query as the driver binds them (by name here)."""
        if prepared.engine != self.name:
            raise TypeError(f"a query prepared for {prepared.engine}, run on {self.name}")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError("a prepared query takes its parameters as a mapping by name")
        given = dict(params or {})
        if set(given) != set(prepared.names):
            raise TypeError(f"query parameters do not match: {sorted(prepared.names)} "
                            f"expected, {sorted(given)} given")
        return given or None

    def render(self, query: Query, params: Params = None) -> tuple[str, Any]:
        """``query`` as text of this engine's dialect, and its parameters as the driver
        binds them: a tree is prepared (``prepare``), text is passed as it is, with its
        list for its ``?``."""
        if isinstance(query, str):
            return query, (list(params) if params else None)
        if isinstance(query, exp.Expression):
            bind(query, params)  # every placeholder a value, every value a placeholder
            query = self.prepare(query)
        return query.sql, self.bind_prepared(query, params)

    def sql(self, query: Query) -> str:
        """A query without parameters as this engine's text (a where clause or select
        that ``replace_many`` or ``export`` puts into a statement of its own)."""
        text, values = self.render(query)
        if values:
            raise TypeError("this statement takes no parameters")
        return text

    @abstractmethod
    def execute(self, query: Query, params: Params = None) -> None: ...

    @abstractmethod
    def fetch_arrow(self, query: Query, params: Params = None) -> pa.Table: ...

    @abstractmethod
    def fetch_all(self, query: Query, params: Params = None) -> list[tuple]: ...

    def fetch_batches(self, query: Query, batch_rows: int = 50_000,
                      params: Params = None) -> pa.RecordBatchReader:
        """A query's result as a stream of batches, which exports write as they come
        (``platform/exports.py``). Engines that can stream override this; the default
        reads the whole result first."""
        table = self.fetch_arrow(query, params)
        return pa.RecordBatchReader.from_batches(table.schema,
                                                 table.to_batches(max_chunksize=batch_rows))

    @abstractmethod
    def table_columns(self, table: str) -> list[str] | None:
        """Column names of a table, or None when it does not exist."""

    def replace_rows(self, table: str, where: exp.Expression, select: Query) -> int:
        """In one transaction: delete rows matching ``where`` and insert ``select``.

        Creates ``table`` from the select when it does not exist yet. Readers see
        either the old rows or the new ones, never a mix. ``where`` is a tree (an engine
        that stores tables by partition reads the partition from it); neither takes
        parameters: their values are literals (``sqltext.literal_node``).
        """
        return self.replace_many([(table, where, select)])[0]

    @abstractmethod
    def replace_many(self, steps: list[tuple[str, exp.Expression, Query]]) -> list[int]:
        """``replace_rows`` for several (table, where, select) steps in one transaction,
        in order (a later select may read what an earlier step wrote); all or nothing."""

    def column_types(self, table: str) -> dict[str, exp.DataType] | None:
        """Each column's type, or None when the table does not exist."""
        raise EngineError(f"engine '{self.name}' cannot tell the types of its columns")

    def add_column(self, table: str, name: str, kind: exp.DataType | str) -> None:
        """Add a column to a stored table (older rows keep it empty). ``kind`` is a
        sqlglot type (or its text), rendered for the engine's dialect."""
        d = self.dialect
        self.execute(f"alter table {sqltext.table(table, d)} add column "
                     f"{sqltext.ident(name, d)} {sqltext.data_type(kind, d)}")

    def change_column_type(self, table: str, name: str, kind: exp.DataType | str, *,
                           keep: bool) -> None:
        """Give a stored column another type: older rows' values are converted when
        ``keep`` (a widening, e.g. integer to number), else emptied (they were
        computed by a definition of another type)."""
        dtype = sqltext.type_node(kind)
        using = exp.Cast(this=exp.column(sqltext.ident_node(name)) if keep else exp.Null(),
                         to=dtype)
        alter = exp.Alter(this=exp.table_(sqltext.ident_node(table)), kind="TABLE",
                          actions=[exp.AlterColumn(this=sqltext.ident_node(name), dtype=dtype,
                                                   using=using)])
        self.execute(alter.sql(dialect=self.dialect))

    def load_tables(self, tables: Mapping[str, Callable[[], pa.RecordBatchReader]]) -> None:
        """Replace the whole contents of canonical tables with rows already validated
        by the importer (each reader yields the table's model columns); all tables in
        one transaction. Engines that take imports this way override it."""
        raise EngineError(f"engine '{self.name}' cannot take imported tables")

    @abstractmethod
    def export(self, select: Query, path: str, fmt: str, *,
               partition_by: str | None = None) -> None:
        """Write the result of a query to a CSV or Parquet file; with ``partition_by``
        (engines with ``partitioned_parquet``), to a folder of Parquet files, one
        sub-folder per value of that column."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
