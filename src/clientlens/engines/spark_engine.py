"""Apache Spark through PySpark: the nightly job over a Parquet lake.

The lake is a folder (local, HDFS, S3, ... whatever Spark reads):

    <lake>/customers/            Parquet files of each canonical table
    <lake>/accounts/
    <lake>/transactions/         may be partitioned, e.g. by month=2026-10
    ...
    <lake>/_clientlens/profiles/as_of=2026-10-31/     written by clientlens
    <lake>/_clientlens/entitlements/as_of=.../
    <lake>/_clientlens/entitlement_events/as_of=.../

The compiled plan is rendered in sqlglot's ``spark`` dialect and runs in
Spark's own engine: no Python UDFs, nothing per row in Python. ``master`` is
``local[*]`` by default and any cluster URL otherwise (or leave it to
spark-submit). Output partitions are written beside their place and renamed
over it, so a failed run leaves the previous snapshot of each table.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from clientlens.compiler.ddl import data_type
from clientlens.engines import sqltext
from clientlens.engines.base import FEATURES, Engine, Params, Query
from clientlens.model.errors import EngineError, WorkspaceError
from clientlens.model.tables import TABLES

OUTPUT = "_clientlens"
# Sessions by master: Spark allows one SparkContext per JVM, and starting one takes
# seconds, so a session is the process's, shared by its engines (never stopped by them).
_SESSIONS: dict[str, Any] = {}


def spark_session(master: str = "local[*]", config: dict[str, str] | None = None) -> Any:
    """One session per master for the process (starting one takes seconds)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("the spark engine needs pyspark: pip install 'clientlens[spark]'") \
            from None
    session = _SESSIONS.get(master)
    if session is None:
        builder = (SparkSession.builder.master(master).appName("clientlens")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.ansi.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "8"))
        for key, value in (config or {}).items():
            builder = builder.config(key, value)
        session = _SESSIONS[master] = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine(Engine):
    name: ClassVar[str] = "spark"
    dialect: ClassVar[str] = "spark"
    capabilities: ClassVar[frozenset[str]] = FEATURES - {"median", "partitioned_parquet",
                                                         "similar_text"}

    def __init__(self, lake: str | Path, *, master: str = "local[*]",
                 read_only: bool = False, config: dict[str, str] | None = None):
        self.lake = Path(lake)
        self.read_only = read_only
        if not read_only:
            self.lake.mkdir(parents=True, exist_ok=True)
        elif not self.lake.exists():
            raise WorkspaceError(f"lake {self.lake} does not exist")
        self.spark = spark_session(master, config)
        self.refresh()

    @classmethod
    def from_settings(cls, settings: Any, read_only: bool = False) -> SparkEngine:
        if not settings.lake:
            raise WorkspaceError("engine 'spark' needs 'lake' in clientlens.yaml: the folder "
                                 "(or hdfs:// / s3a:// path) with the Parquet tables")
        return cls(settings.lake, master=settings.spark_master, read_only=read_only)

    # -- tables ---------------------------------------------------------------
    def _schema(self, table: str) -> str:
        return ", ".join(f"{sqltext.ident(c.name, self.dialect)} {self._type(c)}"
                         for c in TABLES[table].columns)

    def refresh(self) -> None:
        """(Re)register a view per canonical table and per clientlens output table."""
        for name in TABLES:
            folder = self.lake / name
            if folder.exists() and any(folder.rglob("*.parquet")):
                df = self.spark.read.option("mergeSchema", "true").parquet(str(folder))
                # Cast to the model's types: Parquet writers differ (int32, decimal widths).
                df = df.selectExpr(*[
                    f"cast({self._ident(c.name) if c.name in df.columns else 'null'} "
                    f"as {self._type(c)}) as {self._ident(c.name)}"
                    for c in TABLES[name].columns])
            else:
                df = self.spark.createDataFrame([], self._schema(name))
            df.createOrReplaceTempView(name)
        out = self.lake / OUTPUT
        for folder in out.glob("*") if out.exists() else []:
            if folder.is_dir() and any(folder.rglob("*.parquet")):
                self.spark.read.option("mergeSchema", "true").parquet(str(folder)) \
                    .createOrReplaceTempView(folder.name)

    def _type(self, col: Any) -> str:
        return sqltext.data_type(data_type(col.type), self.dialect)

    def _ident(self, name: str) -> str:
        return sqltext.ident(name, self.dialect)

    # -- running --------------------------------------------------------------
    # A tree's named placeholders render as ``:name`` and bind from a dict, text's ``?``
    # from a list (https://spark.apache.org/docs/latest/sql-ref-syntax-aux-param-marker.html).
    def _sql(self, query: Query, params: Params = None) -> Any:
        sql, values = self.render(query, params)
        try:
            return self.spark.sql(sql, args=values) if values else self.spark.sql(sql)
        except Exception as e:  # noqa: BLE001 - py4j and pyspark raise many kinds
            raise EngineError(f"spark: {_first_line(e)}") from None

    def execute(self, query: Query, params: Params = None) -> None:
        self._sql(query, params).collect()

    def fetch_all(self, query: Query, params: Params = None) -> list[tuple]:
        return [tuple(r) for r in self._sql(query, params).collect()]

    def fetch_arrow(self, query: Query, params: Params = None) -> pa.Table:
        table = self._sql(query, params).toArrow()
        # Spark's TIMESTAMP carries the session zone (UTC); the model's timestamps are
        # wall-clock times without a zone, as DuckDB and PostgreSQL return them.
        fields = [pa.field(f.name, pa.timestamp(f.type.unit), f.nullable)
                  if pa.types.is_timestamp(f.type) and f.type.tz else f for f in table.schema]
        return table.cast(pa.schema(fields)) if fields != list(table.schema) else table

    def table_columns(self, table: str) -> list[str] | None:
        if not self.spark.catalog.tableExists(table):
            return None
        return list(self.spark.table(table).columns)

    def column_types(self, table: str) -> dict[str, exp.DataType] | None:
        if not self.spark.catalog.tableExists(table):
            return None
        return {f.name: _type(f.dataType.simpleString())
                for f in self.spark.table(table).schema.fields}

    def add_column(self, table: str, name: str, kind: exp.DataType | str) -> None:
        """Parquet partitions are read with mergeSchema: a new column needs no DDL."""

    def change_column_type(self, table: str, name: str, kind: exp.DataType | str, *,
                           keep: bool) -> None:
        """Parquet partitions of one table cannot disagree on a column's type (Spark's
        mergeSchema refuses), so every stored as-of partition is rewritten with the
        column converted (``keep``) or emptied, each beside its place and renamed over
        it."""
        from pyspark.sql import functions as f

        if self.read_only:
            raise EngineError("spark: the engine was opened read-only")
        spark_type = sqltext.data_type(kind, self.dialect)
        folder = self.lake / OUTPUT / table
        for part in sorted(folder.glob("as_of=*")) if folder.exists() else []:
            df = self.spark.read.parquet(str(part))
            if name not in df.columns:
                continue
            value = f.col(self._ident(name)) if keep else f.lit(None)
            staging = part.with_name(f".{part.name}.{uuid.uuid4().hex[:8]}")
            df.withColumn(name, value.cast(spark_type)).write.parquet(str(staging))
            old = part.with_name(f".{part.name}.old")
            part.rename(old)
            staging.rename(part)
            shutil.rmtree(old, ignore_errors=True)
        self.refresh()

    def replace_many(self, steps: list[tuple[str, exp.Expression | str, Query]]) -> list[int]:
        if self.read_only:
            raise EngineError("spark: the engine was opened read-only")
        written: list[tuple[Path, Path]] = []
        counts = []
        try:
            for table, where, select in steps:
                day = _as_of_partition(where)
                target = self.lake / OUTPUT / table / f"as_of={day.isoformat()}"
                staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
                df = self._sql(self.sql(select))
                if "as_of" in df.columns:
                    df = df.drop("as_of")  # the partition folder carries it
                df.write.mode("overwrite").parquet(str(staging))
                written.append((staging, target))
                counts.append(self.spark.read.parquet(str(staging)).count())
                # A later step may read what this one wrote: show it as the table now.
                self._stage_view(table, target, staging)
        except BaseException:
            for staging, _ in written:
                shutil.rmtree(staging, ignore_errors=True)
            self.refresh()
            raise
        for staging, target in written:
            old = target.with_name(f".{target.name}.old")
            if target.exists():
                target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        self.refresh()
        return counts

    def _stage_view(self, table: str, target: Path, staging: Path) -> None:
        from pyspark.sql import functions as f

        new = self.spark.read.parquet(str(staging)).withColumn(
            "as_of", f.lit(target.name.split("=", 1)[1]).cast("date"))
        folder = target.parent
        others = [p for p in folder.glob("as_of=*") if p != target] if folder.exists() else []
        if others:
            old = self.spark.read.option("mergeSchema", "true").option(
                "basePath", str(folder)).parquet(*[str(p) for p in others])
            new = old.unionByName(new, allowMissingColumns=True)
        new.createOrReplaceTempView(table)

    def load_tables(self, tables: Mapping[str, Callable[[], pa.RecordBatchReader]]) -> None:
        """Write each table as its lake folder (written beside it, renamed over it).
        Local lakes only; the folders are replaced one after another."""
        import pyarrow.parquet as pq

        if self.read_only:
            raise EngineError("spark: the engine was opened read-only")
        for table, open_reader in tables.items():
            target = self.lake / table
            staging = self.lake / f".{table}.{uuid.uuid4().hex[:8]}"
            staging.mkdir(parents=True)
            pq.write_table(open_reader().read_all(), staging / "part-0.parquet")
            old = self.lake / f".{table}.old"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        self.refresh()

    def export(self, select: Query, path: str, fmt: str, *,
               partition_by: str | None = None) -> None:
        if partition_by is not None:
            raise EngineError("spark: exports are single files; the lake is written by "
                              "clientlens lake-export")
        table = self.fetch_arrow(select)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, path)
        else:
            import pyarrow.csv as pc

            pc.write_csv(table, path)

    def close(self) -> None:
        """The session is shared by the process and stopped when it exits."""


def _as_of_partition(where: exp.Expression | str) -> dt.date:
    """The as_of date of a ``where`` that picks one partition: ``as_of = <date>``."""
    tree = sqlglot.parse_one(where, read="spark") if isinstance(where, str) else where
    day = None
    if isinstance(tree, exp.EQ) and isinstance(tree.this, exp.Column) and \
            tree.this.name == "as_of" and not tree.this.table:
        value = tree.expression
        if isinstance(value, exp.Cast | exp.TsOrDsToDate) and value.this.is_string:
            value = value.this
        if value.is_string:
            try:
                day = dt.date.fromisoformat(value.name)
            except ValueError:
                day = None
    if day is None:
        text = where if isinstance(where, str) else where.sql(dialect="spark")
        raise EngineError(f"spark: can only replace by as_of date, not {text}")
    return day


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _type(text: str) -> exp.DataType:
    try:
        return exp.DataType.build(text, dialect="spark")
    except (SqlglotError, ValueError):  # a type sqlglot does not know
        return exp.DataType.build("UNKNOWN")
