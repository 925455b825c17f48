"""Service queries as sqlglot trees: each engine renders them and binds their named
parameters its own way (engines/base.py, engines/query.py); the engine a command uses
is a parameter, not the environment; what is derived from definitions is kept with them.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlglot import exp
from typer.testing import CliRunner

from clientlens.engines.base import Engine
from clientlens.engines.query import col, fill, lit, param, parse
from clientlens.model.errors import EngineError, NotFoundError, WorkspaceError
from tests.support.services import URL, drop_pg_schema, require

HOSTILE = ["x' or '1'='1", "%s", "$1", "?", ":name", "a%%b", "back\\slash", "Ünïcode ✓"]


@pytest.fixture(params=("duckdb", "postgres"))
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "duckdb":
        from clientlens.engines.duckdb_engine import DuckDBEngine

        with DuckDBEngine() as e:
            yield e
        return
    require("postgres")
    from clientlens.engines.postgres_engine import PostgresEngine

    schema = f"cl_trees_{uuid.uuid4().hex[:10]}"
    e = PostgresEngine(URL, schema=schema)
    try:
        yield e
    finally:
        e.close()
        drop_pg_schema(schema)


def test_named_parameters_bind_by_name_with_any_text(engine: Engine) -> None:
    # A name used twice, one only in a CTE (rendered after the body by sqlglot), a '%'
    # in a literal and a modulo beside them: PostgreSQL's numbering and psycopg's '%'
    # must not get in the way, and no value is ever read as SQL.
    query = parse("with d as (select $a as a, $b as b) "
                  "select a, b, $a as again, 'it''s 100%' as pct, 7 % 4 as m from d "
                  "where a like '%' and b = $b")
    for value in HOSTILE:
        rows = engine.fetch_all(query, {"a": value, "b": value + "!"})
        assert rows == [(value, value + "!", value, "it's 100%", 3)]


def test_parameters_must_match_the_placeholders(engine: Engine) -> None:
    query = exp.select(param("a").as_("a"))
    with pytest.raises(TypeError, match="no value for \\['a'\\]"):
        engine.fetch_all(query, {})
    with pytest.raises(TypeError, match="no placeholder for \\['b'\\]"):
        engine.fetch_all(query, {"a": 1, "b": 2})
    with pytest.raises(TypeError, match="named parameters"):
        engine.fetch_all(exp.select(exp.Placeholder()), {})


def test_filled_slots_are_nodes_not_text(engine: Engine) -> None:
    day = dt.date(2026, 10, 31)
    query = fill(parse("select $day as d, $name as n"), day=lit(day), name=lit("a'b"))
    assert engine.fetch_all(query) == [(day, "a'b")]
    assert col('we"ird').sql("postgres") == '"we""ird"'
    with pytest.raises(TypeError, match="no slot"):
        fill(parse("select 1"), day=lit(day))


def test_spark_replaces_only_an_as_of_partition() -> None:
    from clientlens.engines.spark_engine import _as_of_partition

    day = dt.date(2026, 10, 31)
    assert _as_of_partition(exp.column("as_of").eq(lit(day))) == day
    assert _as_of_partition("as_of = date '2026-10-31'") == day
    for where in ("segment = 'x'", exp.column("as_of").eq(param("as_of")),
                  "as_of = date '2026-10-31' or true"):
        with pytest.raises(EngineError, match="can only replace by as_of date"):
            _as_of_partition(where)


def test_the_engine_option_reaches_the_workspace_not_the_environment(tmp_path: Path,
                                                                     monkeypatch) -> None:  # noqa: ANN001
    from clientlens.faces.cli import app

    monkeypatch.delenv("CLIENTLENS_ENGINE", raising=False)
    monkeypatch.delenv("CLIENTLENS_POSTGRES_URL", raising=False)
    runner = CliRunner()
    root = tmp_path / "bank"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    # The settings say duckdb; the option says postgres, which needs a URL the
    # settings do not have: the refusal shows the option was used.
    chosen = runner.invoke(app, ["--engine", "postgres", "summary", "-w", str(root)])
    assert isinstance(chosen.exception, WorkspaceError)
    assert "needs postgres_url" in str(chosen.exception)
    assert "CLIENTLENS_ENGINE" not in os.environ
    # ... and only for that command.
    after = runner.invoke(app, ["summary", "-w", str(root)])
    assert isinstance(after.exception, NotFoundError)
    assert "no profiles yet" in str(after.exception)


def test_plans_are_kept_with_the_definitions_that_made_them() -> None:
    from clientlens.definitions.rulebook import load_definitions
    from clientlens.engines.duckdb_engine import DuckDBEngine
    from clientlens.services.profiling.segmentation import plan_sql
    from clientlens.services.relationship.reevaluation import base_terms_for
    from clientlens.services.workspace.folder import DEFAULTS

    one, two = load_definitions(DEFAULTS), load_definitions(DEFAULTS)
    day = dt.date(2026, 10, 31)
    with DuckDBEngine() as e:
        first = plan_sql(one, day, e)
        assert plan_sql(one, day, e) is first  # compiled once for these definitions
        assert plan_sql(two, day, e) is not first and plan_sql(two, day, e) == first
    assert base_terms_for(one) is base_terms_for(one)
    assert base_terms_for(two) is not base_terms_for(one)
