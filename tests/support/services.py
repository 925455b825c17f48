"""Workspaces and engines on DuckDB, PostgreSQL and Spark for the adversarial tests.

PostgreSQL comes from CLIENTLENS_TEST_POSTGRES_URL (default: the local server with
trust auth), each test in a schema of its own, dropped afterwards. Spark runs
locally (``local[2]``) when pyspark and Java are installed. Either is skipped when
missing, unless CLIENTLENS_REQUIRE_SERVICES is set.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from clientlens.model.tables import TABLES
from clientlens.services.workspace.folder import Workspace, init_workspace

URL = os.environ.get("CLIENTLENS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
ENGINES = ("duckdb", "postgres", "spark")


def unavailable(why: str) -> None:
    if os.environ.get("CLIENTLENS_REQUIRE_SERVICES"):
        pytest.fail(f"required here: {why}")
    pytest.skip(why)


def require(engine: str) -> None:
    """Skip (or fail, in CI) when the engine's server or runtime is missing."""
    if engine == "postgres":
        psycopg = pytest.importorskip("psycopg")
        try:
            psycopg.connect(URL, connect_timeout=5).close()
        except psycopg.Error as e:
            unavailable(f"no PostgreSQL at {URL}: {e}")
    elif engine == "spark":
        pytest.importorskip("pyspark")
        if shutil.which("java") is None:
            unavailable("Spark needs Java 17 on PATH")


#: Schemas that tests make for themselves (``cl_<module>_<hex>``): other tests running at
#: the same time (pytest-xdist, or another checkout's tests on the same server) create and
#: drop them, so comparisons of the server's schemas leave them out.
TEST_SCHEMA = re.compile(r"cl_[a-z]+_[0-9a-f]{6,32}")


def pg_schemas() -> set[str]:
    """The server's schemas, except those tests make for themselves (TEST_SCHEMA)."""
    import psycopg

    with psycopg.connect(URL) as con:
        return {r[0] for r in con.execute("select nspname from pg_namespace").fetchall()
                if not TEST_SCHEMA.fullmatch(r[0])}


def new_pg_schema(prefix: str) -> str:
    """A fresh schema name for one test (``cl_<prefix>_<hex>``, see TEST_SCHEMA)."""
    return f"cl_{prefix}_{uuid.uuid4().hex[:10]}"


def drop_pg_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(URL, autocommit=True) as con:
        con.execute(f'drop schema if exists "{schema}" cascade')  # a test's own name


def make_workspace(root: Path, engine: str) -> tuple[Path, str | None]:
    """A workspace with the default definitions on ``engine``; returns (root, the
    PostgreSQL schema to drop afterwards)."""
    require(engine)
    init_workspace(root)
    settings = root / "clientlens.yaml"
    text = settings.read_text(encoding="utf-8")
    schema = None
    if engine == "postgres":
        schema = new_pg_schema("sqli")
        text = text.replace("engine: duckdb", "engine: postgres") + \
            f"postgres_url: {URL}\npostgres_schema: {schema}\n"
    elif engine == "spark":
        text = text.replace("engine: duckdb", "engine: spark") + \
            "lake: lake\nspark_master: local[2]\n"
    settings.write_text(text, encoding="utf-8")
    return root, schema


def engine_workspace(engine: str, tmp_path: Path) -> Iterator[Path]:
    """For a fixture: a workspace on ``engine``, its PostgreSQL schema dropped after."""
    root, schema = make_workspace(tmp_path / "bank", engine)
    yield root
    if schema:
        drop_pg_schema(schema)


def stored(root: Path, table: str) -> list[dict[str, Any]]:
    """A canonical table's rows as the workspace's engine holds them, sorted by key.
    Spark's lake is read with pyarrow: the tests need no Spark session for this."""
    ws = Workspace(root)
    key = TABLES[table].primary_key
    if ws.settings.engine == "spark":
        folder = ws.lake_path / table
        if not folder.exists():
            return []
        rows = pq.read_table(folder).to_pylist()
    else:
        with ws.engine(read_only=True) as engine:
            if engine.table_columns(table) is None:
                return []
            rows = engine.fetch_arrow(f"select * from {table}").to_pylist()
    return sorted(rows, key=lambda r: str(r[key]))
