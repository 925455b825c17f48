"""What every engine adapter provides, and what it declares it can do.

Adapters are thin: they run SQL that the compiler rendered for their sqlglot
dialect. Capabilities are data, checked at compile time (see
``compiler.plan.check_capabilities``), so an unsupported feature is a named
error before anything runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pyarrow as pa
from sqlglot import exp

from clientlens.engines import sqltext
from clientlens.model.errors import EngineError

# Features a compiled plan may need; an engine lists the ones it supports.
FEATURES = frozenset({
    "aggregate_filter",   # SUM(x) FILTER (WHERE ...)
    "count_distinct",
    "date_arithmetic",    # days_between, date literals
    "decimal",            # exact DECIMAL(18, 2) money
    "median",
    "parquet_export",
})


class Engine(ABC):
    """An engine runs compiled SQL over the canonical tables."""

    name: ClassVar[str]
    dialect: ClassVar[str]  # a sqlglot dialect name
    capabilities: ClassVar[frozenset[str]]
    # True where the engine inlines CTEs and recomputes repeated expressions instead of
    # sharing them: the compiled plan then materializes its decision steps.
    fence_stages: ClassVar[bool] = False

    @abstractmethod
    def execute(self, sql: str, params: list[Any] | None = None) -> None: ...

    @abstractmethod
    def fetch_arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table: ...

    @abstractmethod
    def fetch_all(self, sql: str, params: list[Any] | None = None) -> list[tuple]: ...

    def fetch_batches(self, sql: str, batch_rows: int = 50_000) -> pa.RecordBatchReader:
        """A query's result as a stream of batches, which exports write as they come
        (``platform/exports.py``). Engines that can stream override this; the default
        reads the whole result first."""
        table = self.fetch_arrow(sql)
        return pa.RecordBatchReader.from_batches(table.schema,
                                                 table.to_batches(max_chunksize=batch_rows))

    @abstractmethod
    def table_columns(self, table: str) -> list[str] | None:
        """Column names of a table, or None when it does not exist."""

    def replace_rows(self, table: str, where_sql: str, select_sql: str) -> int:
        """In one transaction: delete rows matching ``where_sql`` and insert ``select_sql``.

        Creates ``table`` from the select when it does not exist yet. Readers see
        either the old rows or the new ones, never a mix.
        """
        return self.replace_many([(table, where_sql, select_sql)])[0]

    @abstractmethod
    def replace_many(self, steps: list[tuple[str, str, str]]) -> list[int]:
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
    def export(self, select_sql: str, path: str, fmt: str) -> None:
        """Write the result of a query to a CSV or Parquet file."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
