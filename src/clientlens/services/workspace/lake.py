"""Write the embedded warehouse out as a Parquet lake for the Spark engine.

    <lake>/customers/part-0.parquet
    <lake>/accounts/part-0.parquet
    <lake>/transactions/month=2026-10/...   event tables partitioned by month,
    <lake>/interactions/month=2026-10/...   so a run reads only the months it needs
    ...

Each table is written to a folder of its own beside its place (a unique name, so
two exports at once do not write into each other's) and renamed over it, so a
failed export leaves the previous lake table whole and two exports at once leave
one whole table, the last one's. The folders are private to their owner like the
workspace (the command line's umask): grant the Spark user access deliberately.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from clientlens.engines.base import Engine
from clientlens.engines.query import col, lit, table
from clientlens.model.errors import ClientlensError
from clientlens.model.tables import TABLES, ColumnType
from clientlens.platform import files

PARTITIONED = ("transactions", "interactions")


@dataclass(frozen=True)
class LakeTable:
    table: str
    rows: int
    path: Path


def export_lake(engine: Engine, lake: Path,
                tables: Sequence[str] | None = None) -> list[LakeTable]:
    """Write ``tables`` (default: every canonical table) as lake folders, from an engine
    that writes partitioned Parquet (the embedded DuckDB warehouse)."""
    if "partitioned_parquet" not in engine.capabilities:
        raise ClientlensError("lake-export reads the embedded DuckDB warehouse")
    if "://" in str(lake):
        raise ClientlensError(f"lake {lake}: clientlens writes local lake folders only; copy "
                              "them to the cluster's storage with its own tools")
    files.ensure_folder(lake)
    out = []
    for name in tables or TABLES:
        spec = TABLES[name]
        target = lake / name
        staging = Path(tempfile.mkdtemp(dir=lake, prefix=f".{name}.", suffix=".writing"))
        select = exp.select(*(col(c) for c in spec.column_names)).from_(table(name))
        (rows,) = engine.fetch_all(exp.select(exp.Count(this=exp.Star())).from_(table(name)))[0]
        time_col = spec.event_time
        if name in PARTITIONED and time_col and \
                spec.column(time_col).type == ColumnType.TIMESTAMP:
            month = exp.TimeToStr(this=col(time_col), format=lit("%Y-%m"))
            engine.export(select.select(exp.alias_(month, "month")), str(staging), "parquet",
                          partition_by="month")
        else:
            engine.export(select, str(staging / "part-0.parquet"), "parquet")
        _swap(staging, target)
        out.append(LakeTable(name, int(rows), target))
    return out


def _swap(staging: Path, target: Path) -> None:
    """Put the folder ``staging`` in place of ``target``. A folder cannot be renamed over
    a non-empty one, so the old one is first moved aside (to a unique name); when
    another export puts its folder in place between the two renames, ours is retried.
    """
    try:
        for _ in range(100):
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".old"))
            try:
                target.rename(old / "table")
            except FileNotFoundError:
                pass
            try:
                staging.rename(target)
                return
            except OSError:  # another export's folder arrived first: move it aside too
                continue
            finally:
                shutil.rmtree(old, ignore_errors=True)
        raise ClientlensError(f"could not put {target} in place: other exports keep "
                              "replacing it")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
