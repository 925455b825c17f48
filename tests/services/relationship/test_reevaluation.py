"""Re-evaluating one customer on demand, recorded like a nightly change; runs recorded in
the application database; the CLI for both (services/relationship/reevaluation.py,
services/workspace/runs.py, faces/reevaluation_cli.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clientlens.appdb import Reevaluation, ReevaluationEvent, Run
from clientlens.compiler.customer_plan import BaseTerms
from clientlens.compiler.pyplan import CompiledRulebook
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.services.profiling.entitlements import held_entitlements, next_held
from clientlens.services.profiling.explain import explain_customer
from clientlens.services.relationship.reevaluation import (
    ReevaluationError,
    list_reevaluations,
    reevaluate,
)
from clientlens.services.workspace import jobs, runs
from clientlens.services.workspace.folder import Workspace, init_workspace

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Three customers (as in test_cli.py), run on AS_OF."""
    root = tmp_path / "bank"
    ws = init_workspace(root)
    with ws.engine() as engine:
        engine.execute("""insert into customers values
            ('C1', 'Иванова Мария Петровна', 'retail', date '2019-03-01', date '1960-05-02',
             'Казань', 40000, true, 2006, false, null, null),
            ('C2', 'Петров Пётр', 'retail', date '2018-01-01', null, 'Москва', null, null,
             null, null, null, null),
            ('B1', 'ООО Ромашка', 'business', date '2018-01-01', null, 'Москва', null, null,
             null, null, null, null)""")
        engine.execute("""insert into accounts (account_id, customer_id, account_type, subtype,
            product_code, currency, opened_on, closed_on, balance, balance_base) values
            ('A1', 'C1', 'deposit', 'term', null, 'RUB', date '2020-01-01', null, 1120000,
             1120000),
            ('A2', 'C2', 'card', 'debit', null, 'RUB', date '2019-01-01', date '2025-01-01',
             5000, 5000)""")
    jobs.run(root, AS_OF)
    return root


def _balance(root: Path, amount: int) -> None:
    with Workspace(root).engine() as engine:
        engine.execute("update accounts set balance = ?, balance_base = ? where account_id = 'A1'",
                       [amount, amount])


def _again(root: Path, customer: str = "C1", **kw: object):  # noqa: ANN202 - an Outcome
    ws = Workspace(root)
    with ws.engine() as engine, ws.app_db() as db:
        return reevaluate(engine, db, ws.definitions, customer, requested_by="ivanova", **kw)


def _counts(root: Path) -> tuple[int, int]:
    with Workspace(root).app_db() as db, db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(Reevaluation)),
                s.scalar(select(func.count()).select_from(ReevaluationEvent)))


# -- the service ------------------------------------------------------------------------
def test_a_reevaluation_is_recorded_and_a_repeat_makes_no_event(workspace: Path) -> None:
    first = _again(workspace, reason="complaint", note="called about a fee")
    rec = first.record
    assert rec.reevaluation_id == 1 and rec.compared_with == AS_OF and rec.basis_id is None
    assert rec.before == rec.after and rec.after["segment"] == "investor"
    assert rec.events == [] and not rec.segment_changed  # nothing changed since the run
    with Workspace(workspace).engine() as engine:
        nightly = held_entitlements(engine, "C1", AS_OF)
    assert [h["service"] for h in rec.held] == [h["service"] for h in nightly]
    second = _again(workspace).record
    assert second.basis_id == 1 and second.events == []
    assert _counts(workspace) == (2, 0)
    with Workspace(workspace).app_db() as db:
        listed = list_reevaluations(db, "C1")
    assert [r.reevaluation_id for r in listed] == [2, 1]
    assert (listed[1].reason, listed[1].note, listed[1].requested_by, listed[1].via) == (
        "complaint", "called about a fee", "ivanova", "python")
    assert listed[0].as_dict()["source"] == "reevaluation"


def test_a_changed_account_flips_an_entitlement_once(workspace: Path) -> None:
    _balance(workspace, 9_000_000)
    up = _again(workspace, reason="balance_moved").record
    assert (up.before["segment"], up.after["segment"]) == ("investor", "status")
    assert up.segment_changed
    granted = {e["service"] for e in up.events if e["event"] == "granted"}
    assert "personal_manager" in granted
    assert {e["event"] for e in up.events} == {"granted"}
    assert next(e for e in up.events if e["service"] == "personal_manager")["reason"] == \
        "qualifies: segment = 'status'"
    # the same again: recorded, but no second 'granted'
    same = _again(workspace).record
    assert same.events == [] and same.before["segment"] == "status"
    # the money leaves again: personal_manager goes into its 180-day grace, once
    _balance(workspace, 1_120_000)
    down = _again(workspace, reason="balance_moved").record
    grace = next(e for e in down.events if e["service"] == "personal_manager")
    assert grace["event"] == "grace_started"
    assert grace["kept_until"] == AS_OF + dt.timedelta(days=180)
    held = {h["service"]: h for h in down.held}
    assert held["personal_manager"]["qualified"] is False
    assert held["personal_manager"]["granted_on"] == AS_OF
    assert _again(workspace).record.events == []
    # the warehouse snapshot of the run is untouched
    with Workspace(workspace).engine() as engine:
        assert engine.fetch_all("select segment from profiles where customer_id = 'C1'") == [
            ("investor",)]
        assert "personal_manager" not in {h["service"] for h in
                                          held_entitlements(engine, "C1", AS_OF)}


def test_bad_input_is_a_clear_error_and_records_nothing(workspace: Path) -> None:
    with pytest.raises(NotFoundError, match="unknown customer 'C999'"):
        _again(workspace, "C999")
    with pytest.raises(NotFoundError, match="outside the rulebook's population"):
        _again(workspace, "B1")
    with pytest.raises(ReevaluationError, match="reason 'moved' is not one of product_opened"):
        _again(workspace, reason="moved")
    with pytest.raises(ReevaluationError, match="NUL"):
        _again(workspace, note="a\x00b")
    with pytest.raises(ReevaluationError, match="customer_id: must not be empty"):
        _again(workspace, "")
    assert _counts(workspace) == (0, 0)


def test_the_same_idempotency_key_records_once(workspace: Path) -> None:
    _balance(workspace, 9_000_000)
    calls = []

    def respond(rec, x) -> dict:  # noqa: ANN001
        calls.append(rec.reevaluation_id)
        return {"id": rec.reevaluation_id, "segment": x.segment}

    first = _again(workspace, idempotency_key="k-1", respond=respond, reason="other")
    again = _again(workspace, idempotency_key="k-1", respond=respond, reason="other")
    assert again.record.replayed and again.explanation is None
    assert again.record.reevaluation_id == first.record.reevaluation_id
    assert again.response == first.response == {"id": 1, "segment": "status"}
    assert calls == [1] and _counts(workspace)[0] == 1
    with pytest.raises(ReevaluationError, match="used for a different request") as e:
        _again(workspace, idempotency_key="k-1", reason="complaint")
    assert e.value.code == "idempotency_conflict"
    # the key is the user's: another user's same key is another request
    ws = Workspace(workspace)
    with ws.engine() as engine, ws.app_db() as db:
        other = reevaluate(engine, db, ws.definitions, "C1", requested_by="petrova",
                           idempotency_key="k-1")
    assert not other.record.replayed and other.record.basis_id == 1


def test_parallel_reevaluations_grant_once(workspace: Path) -> None:
    _balance(workspace, 9_000_000)
    ws = Workspace(workspace)
    errors: list[BaseException] = []
    with ws.engine() as engine, ws.app_db() as db:
        defs, compiled, base = ws.definitions, CompiledRulebook(ws.definitions), \
            BaseTerms(ws.definitions)

        def one() -> None:
            try:
                with engine.cursor() as mine:
                    reevaluate(mine, db, defs, "C1", requested_by="t", compiled=compiled,
                               base_terms=base)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    with ws.app_db() as db, db.transaction() as s:
        seqs = sorted(s.scalars(select(Reevaluation.seq)))
        events = s.execute(select(ReevaluationEvent.service, ReevaluationEvent.event)).all()
    assert seqs == list(range(1, 7))
    assert ("personal_manager", "granted") in events
    assert len(events) == len(set(events))  # each change once


def test_the_next_nightly_run_supersedes_reevaluations(workspace: Path) -> None:
    _balance(workspace, 9_000_000)
    _again(workspace)
    later = AS_OF + dt.timedelta(days=30)
    jobs.run(workspace, later)
    with Workspace(workspace).engine() as engine:
        # the nightly run computed from the previous run's entitlements, not the
        # re-evaluation's: it grants personal_manager again (see the module's docstring)
        (event,) = engine.fetch_all("select event from entitlement_events where as_of = ? "
                                    "and customer_id = 'C1' and service = 'personal_manager'",
                                    [later])[0]
        assert event == "granted"
    after = _again(workspace).record
    assert after.compared_with == later and after.basis_id is None and after.events == []
    ws = Workspace(workspace)
    with ws.app_db() as db, ws.engine() as engine:
        listed = list_reevaluations(db, "C1", engine=engine)
    assert [(r.compared_with, r.superseded_by) for r in listed] == [(later, None),
                                                                   (AS_OF, later)]


def test_next_held_is_the_nightly_rule(tmp_path: Path) -> None:
    """For every customer of a demo bank, the nightly run's entitlements and events of a
    later date equal ``next_held`` applied to the earlier date's entitlements and the
    later profile."""
    root = tmp_path / "demo"
    jobs.demo(root, customers=400, seed=5)
    days = [AS_OF, AS_OF + dt.timedelta(days=30), AS_OF + dt.timedelta(days=150)]
    for day in days[1:]:
        jobs.run(root, day)
    ws = Workspace(root)
    defs = ws.definitions
    seen: set[str] = set()
    with ws.engine(read_only=True) as engine:
        for before, day in zip(days, days[1:], strict=False):
            profiles = engine.fetch_arrow("select * from profiles where as_of = ?",
                                          [day]).to_pylist()
            held = {}
            for row in engine.fetch_arrow(
                    "select customer_id, service, kind, granted_on, last_qualified_on, "
                    "kept_until, qualified from entitlements where as_of = ?",
                    [before]).to_pylist():
                held.setdefault(row.pop("customer_id"), []).append(row)
            events = {}
            for cid, service, event, kept_until, reason in engine.fetch_all(
                    "select customer_id, service, event, kept_until, reason "
                    "from entitlement_events where as_of = ?", [day]):
                events.setdefault(cid, set()).add((service, event, kept_until, reason))
            now = {}
            for row in engine.fetch_arrow(
                    "select customer_id, service, kind, granted_on, last_qualified_on, "
                    "kept_until, qualified from entitlements where as_of = ? "
                    "order by customer_id, service", [day]).to_pylist():
                now.setdefault(row.pop("customer_id"), []).append(row)
            for p in profiles:
                cid = p["customer_id"]
                after, mine = next_held(defs, p, held.get(cid, []), day)
                assert after == now.get(cid, []), cid
                assert {(e["service"], e["event"], e["kept_until"], e["reason"])
                        for e in mine} == events.get(cid, set()), cid
                seen |= {e["event"] for e in mine}
    assert seen == {"granted", "grace_started", "revoked"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reevaluation") / "demo"
    jobs.demo(root, customers=300, seed=2)
    return root


def test_base_terms_in_python_equal_the_sql(demo: Path) -> None:
    """The customer's rows aggregated in Python (``how="rows"``) give the plan's base
    terms (``how="sql"``) exactly, values and types, on several dates."""
    ws = Workspace(demo)
    rows, sql = BaseTerms(ws.definitions), BaseTerms(ws.definitions, how="sql")
    assert rows.how == "rows"
    with ws.engine(read_only=True) as engine:
        ids = [r[0] for r in engine.fetch_all("select customer_id from customers order by 1")]
        for day in (AS_OF, dt.date(2026, 3, 31), dt.date(2025, 1, 15)):
            for cid in [*ids[::5], "NOBODY"]:
                mine, theirs = rows.fetch(engine, cid, day), sql.fetch(engine, cid, day)
                assert (mine is None) == (theirs is None), (cid, day)
                if theirs is not None:
                    assert mine == theirs, (cid, day)
                    assert {k: type(v) for k, v in mine.items()} == \
                        {k: type(v) for k, v in theirs.items()}, (cid, day)


def test_computed_now_equals_the_stored_run(demo: Path) -> None:
    """The base terms plus in-process evaluation give the run's decisions."""
    ws = Workspace(demo)
    defs = ws.definitions
    compiled, base = CompiledRulebook(defs), BaseTerms(defs)
    decided = ("segment", "phase", "need", "current_grade", "loyalty_grade",
               "solvency_grade", "security_grade", "next_best_product",
               *[s.column for s in defs.services])
    with ws.engine(read_only=True) as engine:
        stored = engine.fetch_arrow("select * from profiles where as_of = ?",
                                    [AS_OF]).to_pylist()
        for row in stored:
            x = explain_customer(engine, defs, row["customer_id"], AS_OF, compiled=compiled,
                                 use_stored=False, base_terms=base)
            assert x.source == "computed now"
            got = {**x.terms, "segment": x.segment}
            assert {k: got.get(k) for k in decided if k in row} == \
                {k: row[k] for k in decided if k in row}, row["customer_id"]


# -- runs --------------------------------------------------------------------------------
def test_runs_are_recorded_with_their_result_or_error(tmp_path: Path, workspace: Path) -> None:
    with Workspace(workspace).app_db() as db:
        (rec,) = runs.list_runs(db)  # the fixture's jobs.run
    assert (rec.status, rec.stage, rec.via, rec.as_of) == ("succeeded", "done", "python", AS_OF)
    assert rec.result["customers"] == 2 and rec.finished_at >= rec.started_at
    empty = init_workspace(tmp_path / "empty")
    with pytest.raises(ClientlensError, match="no customers"):
        jobs.run(empty.root, AS_OF)
    with empty.app_db() as db:
        (failed,) = runs.list_runs(db)
    assert failed.status == "failed" and "no customers" in failed.error


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_whose_process_died_is_reported_interrupted(workspace: Path) -> None:
    host = socket.gethostname()
    with Workspace(workspace).app_db() as db:
        with db.transaction() as s:
            for run_id, owner in (("dead", f"{host}:{_dead_pid()}:aaaa"),
                                  ("reused-pid", f"{host}:{os.getpid()}:bbbb"),
                                  ("elsewhere", "another-host:1:cccc"),
                                  ("alive", runs.owner())):
                s.add(Run(run_id=run_id, status="running", stage="segmenting", progress=0.1,
                          as_of=AS_OF, requested_by="x", via="api", owner=owner))
        assert sorted(runs.mark_interrupted(db)) == ["dead", "reused-pid"]
        dead = runs.get_run(db, "dead")
        assert (dead.status, dead.stage) == ("failed", "interrupted")
        assert "interrupted" in dead.error and dead.finished_at is not None
        assert runs.get_run(db, "elsewhere").status == "running"
        with pytest.raises(runs.RunConflict, match="is still running") as e:
            runs.begin(db, as_of=None, requested_by="y", via="api")
        assert e.value.code == "run_in_progress"


def test_run_idempotency_keys_are_per_user_and_request(workspace: Path) -> None:
    with Workspace(workspace).app_db() as db:
        first, replayed = runs.begin(db, as_of=AS_OF, requested_by="anna", via="api",
                                     idempotency_key="n-1", exclusive=False)
        assert not replayed
        again, replayed = runs.begin(db, as_of=AS_OF, requested_by="anna", via="api",
                                     idempotency_key="n-1")
        assert replayed and again.run_id == first.run_id
        with pytest.raises(runs.RunConflict, match="Idempotency-Key was used"):
            runs.begin(db, as_of=None, requested_by="anna", via="api", idempotency_key="n-1")


# -- the command line ------------------------------------------------------------------------
def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "clientlens.faces.cli", *args],
                          capture_output=True, text=True,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "USER": "petrova"})
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def test_reevaluate_reevaluations_and_runs_from_the_cli(workspace: Path) -> None:
    w = str(workspace)
    _balance(workspace, 9_000_000)
    shown = cli("reevaluate", "C1", "-w", w, "--reason", "balance_moved", "--note",
                "moved savings in").stdout
    assert "Re-evaluation #1 of C1" in shown and "investor → status" in shown
    assert "personal_manager" in shown and "granted" in shown
    data = json.loads(cli("reevaluate", "C1", "-w", w, "--json").stdout)
    assert data["reevaluation_id"] == 2 and data["basis_id"] == 1 and data["events"] == []
    assert data["requested_by"] == "petrova" and data["via"] == "cli"
    assert data["source"] == "reevaluation"
    listed = cli("reevaluations", "C1", "-w", w).stdout
    assert "Re-evaluations of C1: 2" in listed and "balance_moved: moved savings in" in listed
    assert "personal_manager granted" in listed
    history = cli("history", "C1", "-w", w).stdout
    assert "Re-evaluations (source: reevaluation" in history
    cli("run", "-w", w, "--as-of", str(AS_OF))
    table = cli("runs", "-w", w).stdout
    assert "Runs: 2" in table and "succeeded" in table and "(cli)" in table
    (first,) = [r for r in json.loads(cli("runs", "list", "-w", w, "--json").stdout)
                if r["via"] == "cli"]
    one = cli("runs", "show", first["run_id"], "-w", w).stdout
    assert first["run_id"] in one and "customers with rulebook" in one


@pytest.mark.parametrize("args, message", [
    (("reevaluate", "C999"), "unknown customer 'C999'"),
    (("reevaluate", "C1", "--reason", "moved"), "reason 'moved' is not one of"),
    (("reevaluate", "C1", "--as-of", "2026-02-30"), "is not a date"),
    (("runs", "show", "nope"), "unknown run 'nope'"),
])
def test_cli_errors_are_one_line(workspace: Path, args: tuple, message: str) -> None:
    proc = cli(*args, "-w", str(workspace), check=False)
    assert proc.returncode == 1 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_the_new_commands_have_help_with_examples() -> None:
    for command in (("reevaluate",), ("reevaluations",), ("runs",), ("runs", "list"),
                    ("runs", "show")):
        assert "Example" in cli(*command, "--help").stdout, command



def test_base_terms_on_postgres_equal_the_sql(tmp_path: Path) -> None:
    """The rows path reads each source table with its own query on engines other than
    DuckDB: the same base terms as the plan's SQL there too."""
    url = os.environ.get("CLIENTLENS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=5).close()
    except Exception as e:  # noqa: BLE001 - missing driver or server
        if os.environ.get("CLIENTLENS_REQUIRE_SERVICES"):
            pytest.fail(f"PostgreSQL is required here: {e}")
        pytest.skip(f"no PostgreSQL: {e}")
    import uuid

    from sqlalchemy import create_engine, text

    from clientlens.appdb.database import database_url
    from clientlens.demo.generator import generate_bank

    exports = tmp_path / "exports"
    generate_bank(exports, customers=150, seed=7, fmt="csv")
    root = tmp_path / "pg"
    init_workspace(root)
    schema = f"cl_rv_{uuid.uuid4().hex[:8]}"
    settings = root / "clientlens.yaml"
    settings.write_text(settings.read_text().replace("engine: duckdb", "engine: postgres")
                        + f"postgres_url: {url}\npostgres_schema: {schema}\n")
    try:
        jobs.import_files(root, [exports])
        jobs.run(root, AS_OF)
        ws = Workspace(root)
        rows, sql = BaseTerms(ws.definitions), BaseTerms(ws.definitions, how="sql")
        with ws.engine(read_only=True) as engine:
            assert engine.dialect == "postgres"
            ids = [r[0] for r in engine.fetch_all("select customer_id from customers "
                                                  "order by 1")]
            for cid in [*ids[::5], "NOBODY"]:
                mine, theirs = rows.fetch(engine, cid, AS_OF), sql.fetch(engine, cid, AS_OF)
                assert mine == theirs, cid
        outcome = _again(root, ids[0])
        assert outcome.record.compared_with == AS_OF and outcome.record.events == []
    finally:
        engine = create_engine(database_url(url))
        try:
            with engine.begin() as conn:
                conn.execute(text(f'drop schema if exists "{schema}" cascade'))
        finally:
            engine.dispose()
