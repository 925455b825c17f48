"""DuckDB: the embedded default engine. Nothing to install beyond the package."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import SqlglotError

from clientlens.compiler.ddl import create_table, data_type
from clientlens.engines import sqltext
from clientlens.engines.base import FEATURES, Engine, Params, Query
from clientlens.model.errors import EngineError, WorkspaceError
from clientlens.model.tables import TABLES


class WarehouseInUse(WorkspaceError):
    """Another process holds the DuckDB file: DuckDB lets one process open a database
    for writing, and no other process open it at all meanwhile
    (https://duckdb.org/docs/current/connect/concurrency)."""

    def __init__(self, path: str, pid: int | None, command: str):
        self.path, self.pid = path, pid
        self.serving = "serve" in command.split() and "clientlens" in command
        who = f"PID {pid}" if pid is not None else "another process"
        if self.serving:
            message = (f"the warehouse {path} is held by `clientlens serve` ({who}): DuckDB "
                       "lets one process open it at a time. `import`, `run`, `summary`, "
                       "`explain`, `reevaluate` and the customer lists hand their work to "
                       "the service; for this command stop it and start it again after")
        else:
            what = f" ({command[:80]})" if command else ""
            message = (f"the warehouse {path} is in use by {who}{what}: DuckDB lets one "
                       "process open it at a time. Wait for it to finish, or stop it, and "
                       "try again")
        super().__init__(message)


def lock_holder(message: str) -> tuple[int | None, str] | None:
    """(PID, command line) of the process DuckDB says holds the file's lock, from its
    "Could not set lock ... (PID n)" message; None for any other error."""
    if "Could not set lock" not in message and "Conflicting lock" not in message:
        return None
    found = re.search(r"\(PID (\d+)\)", message)
    pid = int(found.group(1)) if found else None
    command = ""
    if pid is not None:
        try:  # Linux; elsewhere the PID alone is said
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0")
                               if part)
        except OSError:
            pass
    return pid, command


class DuckDBEngine(Engine):
    name: ClassVar[str] = "duckdb"
    dialect: ClassVar[str] = "duckdb"
    capabilities: ClassVar[frozenset[str]] = FEATURES  # every one, partitions included

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False,
                 memory_limit: str | None = None, threads: int | None = None,
                 temp_directory: str | Path | None = None):
        self.path = str(path)
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        if temp_directory:
            # Where DuckDB spills when a job is larger than memory_limit.
            config["temp_directory"] = str(temp_directory)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.IOException as e:
            held = lock_holder(str(e))
            if held is not None:
                raise WarehouseInUse(self.path, *held) from None
            raise WorkspaceError(f"cannot open warehouse {self.path}: {e}") from e
        # DuckDB's own progress bar would draw over the CLI's Rich output.
        self.con.execute("set enable_progress_bar = false")
        if not read_only:
            self.ensure_schema()

    # -- schema -------------------------------------------------------------
    def ensure_schema(self) -> None:
        for table in TABLES.values():
            self.con.execute(create_table(table, self.dialect))
            # A warehouse made by an older version gains the model's new columns.
            have = set(self.table_columns(table.name) or [])
            for col in table.columns:
                if col.name not in have:
                    self.add_column(table.name, col.name, data_type(col.type))

    # -- running ------------------------------------------------------------
    # A tree's named placeholders render as ``$name`` and bind from a dict
    # (https://duckdb.org/docs/stable/clients/python/dbapi#named-parameters); text keeps ``?``.
    def execute(self, query: Query, params: Params = None) -> None:
        sql, values = self.render(query, params)
        try:
            self.con.execute(sql, values or [])
        except duckdb.Error as e:
            raise EngineError(f"duckdb: {e}") from e

    def fetch_arrow(self, query: Query, params: Params = None) -> pa.Table:
        sql, values = self.render(query, params)
        return self.con.sql(sql, params=values or None).to_arrow_table()

    def fetch_all(self, query: Query, params: Params = None) -> list[tuple]:
        sql, values = self.render(query, params)
        return self.con.execute(sql, values or []).fetchall()

    def fetch_batches(self, query: Query, batch_rows: int = 50_000,
                      params: Params = None) -> pa.RecordBatchReader:
        # Streamed from DuckDB: an export of any size holds one batch in memory.
        sql, values = self.render(query, params)
        return self.con.cursor().sql(sql, params=values or None).to_arrow_reader(batch_rows)

    def table_columns(self, table: str) -> list[str] | None:
        rows = self.con.execute(
            "select column_name from information_schema.columns "
            "where table_name = ? and table_schema = current_schema() order by ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows] or None

    def column_types(self, table: str) -> dict[str, exp.DataType] | None:
        rows = self.con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? and table_schema = current_schema() order by ordinal_position",
            [table],
        ).fetchall()
        return {name: _type(kind) for name, kind in rows} or None

    def replace_many(self, steps: list[tuple[str, exp.Expression | str, Query]]) -> list[int]:
        con = self.con
        counts = []
        con.execute("begin transaction")
        try:
            for table, where, select in steps:
                where_sql, select_sql = self.sql(where), self.sql(select)
                name = sqltext.table(table, self.dialect)
                if self.table_columns(table) is None:
                    con.execute(f"create table {name} as {select_sql}")
                else:
                    con.execute(f"delete from {name} where {where_sql}")
                    con.execute(f"insert into {name} by name {select_sql}")
                (count,) = con.execute(
                    f"select count(*) from {name} where {where_sql}").fetchone()
                counts.append(int(count))
            con.execute("commit")
        except duckdb.Error as e:
            con.execute("rollback")
            raise EngineError(f"duckdb: {str(e).splitlines()[0]}; nothing was changed") from e
        except BaseException:
            con.execute("rollback")
            raise
        return counts

    def cursor(self) -> DuckDBEngine:
        """An engine over a new cursor of this connection: the same database and settings,
        for use by another thread (a DuckDB connection is not shared across threads)."""
        other = DuckDBEngine.__new__(DuckDBEngine)
        other.path = self.path
        other.con = self.con.cursor()
        other.con.execute("set enable_progress_bar = false")
        return other

    def load_tables(self, tables: Mapping[str, Callable[[], pa.RecordBatchReader]]) -> None:
        """Replace the tables' rows with the readers' rows, all in one transaction."""
        con = self.con
        con.execute("begin transaction")
        try:
            for table, open_reader in tables.items():
                reader = open_reader()
                cols = sqltext.idents(reader.schema.names, self.dialect)
                name = sqltext.table(table, self.dialect)
                con.execute(f"delete from {name}")
                con.register("_clientlens_load", reader)
                try:
                    con.execute(f"insert into {name} ({cols}) select {cols} "
                                "from _clientlens_load")
                finally:
                    con.unregister("_clientlens_load")
            con.execute("commit")
        except duckdb.Error as e:
            con.execute("rollback")
            raise EngineError(f"duckdb: {str(e).splitlines()[0]}; nothing was changed") from e
        except BaseException:
            con.execute("rollback")
            raise

    def export(self, select: Query, path: str, fmt: str, *,
               partition_by: str | None = None) -> None:
        options = {"csv": "(format csv, header true)", "parquet": "(format parquet)"}[fmt]
        if partition_by is not None:
            if fmt != "parquet":
                raise EngineError("duckdb: only Parquet exports are partitioned")
            column = sqltext.ident(partition_by, self.dialect)
            options = f"(format parquet, partition_by ({column}))"
        # The path is a bound parameter, after the query's own (positional: ``?`` text).
        self.execute(f"copy ({self.sql(select)}) to ? {options}", [path])

    def close(self) -> None:
        self.con.close()


def _type(text: str) -> exp.DataType:
    try:
        return exp.DataType.build(text, dialect="duckdb")
    except (SqlglotError, ValueError):  # a type sqlglot does not know
        return exp.DataType.build("UNKNOWN")
