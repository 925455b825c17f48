"""A term's stored column follows the term's type, on every engine.

Profiles keep one column per term. A glossary that gains a ``number`` term adds a
column of the engine's floating type (PostgreSQL has no ``DOUBLE``: every run broke
there); a term whose type changes gets its column re-typed, or its new values were
cast to the old type (an integer term changed to ``open_products / 3`` stored 1 for
4/3). Older snapshots keep their values when the change widens (integer to number),
and are emptied otherwise (they came from another definition).

DuckDB and PostgreSQL run the whole nightly job; Spark, whose runs take minutes on a
small machine, is tested on the step itself (``sync_columns``) over stored partitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clientlens.definitions.rulebook import load_definitions
from clientlens.services.profiling.segmentation import PROFILES
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import Workspace, init_workspace
from tests.support.services import engine_workspace, require

DAYS = [dt.date(2026, 10, d) for d in (28, 29, 30, 31)]
CUSTOMERS = ("customer_id,full_name,customer_type,registered_on\n"
             "C1,A,retail,2019-01-01\nC2,B,retail,2019-01-01\n")
ACCOUNTS = ("account_id,customer_id,account_type,subtype,currency,opened_on,balance\n"
            + "".join(f"A{i},C1,card,debit,RUB,2020-01-01,10.00\n" for i in range(4))
            + "A9,C2,deposit,term,RUB,2020-01-01,5.00\n")


def term(name: str, kind: str, expression: str) -> str:
    return (f"  - name: {name}\n    type: {kind}\n    unit: count\n"
            f"    description: A term of the type test.\n"
            f"    labels: {{en: T, ru: T, bg: T}}\n    expression: {expression}\n")


def with_terms(root: Path, original: str, *terms: str) -> None:
    (root / "definitions" / "glossary.yaml").write_text(original + "".join(terms),
                                                        encoding="utf-8")


def values(root: Path, column: str) -> dict[tuple[dt.date, str], object]:
    with Workspace(root).engine(read_only=True) as engine:
        rows = engine.fetch_all(f"select as_of, customer_id, {column} from {PROFILES}")
    return {(d if isinstance(d, dt.date) else d.date(), c): v for d, c, v in rows}


@pytest.fixture(params=("duckdb", "postgres"))
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    yield from engine_workspace(request.param, tmp_path)


def test_terms_added_and_changing_type_are_stored_in_their_type(workspace: Path,
                                                                tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    jobs.import_files(workspace, [tmp_path / "customers.csv", tmp_path / "accounts.csv"])
    original = (workspace / "definitions" / "glossary.yaml").read_text(encoding="utf-8")
    jobs.run(workspace, DAYS[0])  # the profiles table exists, without the new terms
    # A glossary that gains an integer and a number term (PostgreSQL: "type double does
    # not exist" before).
    with_terms(workspace, original, term("tc_share", "integer", "open_products"),
               term("tc_ratio", "number", "open_products / 8"))
    jobs.run(workspace, DAYS[1])
    assert values(workspace, "tc_share")[(DAYS[1], "C1")] == 4
    assert values(workspace, "tc_ratio")[(DAYS[1], "C1")] == 0.5
    # integer -> number: 4/3 is stored, not 1; the older snapshot keeps its 4.
    with_terms(workspace, original, term("tc_share", "number", "open_products / 3"),
               term("tc_ratio", "number", "open_products / 8"))
    jobs.run(workspace, DAYS[2])
    got = values(workspace, "tc_share")
    assert abs(got[(DAYS[2], "C1")] - 4 / 3) < 1e-12 and abs(got[(DAYS[2], "C2")] - 1 / 3) < 1e-12
    assert got[(DAYS[1], "C1")] == 4 and got[(DAYS[0], "C1")] is None
    # number -> boolean: a narrowing; older values of the old definition are emptied.
    with_terms(workspace, original, term("tc_share", "boolean", "open_products > 3"),
               term("tc_ratio", "number", "open_products / 8"))
    jobs.run(workspace, DAYS[3])
    got = values(workspace, "tc_share")
    assert got[(DAYS[3], "C1")] is True and got[(DAYS[3], "C2")] is False
    assert got[(DAYS[1], "C1")] is None and got[(DAYS[2], "C1")] is None
    # Nothing changes when nothing changed: the stored types now match.
    from clientlens.services.profiling.segmentation import sync_columns

    ws = Workspace(workspace)
    with ws.engine() as engine:
        assert sync_columns(engine, ws.definitions) == []
    jobs.run(workspace, DAYS[3])
    assert values(workspace, "tc_ratio")[(DAYS[3], "C1")] == 0.5


def test_spark_rewrites_its_partitions_when_a_term_changes_type(tmp_path: Path) -> None:
    """Spark's profiles are Parquet partitions that must agree on each column's type
    (mergeSchema refuses a BIGINT beside a DOUBLE): the older partitions are rewritten,
    and the next snapshot, written as a double, reads beside them."""
    require("spark")
    from clientlens.engines.spark_engine import OUTPUT, SparkEngine
    from clientlens.services.profiling.segmentation import sync_columns

    root = tmp_path / "bank"
    init_workspace(root)
    original = (root / "definitions" / "glossary.yaml").read_text(encoding="utf-8")
    lake = tmp_path / "lake"
    part = lake / OUTPUT / PROFILES / f"as_of={DAYS[0].isoformat()}"
    part.mkdir(parents=True)
    pq.write_table(pa.table({"customer_id": ["C1", "C2"],
                             "tc_share": pa.array([4, 1], pa.int64())}), part / "p.parquet")
    engine = SparkEngine(lake, master="local[2]")
    with_terms(root, original, term("tc_share", "number", "open_products / 3"))
    assert sync_columns(engine, load_definitions(root / "definitions")) == ["tc_share"]
    where = f"as_of = date '{DAYS[1].isoformat()}'"
    engine.replace_many([(PROFILES, where, "select 'C1' as customer_id, "
                                           "cast(4 as double) / 3 as tc_share")])
    got = {(r[0], r[1]): r[2] for r in engine.fetch_all(
        f"select as_of, customer_id, tc_share from {PROFILES}")}
    assert got[(DAYS[0], "C1")] == 4.0 and abs(got[(DAYS[1], "C1")] - 4 / 3) < 1e-12
    with_terms(root, original, term("tc_share", "boolean", "open_products > 3"))
    assert sync_columns(engine, load_definitions(root / "definitions")) == ["tc_share"]
    engine.replace_many([(PROFILES, f"as_of = date '{DAYS[2].isoformat()}'",
                          "select 'C1' as customer_id, true as tc_share")])
    got = {(r[0], r[1]): r[2] for r in engine.fetch_all(
        f"select as_of, customer_id, tc_share from {PROFILES}")}
    assert got == {(DAYS[0], "C1"): None, (DAYS[0], "C2"): None, (DAYS[1], "C1"): None,
                   (DAYS[2], "C1"): True}
    assert sync_columns(engine, load_definitions(root / "definitions")) == []
    engine.close()
