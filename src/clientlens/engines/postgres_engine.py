"""PostgreSQL: the warehouse and the nightly job inside a PostgreSQL schema.

For mid-size banks that keep everything in PostgreSQL. The compiled plan is
rendered in sqlglot's ``postgres`` dialect; tables live in one schema (default
``clientlens``) so a workspace never touches the bank's other tables. Needs the
``postgres`` extra (psycopg 3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError

from clientlens.compiler.ddl import create_table, data_type
from clientlens.engines import sqltext
from clientlens.engines.base import FEATURES, Engine, Params, Prepared, Query
from clientlens.model.errors import EngineError, WorkspaceError
from clientlens.model.tables import TABLES

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?")


def _placeholders(sql: str) -> str:
    """Text with DuckDB-style ``?`` parameters, for psycopg's ``%s``. Only for text a
    caller still writes by hand with parameters (``faces/api.py``, until its queries
    move behind services, issue 18); query trees never come here."""
    sql = sql.replace("%", "%%")
    return _PLACEHOLDER.sub(lambda m: "%s" if m.group(0) == "?" else m.group(0), sql)


class _Numbered(Postgres.Generator):
    """PostgreSQL's own ``$1``, ``$2`` for a tree's named placeholders, numbered by name
    as the generator meets them (a name used twice is one parameter). Sent through
    psycopg's RawCursor, which passes ``$n`` to the server as it is, so a ``%`` in the
    query (a LIKE pattern, a modulo) needs no escaping
    (https://www.psycopg.org/psycopg3/docs/advanced/cursors.html#raw-query-cursors)."""

    def placeholder_sql(self, expression: exp.Placeholder) -> str:
        names: dict[str, int] = self.__dict__.setdefault("numbered", {})
        return f"${names.setdefault(expression.name, len(names) + 1)}"


_DIALECT = Postgres()
_COLUMNS = sqlglot.parse_one(
    "select column_name from information_schema.columns where table_name = :table "
    "and table_schema = :schema order by ordinal_position", read="postgres")
_COLUMN_TYPES = sqlglot.parse_one(
    "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
    "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
    "where c.relname = :table and n.nspname = :schema and a.attnum > 0 and not a.attisdropped "
    "order by a.attnum", read="postgres")


class PostgresEngine(Engine):
    name: ClassVar[str] = "postgres"
    dialect: ClassVar[str] = "postgres"
    capabilities: ClassVar[frozenset[str]] = FEATURES - {"median", "partitioned_parquet",
                                                         "similar_text"}
    # PostgreSQL inlines single-use CTEs without common-subexpression elimination:
    # unfenced, the ranking of reasons recomputed each points table dozens of times
    # (9 s instead of 0.2 s for 3,000 customers).
    fence_stages: ClassVar[bool] = True

    def __init__(self, url: str, *, schema: str = "clientlens", read_only: bool = False):
        try:
            import psycopg
        except ImportError:
            raise EngineError("the postgres engine needs psycopg: pip install "
                              "'clientlens[postgres]'") from None
        if not sqltext.is_plain_name(schema):
            raise WorkspaceError(f"postgres schema {schema!r} must be lower-case letters, "
                                 "digits and '_', starting with a letter or '_' (at most 63)")
        self.schema = schema
        self._psycopg = psycopg
        try:
            self.con = psycopg.connect(url, autocommit=True)
        except psycopg.Error as e:
            raise WorkspaceError(f"cannot connect to PostgreSQL: {_first_line(e)}") from None
        quoted = sqltext.ident(schema, self.dialect)
        try:
            with self.con.cursor() as cur:
                # The services' literals are rendered with '' for a quote and nothing else;
                # a server configured to read backslashes as escapes would read them
                # otherwise (https://www.postgresql.org/docs/current/runtime-config-compatible.html).
                cur.execute("set standard_conforming_strings = on")
                if not read_only:
                    cur.execute(f"create schema if not exists {quoted}")
                cur.execute(f"set search_path to {quoted}")
        except psycopg.Error as e:
            self.con.close()
            raise WorkspaceError(f"postgres schema '{schema}': {_first_line(e)}") from None
        if not read_only:
            self.ensure_schema()

    @classmethod
    def from_settings(cls, settings: Any, read_only: bool = False) -> PostgresEngine:
        if not settings.postgres_url:
            raise WorkspaceError("engine 'postgres' needs postgres_url in clientlens.yaml "
                                 "(or CLIENTLENS_POSTGRES_URL), e.g. "
                                 "postgresql://user@127.0.0.1:5432/bank")
        return cls(settings.postgres_url, schema=settings.postgres_schema, read_only=read_only)

    # -- schema -------------------------------------------------------------
    def ensure_schema(self) -> None:
        for table in TABLES.values():
            self._run(create_table(table, self.dialect))
            have = set(self.table_columns(table.name) or [])
            for col in table.columns:
                if col.name not in have:
                    self.add_column(table.name, col.name, data_type(col.type))

    # -- running ------------------------------------------------------------
    def prepare(self, tree: exp.Expression) -> Prepared:
        generator = _Numbered(dialect=_DIALECT)
        sql = generator.generate(tree)
        return Prepared(self.name, sql, tuple(generator.__dict__.get("numbered", {})))

    def bind_prepared(self, prepared: Prepared, params: Params) -> Any:
        values = super().bind_prepared(prepared, params)
        return [values[name] for name in prepared.names] if values else None

    def render(self, query: Query, params: Params = None) -> tuple[str, Any]:
        if isinstance(query, str):
            return (_placeholders(query), list(params)) if params else (query, None)
        return super().render(query, params)

    def _run(self, query: Query, params: Params = None) -> Any:
        sql, values = self.render(query, params)
        # ``$n`` of a rendered tree go to the server as they are (RawCursor); text with
        # ``?`` was given psycopg's ``%s`` by ``render``.
        cur = self._psycopg.RawCursor(self.con) if values is not None and \
            not isinstance(query, str) else self.con.cursor()
        try:
            cur.execute(sql, values)
        except self._psycopg.Error as e:
            cur.close()
            raise EngineError(f"postgres: {_first_line(e)}") from None
        return cur

    def execute(self, query: Query, params: Params = None) -> None:
        self._run(query, params).close()

    def fetch_all(self, query: Query, params: Params = None) -> list[tuple]:
        with self._run(query, params) as cur:
            return [tuple(r) for r in cur.fetchall()]

    def fetch_arrow(self, query: Query, params: Params = None) -> pa.Table:
        with self._run(query, params) as cur:
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    def table_columns(self, table: str) -> list[str] | None:
        rows = self.fetch_all(_COLUMNS, {"table": table, "schema": self.schema})
        return [r[0] for r in rows] or None

    def column_types(self, table: str) -> dict[str, exp.DataType] | None:
        # format_type gives the full type, e.g. numeric(38,2), double precision.
        rows = self.fetch_all(_COLUMN_TYPES, {"table": table, "schema": self.schema})
        return {name: _type(kind) for name, kind in rows} or None

    def replace_many(self, steps: list[tuple[str, exp.Expression | str, Query]]) -> list[int]:
        counts = []
        try:
            with self.con.transaction():
                for table, where, select in steps:
                    where_sql, select_sql = self.sql(where), self.sql(select)
                    name = sqltext.table(table, self.dialect)
                    if self.table_columns(table) is None:
                        self._run(f"create table {name} as {select_sql}").close()
                    else:
                        with self._run(f"select * from ({select_sql}) s limit 0") as cur:
                            cols = sqltext.idents((d.name for d in cur.description),
                                                  self.dialect)
                        self._run(f"delete from {name} where {where_sql}").close()
                        self._run(f"insert into {name} ({cols}) select {cols} from "
                                  f"({select_sql}) s").close()
                    counts.append(int(self.fetch_all(
                        f"select count(*) from {name} where {where_sql}")[0][0]))
        except EngineError as e:
            raise EngineError(f"{e}; nothing was changed") from None
        return counts

    def load_tables(self, tables: Mapping[str, Callable[[], pa.RecordBatchReader]]) -> None:
        """COPY each table's rows in, replacing what was there, in one transaction."""
        import pyarrow.csv as pacsv

        # Every valid value quoted, NULL as an unquoted empty field: PostgreSQL's CSV
        # format then tells an empty string from a missing value.
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        try:
            with self.con.transaction(), self.con.cursor() as cur:
                for table, open_reader in tables.items():
                    reader = open_reader()
                    cols = sqltext.idents(reader.schema.names, self.dialect)
                    name = sqltext.table(table, self.dialect)
                    cur.execute(f"delete from {name}")
                    with cur.copy(f"copy {name} ({cols}) from stdin with (format csv)") as copy:
                        for batch in reader:
                            buf = pa.BufferOutputStream()
                            pacsv.write_csv(pa.Table.from_batches([batch]), buf, options)
                            copy.write(buf.getvalue().to_pybytes())
        except self._psycopg.Error as e:
            raise EngineError(f"postgres: {_first_line(e)}; nothing was changed") from None

    def export(self, select: Query, path: str, fmt: str, *,
               partition_by: str | None = None) -> None:
        if partition_by is not None:
            raise EngineError("postgres: exports are single files, not partitioned folders")
        select_sql = self.sql(select)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(self.fetch_arrow(select_sql), path)
            return
        with Path(path).open("wb") as out, self.con.cursor() as cur:
            with cur.copy(f"copy ({select_sql}) to stdout with (format csv, header true)") \
                    as copy:
                for chunk in copy:
                    out.write(chunk)

    def close(self) -> None:
        self.con.close()


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _type(text: str) -> exp.DataType:
    try:
        return exp.DataType.build(text, dialect="postgres")
    except (SqlglotError, ValueError):  # a type sqlglot does not know
        return exp.DataType.build("UNKNOWN")
