"""Write the embedded warehouse out as a Parquet lake for the Spark engine.

    <lake>/customers/part-0.parquet
    <lake>/accounts/part-0.parquet
    <lake>/transactions/month=2026-10/...   event tables partitioned by month,
    <lake>/interactions/month=2026-10/...   so a run reads only the months it needs
    ...

Each table is written to a folder beside its place and renamed over it, so a
failed export leaves the previous lake table whole.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clientlens.engines import sqltext
from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.errors import ClientlensError
from clientlens.model.tables import TABLES, ColumnType

PARTITIONED = ("transactions", "interactions")


@dataclass(frozen=True)
class LakeTable:
    table: str
    rows: int
    path: Path


def export_lake(engine: DuckDBEngine, lake: Path,
                tables: Sequence[str] | None = None) -> list[LakeTable]:
    """Write ``tables`` (default: every canonical table) as lake folders."""
    if not isinstance(engine, DuckDBEngine):
        raise ClientlensError("lake-export reads the embedded DuckDB warehouse")
    if "://" in str(lake):
        raise ClientlensError(f"lake {lake}: clientlens writes local lake folders only; copy "
                              "them to the cluster's storage with its own tools")
    lake.mkdir(parents=True, exist_ok=True)
    out = []
    for name in tables or TABLES:
        spec = TABLES[name]
        target = lake / name
        staging = lake / f".{name}.writing"
        shutil.rmtree(staging, ignore_errors=True)
        d = engine.dialect
        cols, source = sqltext.idents(spec.column_names, d), sqltext.table(name, d)
        (rows,) = engine.fetch_all(f"select count(*) from {source}")[0]
        time_col = spec.event_time
        # The paths are bound parameters.
        if name in PARTITIONED and time_col and \
                spec.column(time_col).type == ColumnType.TIMESTAMP:
            engine.execute(
                f"copy (select {cols}, strftime({sqltext.ident(time_col, d)}, '%Y-%m') as month "
                f"from {source}) to ? (format parquet, partition_by (month))", [str(staging)])
        else:
            staging.mkdir(parents=True)
            engine.execute(f"copy (select {cols} from {source}) to ? (format parquet)",
                           [str(staging / "part-0.parquet")])
        old = lake / f".{name}.old"
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        out.append(LakeTable(name, int(rows), target))
    return out

