"""The HTTP API over a production-shaped workspace: the warehouse and the application
database both in a real PostgreSQL (fresh schemas per test), against a DuckDB twin
workspace made from the same bank exports."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from clientlens.appdb import AuditEntry  # noqa: E402
from clientlens.faces.http.app import create_app  # noqa: E402
from clientlens.faces.http.schemas import Profile  # noqa: E402
from clientlens.services.workspace import jobs  # noqa: E402
from clientlens.services.workspace.folder import Workspace, init_workspace  # noqa: E402
from tests.support.services import drop_pg_schema, new_pg_schema  # noqa: E402

AS_OF = dt.date(2026, 10, 31)
TOKENS = {"tok-analyst": {"user": "anna", "role": "analyst"},
          "tok-marketing": {"user": "mark", "role": "marketing"},
          "tok-admin": {"user": "adam", "role": "admin"}}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def twins(postgres_url: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Path, Path]]:
    """(DuckDB workspace, PostgreSQL workspace) imported from the same exports and run
    for the same date."""
    from clientlens.demo.generator import generate_bank

    tmp = tmp_path_factory.mktemp("api-pg")
    exports = tmp / "exports"
    generate_bank(exports, customers=300, seed=5, fmt="csv")
    schema = new_pg_schema("api")
    duck_root, pg_root = tmp / "duck", tmp / "pg"
    init_workspace(duck_root)
    init_workspace(pg_root)
    settings = pg_root / "clientlens.yaml"
    settings.write_text(settings.read_text().replace("engine: duckdb", "engine: postgres")
                        + f"postgres_url: {postgres_url}\npostgres_schema: {schema}\n"
                        f"app_db: {postgres_url}\napp_db_schema: {schema}_app\n")
    try:
        for root in (duck_root, pg_root):
            jobs.import_files(root, [exports])
            jobs.run(root, AS_OF)
        yield duck_root, pg_root
    finally:
        for name in (schema, f"{schema}_app"):
            drop_pg_schema(name)


def _profiles(root: Path, ids: list[str], token: str) -> dict[str, dict]:
    with TestClient(create_app(root, tokens=TOKENS)) as client:
        out = {}
        for cid in ids:
            r = client.get(f"/customers/{cid}/profile", headers=auth(token))
            assert r.status_code == 200, r.text
            out[cid] = Profile.model_validate(r.json()).model_dump(mode="json")
        return out


def _comparable(p: dict) -> dict:
    """A profile without what legitimately differs between engines: the rounding of
    double-precision terms in the last bits."""
    p = dict(p)
    p["terms"] = {k: round(v, 9) if isinstance(v, float) else v
                  for k, v in p["terms"].items()}
    for rule_group in p["explanation"].values():
        for rule in rule_group:
            for c in rule["conditions"]:
                c["values"] = {k: round(v, 9) if isinstance(v, float) else v
                               for k, v in c["values"].items()}
    return p


def test_profiles_over_postgres_equal_duckdb(twins: tuple[Path, Path]) -> None:
    duck_root, pg_root = twins
    with Workspace(duck_root).engine(read_only=True) as engine:
        ids = [r[0] for r in engine.fetch_all(
            "select customer_id from profiles where as_of = ? order by customer_id", [AS_OF])]
    sample = ids[::10]
    for token in ("tok-marketing", "tok-analyst"):  # in memory; audited with personal data
        want = _profiles(duck_root, sample, token)
        got = _profiles(pg_root, sample, token)
        for cid in sample:
            assert _comparable(got[cid]) == _comparable(want[cid]), cid
    with Workspace(pg_root).app_db() as db, db.transaction() as s:
        reads = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "profile.read")))
    assert len(reads) == len(sample) and {e.actor for e in reads} == {"anna"}


def test_runs_and_reevaluation_over_postgres(twins: tuple[Path, Path]) -> None:
    _, pg_root = twins
    with TestClient(create_app(pg_root, tokens=TOKENS)) as client:
        assert client.get("/segments", headers=auth("tok-admin")).json()["as_of"] == str(AS_OF)
        later = AS_OF + dt.timedelta(days=1)
        run = client.post("/runs", json={"as_of": str(later)}, headers=auth("tok-admin"))
        assert run.status_code == 202, run.text
        for _ in range(600):
            status = client.get(f"/runs/{run.json()['run_id']}", headers=auth("tok-admin"))
            if status.json()["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert status.json()["status"] == "succeeded", status.json()
        with Workspace(pg_root).engine() as engine:
            some = engine.fetch_all("select customer_id, segment from profiles where as_of = ? "
                                    "order by customer_id limit 3", [later])
        for customer_id, segment in some:
            p = client.get(f"/customers/{customer_id}/profile", headers=auth("tok-marketing"))
            assert p.json()["as_of"] == str(later) and p.json()["segment"] == segment
            again = client.post(f"/customers/{customer_id}/reevaluate",
                                headers=auth("tok-analyst"))
            assert again.status_code == 200, again.text
            # nothing changed in the warehouse since the run: the same segment
            assert again.json()["profile"]["segment"] == segment
