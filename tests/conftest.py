"""Shared test setup: the services every engine needs, as fixtures.

PostgreSQL comes from CLIENTLENS_TEST_POSTGRES_URL (default: the local server with
trust auth); Spark runs locally when pyspark and Java are installed. A missing
service skips its tests, unless CLIENTLENS_REQUIRE_SERVICES is set (CI), where it
fails them. Helpers that are not fixtures live in ``tests/support/``; the reference
oracle in ``tests/oracle/``.

Rich sizes tables to the terminal; under pytest-xdist workers have none and tables
were cut at 80 columns, hiding ids the tests look for. Every test sees the same
wide terminal, whatever runs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.services import URL, drop_pg_schema, new_pg_schema, require

os.environ["COLUMNS"] = "200"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server's URL, once it answers."""
    require("postgres")
    return URL


@pytest.fixture(scope="session")
def spark_available() -> None:
    """Spark in local mode: pyspark and Java 17 on PATH."""
    require("spark")


@pytest.fixture
def pg_schema(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A schema of this test's own, dropped afterwards (with everything in it)."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    schema = new_pg_schema("".join(c for c in module if c.isalpha())[:12] or "test")
    try:
        yield schema
    finally:
        drop_pg_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def app_db_settings(request: pytest.FixtureRequest) -> Iterator[str]:
    """Settings lines for a workspace's application database, on each kind: SQLite in
    the workspace (the default: no lines), or an empty PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield ""
        return
    url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("pg_schema")
    yield f"app_db: {url}\napp_db_schema: {schema}\n"
