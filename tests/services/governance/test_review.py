"""Four eyes, the version in force, rollback: on a SQLite and a PostgreSQL application
database (``app_db_settings``), with real runs on a small demo bank."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from clientlens.appdb import AuditEntry, DefinitionVersion
from clientlens.model.errors import DefinitionError
from clientlens.platform import tokens
from clientlens.services.governance import review
from clientlens.services.governance.versions import Actor, GovernanceError
from clientlens.services.workspace import governance_jobs as gov
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import Workspace

AS_OF = dt.date(2026, 10, 31)
MAKER, CHECKER, ADMIN = "petrova", "ivanov", "sidorov"


def _workspace(root: Path, settings: str, *, customers: int = 0) -> Path:
    jobs.init(root)
    with (root / "clientlens.yaml").open("a", encoding="utf-8") as f:
        f.write(settings)
    if customers:
        jobs.demo(root, customers=customers, as_of=AS_OF)
    with Workspace(root).app_db() as db:
        tokens.add(db, MAKER, "analyst")
        tokens.add(db, CHECKER, "security_officer")
        tokens.add(db, ADMIN, "admin")
    return root


def _set_threshold(root: Path, value: int) -> None:
    path = root / "definitions" / "rulebook.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(status_min_balance:\n    value: )[\d.]+", rf"\g<1>{value}", text),
                    encoding="utf-8")


def _profiles(root: Path, day: dt.date) -> dict[str, dict]:
    with Workspace(root).engine(read_only=True) as engine:
        rows = engine.fetch_arrow("select * from profiles where as_of = ?", [day]).to_pylist()
    return {r["customer_id"]: r for r in rows}


def _audit(root: Path, action: str) -> list[AuditEntry]:
    with Workspace(root).app_db() as db, db.transaction() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.entry_id)))


@pytest.fixture
def bare(app_db_settings: str, tmp_path: Path) -> Path:
    return _workspace(tmp_path / "bank", app_db_settings)


def test_a_maker_never_approves_its_own_change(bare: Path) -> None:
    _set_threshold(bare, 2_500_000)
    v = gov.submit(bare, by=ADMIN, reason="status from 2.5M")
    # the admin holds definitions:approve, but made the change
    with pytest.raises(GovernanceError) as e:
        gov.approve(bare, v.version_id, by=ADMIN, reason="looks fine")
    assert e.value.code == "four_eyes"
    with pytest.raises(GovernanceError) as e:
        gov.reject(bare, v.version_id, by=ADMIN, reason="withdrawn")
    assert e.value.code == "four_eyes"
    # an analyst holds no approval right at all
    with pytest.raises(GovernanceError) as e:
        gov.approve(bare, v.version_id, by=MAKER, reason="ok")
    assert e.value.code == "not_permitted"
    assert gov.version(bare, v.version_id).status == "submitted"
    refused = _audit(bare, "definitions.approve")
    assert [(a.actor, a.outcome) for a in refused] == [(ADMIN, "four_eyes"),
                                                         (MAKER, "not_permitted")]
    # the database refuses it too, whatever a program writes
    with Workspace(bare).app_db() as db, pytest.raises(IntegrityError):
        with db.transaction() as s:
            s.execute(update(DefinitionVersion).values(status="approved", decided_by=ADMIN))
    done = gov.approve(bare, v.version_id, by=CHECKER, reason="agreed at ALCO")
    assert (done.status, done.decided_by, done.effective_from) == (
        "scheduled", CHECKER, dt.date.today())
    approvals = _audit(bare, "definitions.approve")[-1]
    assert (approvals.actor, approvals.outcome) == (CHECKER, "ok")
    assert json.loads(approvals.detail)["reason"] == "agreed at ALCO"
    assert [a.actor for a in _audit(bare, "definitions.submit")] == [ADMIN]


def test_a_draft_that_does_not_load_is_refused_with_every_problem(bare: Path) -> None:
    rulebook = bare / "definitions" / "rulebook.yaml"
    rulebook.write_text(rulebook.read_text(encoding="utf-8").replace(
        "when: balance_total >= status_min_balance", "when: balanse_total >= status_min_balance"),
        encoding="utf-8")
    glossary = bare / "definitions" / "glossary.yaml"
    glossary.write_text(glossary.read_text(encoding="utf-8").replace(
        "type: integer", "type: integr", 1), encoding="utf-8")
    with pytest.raises(DefinitionError) as e:
        gov.submit(bare, by=MAKER, reason="typos")
    files = {(Path(p.file).name, p.line is not None) for p in e.value.problems}
    assert ("rulebook.yaml", True) in files and ("glossary.yaml", True) in files
    assert "balance_total" in str(e.value)  # the suggestion
    assert gov.history(bare).versions == []


def test_unapproved_and_future_versions_never_run(app_db_settings: str, tmp_path: Path
                                                  ) -> None:
    root = _workspace(tmp_path / "bank", app_db_settings, customers=400)
    # ungoverned: the files are in force, as before governance
    files_run = jobs.run(root, AS_OF)
    assert files_run.definitions_version is None
    _set_threshold(root, 700_000)
    v1 = gov.submit(root, by=MAKER, reason="status from 700k")
    # submitted, not approved: the workspace is still ungoverned, the files run
    assert jobs.run(root, AS_OF).definitions_version is None
    gov.approve(root, v1.version_id, by=CHECKER, reason="agreed",
                effective_from=dt.date(2026, 1, 1))
    r1 = jobs.run(root, AS_OF)
    assert r1.definitions_version == v1.version_id
    assert r1.rulebook_version == v1.content_version
    # an edit nobody approved, and a submitted version nobody decided: never run
    _set_threshold(root, 100_000)
    pending = gov.submit(root, by=MAKER, reason="status from 100k")
    _set_threshold(root, 50_000)
    r2 = jobs.run(root, AS_OF)
    assert (r2.definitions_version, r2.rulebook_version) == (v1.version_id, v1.content_version)
    assert {p["rulebook_version"] for p in _profiles(root, AS_OF).values()} == {
        v1.content_version}
    # approved but effective from a later date: earlier dates keep v1
    gov.approve(root, pending.version_id, by=ADMIN, reason="from December",
                effective_from=dt.date(2026, 11, 30))
    assert jobs.run(root, AS_OF).definitions_version == v1.version_id
    later = jobs.run(root, dt.date(2026, 11, 30))
    assert later.definitions_version == pending.version_id
    # a backfill names the version of each date
    back = jobs.backfill(root, dt.date(2026, 10, 1), dt.date(2026, 11, 30), force=True)
    assert [(r.as_of, r.definitions_version) for r in back.ran] == [
        (AS_OF, v1.version_id), (dt.date(2026, 11, 30), pending.version_id)]
    # before the first effective date a governed workspace has nothing to run
    with pytest.raises(GovernanceError) as e:
        jobs.run(root, dt.date(2025, 12, 31))
    assert e.value.code == "not_in_force"
    # the re-evaluation of a customer uses the version in force on its date
    customer = next(iter(_profiles(root, AS_OF)))
    out = jobs.reevaluate(root, customer, AS_OF, reason="complaint", requested_by=MAKER)
    assert out.record.rulebook_version == v1.content_version


def test_rollback_restores_identical_profiles(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "bank", "", customers=400)
    _set_threshold(root, 900_000)
    v1 = gov.submit(root, by=MAKER, reason="v1")
    gov.approve(root, v1.version_id, by=CHECKER, reason="ok", effective_from=dt.date(2026, 1, 1))
    jobs.run(root, AS_OF)
    first = _profiles(root, AS_OF)
    _set_threshold(root, 300_000)
    v2 = gov.submit(root, by=MAKER, reason="v2")
    gov.approve(root, v2.version_id, by=CHECKER, reason="ok", effective_from=dt.date(2026, 2, 1))
    jobs.run(root, AS_OF)
    assert _profiles(root, AS_OF) != first
    back = gov.rollback(root, v1.version_id, by=MAKER, reason="complaints")
    assert back.rollback_of == v1.version_id and back.status == "submitted"
    with pytest.raises(GovernanceError):
        gov.approve(root, back.version_id, by=MAKER, reason="mine")
    gov.approve(root, back.version_id, by=CHECKER, reason="roll back",
                effective_from=dt.date(2026, 3, 1))
    again = jobs.run(root, AS_OF)
    assert again.definitions_version == back.version_id
    assert _profiles(root, AS_OF) == first
    states = {v.version_id: v.status for v in gov.history(root).versions}
    assert states == {v1.version_id: "superseded", v2.version_id: "superseded",
                      back.version_id: "active"}


def _decide(root: Path, version_id: int, start: threading.Barrier, results: dict,
            user: str, verdict: str) -> None:
    with Workspace(root).app_db() as db:
        who = Actor(user, frozenset({"admin"}))
        start.wait()
        try:
            step = review.approve if verdict == "approve" else review.reject
            results[user] = step(db, who, version_id, f"{user} decides")
        except GovernanceError as e:
            results[user] = e


def test_two_approvers_racing_on_postgres_give_one_decision(postgres_url: str,
                                                             pg_schema: str,
                                                             tmp_path: Path) -> None:
    root = _workspace(tmp_path / "bank", f"app_db: {postgres_url}\napp_db_schema: {pg_schema}\n")
    for round_ in range(5):
        _set_threshold(root, 1_000_000 + round_)
        v = gov.submit(root, by=MAKER, reason=f"round {round_}")
        start = threading.Barrier(2)
        results: dict[str, object] = {}

        threads = [threading.Thread(target=_decide,
                                    args=(root, v.version_id, start, results, user, verdict))
                   for user, verdict in ((CHECKER, "approve"), (ADMIN, "reject"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [u for u, r in results.items() if not isinstance(r, GovernanceError)]
        lost = [r for r in results.values() if isinstance(r, GovernanceError)]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0].code == "wrong_state"
        final = gov.version(root, v.version_id)
        assert final.decided_by == won[0]
        decisions = [a for a in _audit(root, "definitions.approve")
                     + _audit(root, "definitions.reject")
                     if a.resource == f"definitions/{v.version_id}" and a.outcome == "ok"]
        assert [a.actor for a in decisions] == won
