"""The same definitions on DuckDB and on a real PostgreSQL give identical profiles.

Random banks (the generator of test_segmentation_reference: NULLs, window and
threshold boundaries, customers without accounts, business customers, Cyrillic
text, empty tables) are loaded into both engines; every profile column of every
customer must be equal, and so must the entitlement events.

PostgreSQL comes from CLIENTLENS_TEST_POSTGRES_URL (default: the local server
with trust auth); scripts/test starts it when it is not running.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.tables import TABLES
from clientlens.services.profiling.segmentation import run_segmentation, segment_summary
from tests.oracle.banks import AS_OF, DEFS, banks, load, same
from tests.support.cli import cli
from tests.support.services import drop_pg_schema, new_pg_schema


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator:
    from clientlens.engines.postgres_engine import PostgresEngine

    schema = new_pg_schema("test")
    engine = PostgresEngine(postgres_url, schema=schema)
    yield engine
    engine.close()
    drop_pg_schema(schema)


def load_pg(engine, bank: dict[str, list[dict]]) -> None:  # noqa: ANN001
    for name in reversed(list(TABLES)):
        engine.execute(f'delete from "{name}"')
    for table in ("profiles", "entitlements", "entitlement_events"):
        if engine.table_columns(table) is not None:
            engine.execute(f'drop table "{table}"')
    with engine.con.cursor() as cur:
        for name, rows in bank.items():
            if not rows:
                continue
            cols = [c for c in TABLES[name].column_names if c in rows[0]]
            cur.executemany(f"insert into {name} ({', '.join(cols)}) values "
                            f"({', '.join('%s' for _ in cols)})",
                            [[r[c] for c in cols] for r in rows])


def profiles(engine, as_of: dt.date) -> dict[str, dict]:  # noqa: ANN001
    if engine.table_columns("profiles") is None:
        return {}
    rows = engine.fetch_arrow("select * from profiles where as_of = ?", [as_of]).to_pylist()
    return {r["customer_id"]: r for r in rows}


def runs_agree(duck, other, day: dt.date) -> None:  # noqa: ANN001
    """Run ``day`` on both engines: same profiles, column by column, same events and
    the same segment summary."""
    run_segmentation(duck, DEFS, day)
    run_segmentation(other, DEFS, day)
    want, got = profiles(duck, day), profiles(other, day)
    assert set(want) == set(got)
    for cid, row in want.items():
        theirs = got[cid]
        assert set(row) == set(theirs), set(row) ^ set(theirs)
        for col, value in row.items():
            assert same(value, theirs[col]), (day, cid, col, value, theirs[col])
    assert events(duck, day) == events(other, day), day
    summaries_agree(duck, other, day)


def lifecycle_agrees(a, b, first: dt.date, second: dt.date) -> None:  # noqa: ANN001
    """Migration matrices (by segment and by phase, counts and balances) and the KPIs
    are the same on both engines."""
    from clientlens.services.analytics.kpis import kpis
    from clientlens.services.analytics.matrices import migration_matrix
    from clientlens.services.profiling.history import snapshot_dates

    if snapshot_dates(a) != [first, second]:  # a date where nobody was segmented yet
        assert snapshot_dates(a) == snapshot_dates(b)
        return
    for by in ("segment", "phase"):
        left, right = (migration_matrix(e, first, second, by) for e in (a, b))
        assert (left.rows, left.counts) == (right.rows, right.counts), by
        for x, y in zip(left.balances or [], right.balances or [], strict=True):
            assert all(abs(float(p) - float(q)) < 0.005 for p, q in zip(x, y, strict=True)), by
    ka, kb = (kpis(e).to_rows() for e in (a, b))
    assert len(ka) == len(kb)
    for x, y in zip(ka, kb, strict=True):
        for key, value in x.items():
            if isinstance(value, float):
                assert abs(value - y[key]) < 1e-9, (key, x, y)
            else:
                assert value == y[key], (key, x, y)


def summaries_agree(a, b, as_of: dt.date) -> None:  # noqa: ANN001
    """The segment table staff see: counts equal, mean balances equal to the kopeck."""
    left = segment_summary(a, DEFS, as_of, require=False)
    right = segment_summary(b, DEFS, as_of, require=False)
    assert [(r.segment, r.customers) for r in left] == [(r.segment, r.customers) for r in right]
    for x, y in zip(left, right, strict=True):
        for m, v in x.means.items():
            assert (v is None) == (y.means[m] is None), (x.segment, m)
            assert v is None or abs(v - y.means[m]) < 0.005, (x.segment, m, v, y.means[m])


def events(engine, as_of: dt.date) -> list[tuple]:  # noqa: ANN001
    if engine.table_columns("entitlement_events") is None:
        return []
    return sorted(engine.fetch_all("select customer_id, service, event from "
                                   "entitlement_events where as_of = ?", [as_of]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(bank=banks())
def test_duckdb_and_postgres_give_identical_profiles(pg, bank: dict[str, list[dict]]) -> None:  # noqa: ANN001
    later = AS_OF + dt.timedelta(days=100)  # a second run: grace periods and revocations
    with DuckDBEngine(":memory:") as duck:
        load(duck, bank)
        load_pg(pg, bank)
        if not bank["customers"]:
            return
        for day in (AS_OF, later):
            runs_agree(duck, pg, day)
        lifecycle_agrees(duck, pg, AS_OF, later)


def test_a_postgres_workspace_from_the_cli(postgres_url: str, pg_schema: str,
                                          tmp_path: Path) -> None:
    """Settings choose the engine. The same CSV exports (with bad rows) imported into a
    DuckDB and a PostgreSQL workspace give the same quarantine and the same profiles;
    run, explain and lists work on PostgreSQL."""
    from clientlens.demo.generator import generate_bank
    from clientlens.engines.postgres_engine import PostgresEngine
    from clientlens.services.workspace.folder import Workspace, init_workspace

    exports = tmp_path / "exports"
    generate_bank(exports, customers=300, seed=3, fmt="csv", bad_rows=5)
    schema = pg_schema
    duck_root, pg_root = tmp_path / "duck", tmp_path / "pg"
    init_workspace(duck_root)
    init_workspace(pg_root)
    settings = pg_root / "clientlens.yaml"
    settings.write_text(settings.read_text().replace("engine: duckdb", "engine: postgres")
                        + f"postgres_url: {postgres_url}\npostgres_schema: {schema}\n")
    for root in (duck_root, pg_root):
        cli("import", "-w", str(root), str(exports))
    w = str(pg_root)
    quarantined = [cli("quarantine", "-w", str(r), "--limit", "100").stdout
                   for r in (duck_root, pg_root)]
    assert quarantined[0] == quarantined[1] and "unknown customer_id" in quarantined[1]
    # Importing the same files again changes nothing and still leaves PostgreSQL whole.
    again = cli("import", "-w", w, str(exports)).stdout
    assert "already imported" in again
    cli("run", "-w", str(duck_root), "--as-of", "2026-10-31")
    run = cli("run", "-w", w, "--as-of", "2026-10-31")
    assert "customers segmented" in run.stdout
    pg_engine = PostgresEngine(postgres_url, schema=schema)
    duck = Workspace(duck_root).engine()
    for name in TABLES:
        want = duck.fetch_all(f"select count(*) from {name}")[0][0]
        assert pg_engine.fetch_all(f"select count(*) from {name}")[0][0] == want, name
    want, got = profiles(duck, AS_OF), profiles(pg_engine, AS_OF)
    assert want and set(want) == set(got)
    for cid, row in want.items():
        for col, value in row.items():
            assert same(value, got[cid][col]), (cid, col, value, got[cid][col])
    duck.close()
    pg_engine.close()
    customer = next(iter(want))
    shown = cli("explain", customer, "-w", w).stdout
    assert f"{customer}" in shown and "Solvency rating:" in shown
    assert "customers" in cli("survey-due", "-w", w).stdout


def merged(parts: list[dict[str, list[dict]]]) -> dict[str, list[dict]]:
    """Several random banks as one, ids prefixed so they do not collide."""
    out: dict[str, list[dict]] = {name: [] for name in parts[0]}
    keys = ("customer_id", "account_id", "transaction_id", "interaction_id", "event_id",
            "survey_id", "referral_id", "case_id", "departure_id")
    for n, bank in enumerate(parts):
        for name, rows in bank.items():
            for row in rows:
                out[name].append({k: f"B{n}{v}" if k in keys and v is not None else v
                                  for k, v in row.items()})
    return out


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(parts=st.lists(banks(), min_size=3, max_size=6))
def test_duckdb_and_spark_give_identical_profiles(spark_available, tmp_path_factory,  # noqa: ANN001
                                                  parts: list) -> None:
    from clientlens.engines.spark_engine import SparkEngine

    bank = merged(parts)
    if not bank["customers"]:
        return
    lake = tmp_path_factory.mktemp("lake")
    later = AS_OF + dt.timedelta(days=100)
    with DuckDBEngine(":memory:") as duck:
        load(duck, bank)
        for name in TABLES:  # the lake: one Parquet folder per table, written by DuckDB
            (lake / name).mkdir()
            duck.execute(f"copy {name} to '{lake / name / 'part-0.parquet'}' (format parquet)")
        spark = SparkEngine(lake, master="local[2]")
        for day in (AS_OF, later):
            runs_agree(duck, spark, day)
        lifecycle_agrees(duck, spark, AS_OF, later)
