"""Service-recovery cases in the application database, on SQLite and a real PostgreSQL.

Every database test runs twice: on a SQLite file in tmp_path and in a fresh schema
of the PostgreSQL server from CLIENTLENS_TEST_POSTGRES_URL (default: the local
server with trust auth), dropped afterwards. Without a server the PostgreSQL half
is skipped, or fails when CLIENTLENS_REQUIRE_SERVICES is set (scripts/test).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from clientlens.appdb import (
    AppDB,
    AppDBError,
    Base,
    RecoveryCase,
    RecoveryStep,
    current_revision,
    head_revision,
    open_appdb,
    upgrade,
)
from clientlens.appdb.database import MIGRATIONS, database_url
from clientlens.faces.cases_cli import cases_app
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.services.relationship import recovery
from clientlens.services.relationship.recovery import CaseNotFound, RecoveryError

D = dt.date(2026, 10, 1)  # a Thursday; dates below are relative to it
TABLES = {"recovery_cases", "recovery_steps", "departures", "rulebook_versions", "audit_log",
          "referral_programmes", "referral_codes", "referral_registrations", "ledger_accounts",
          "ledger_transactions", "ledger_entries", "idempotency_keys", "reevaluations",
          "reevaluation_events", "runs", "api_tokens", "api_token_imports", "console_users",
          "console_sessions", "definition_versions", "contact_consents",
          "contact_preferences", "contact_pauses", "contact_log", "alembic_version"}
HEAD = "0010"  # the newest migration


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


@dataclass
class Place:
    """Where one test's application database lives."""

    kind: str
    url: str
    schema: str | None = None

    def open(self) -> AppDB:
        return open_appdb(self.url, schema=self.schema)

    def tables(self) -> set[str]:
        engine = create_engine(database_url(self.url))
        try:
            with engine.connect() as conn:
                return set(inspect(conn).get_table_names(schema=self.schema))
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path) -> Iterator[Place]:  # noqa: ANN001
    if request.param == "sqlite":
        yield Place("sqlite", f"sqlite:///{tmp_path / 'app.sqlite'}")
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"cl_app_{uuid.uuid4().hex[:10]}"
    yield Place("postgresql", url, schema)
    engine = create_engine(database_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'drop schema if exists "{schema}" cascade'))
    finally:
        engine.dispose()


@pytest.fixture
def db(place: Place) -> Iterator[AppDB]:
    appdb = place.open()
    yield appdb
    appdb.close()


def one_line(e: pytest.ExceptionInfo) -> str:
    message = str(e.value)
    assert "\n" not in message and isinstance(e.value, ClientlensError)
    return message


# -- migrations -------------------------------------------------------------------


def test_migrations_create_the_schema_from_empty_and_are_idempotent(place: Place) -> None:
    if place.kind == "sqlite":
        assert not place.url.endswith("/") and place.tables() == set()
    with place.open() as db:
        assert place.tables() == TABLES
        assert current_revision(db) == head_revision() == HEAD
        case = recovery.open_case(db, "C1", D, "card_fee", "", "ivanova", 5)
        upgrade(db)  # nothing left to do
    with place.open() as again:  # and once more through open_appdb
        assert current_revision(again) == HEAD
        assert recovery.get_case(again, case.case_id) == case
    assert place.tables() == TABLES


def test_the_migrated_schema_is_the_models_schema(db: AppDB) -> None:
    """One metadata, one migration chain: autogenerate finds nothing to add."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


def test_the_database_enforces_keys_and_checks(db: AppDB) -> None:
    """Foreign keys (a PRAGMA on SQLite) and CHECK constraints hold even past the service."""
    bad = [
        RecoveryStep(case_id=999, kind="note", done_on=D, by_whom="x"),
        RecoveryCase(customer_id="C1", opened_on=D, category="c", owner="o", sla_days=1,
                     due_on=day(1), status="lost"),
        RecoveryCase(customer_id="C1", opened_on=D, category="c", owner="o", sla_days=-1,
                     due_on=day(-1)),
        RecoveryCase(customer_id="C1", opened_on=D, category="c", owner="o", sla_days=1,
                     due_on=day(1), status="resolved"),  # closed without closed_on
    ]
    for row in bad:
        with pytest.raises(IntegrityError), db.transaction() as s:
            s.add(row)
    case = recovery.open_case(db, "C1", D, "card_fee", "", "ivanova", 5)
    for amount, kind in ((Decimal("-1"), "fix"), (Decimal("0"), "compensation"),
                         (None, "compensation")):
        with pytest.raises(IntegrityError), db.transaction() as s:
            s.add(RecoveryStep(case_id=case.case_id, kind=kind, done_on=D, by_whom="x",
                               amount=amount, currency="RUB"))


def test_a_newer_database_is_refused(place: Place) -> None:
    with place.open() as db, db.engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999'"))
    with pytest.raises(AppDBError, match="9999") as e:
        place.open()
    assert "newer version" in one_line(e)


def test_bad_urls_are_user_errors(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(AppDBError, match="unknown database kind"):
        open_appdb("oracle+nosuch://x/y")
    with pytest.raises(AppDBError, match="cannot open the application database"):
        open_appdb(f"sqlite:///{tmp_path / 'missing-folder' / 'app.sqlite'}")
    with pytest.raises(AppDBError, match="needs PostgreSQL"):
        open_appdb(f"sqlite:///{tmp_path / 'a.sqlite'}", schema="app")
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("bank/app.sqlite").render_as_string() == "sqlite:///bank/app.sqlite"


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file() and (MIGRATIONS / "script.py.mako").is_file()
    assert (MIGRATIONS / "versions" / "0001_recovery_cases.py").is_file()


# -- the case flow -----------------------------------------------------------------


def test_open_step_close(db: AppDB) -> None:
    case = recovery.open_case(db, "C1", D, "card_fee", "Annual fee charged twice",
                              "ivanova", 5, source_ref="I0001")
    assert (case.status, case.due_on, case.closed_on, case.source_ref) == \
        ("open", day(5), None, "I0001")
    recovery.record_step(db, case.case_id, "apology", day(1), "ivanova", note="called")
    money = recovery.record_step(db, case.case_id, "compensation", day(2), "petrov",
                                 amount="1500.5", currency="rub")
    assert (money.amount, money.currency) == (Decimal("1500.50"), "RUB")
    recovery.record_step(db, case.case_id, "fix", day(2), "petrov")
    closed = recovery.close_case(db, case.case_id, day(3), "resolved", "Fee refunded")
    assert (closed.status, closed.closed_on, closed.outcome) == ("resolved", day(3),
                                                                 "Fee refunded")
    shown = recovery.get_case(db, str(case.case_id))
    assert [s.kind for s in shown.steps] == ["apology", "compensation", "fix"]
    assert shown.steps[1].amount == Decimal("1500.50") and shown.steps[0].amount is None
    assert shown.status == "resolved" and not shown.overdue(day(30))


def test_a_failed_case_needs_no_steps(db: AppDB) -> None:
    case = recovery.open_case(db, "C1", D, "transfer_delay", "", "ivanova", 3)
    assert recovery.close_case(db, case.case_id, day(9), "failed", "Customer left").status \
        == "failed"


def test_list_cases_filters(db: AppDB) -> None:
    a = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 5)
    b = recovery.open_case(db, "C2", D, "fee", "", "ivanova", 10)
    c = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 2)
    recovery.close_case(db, c.case_id, day(1), "failed", "gone")
    ids = lambda cases: [x.case_id for x in cases]  # noqa: E731
    assert ids(recovery.list_cases(db)) == [c.case_id, a.case_id, b.case_id]  # by due date
    assert ids(recovery.list_cases(db, status="open")) == [a.case_id, b.case_id]
    assert ids(recovery.list_cases(db, customer_id="C1")) == [c.case_id, a.case_id]
    assert ids(recovery.list_cases(db, overdue_on=day(5))) == []  # due today is not late
    assert ids(recovery.list_cases(db, overdue_on=day(6))) == [a.case_id]
    assert ids(recovery.list_cases(db, overdue_on="2026-10-20")) == [a.case_id, b.case_id]
    with pytest.raises(RecoveryError, match="status: 'closed' is not one of open, resolved"):
        recovery.list_cases(db, status="closed")


# -- each rule, refused with its message -------------------------------------------


def test_resolving_needs_an_apology_and_a_fix(db: AppDB) -> None:
    case = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 5)
    cid = case.case_id
    with pytest.raises(RecoveryError) as e:
        recovery.close_case(db, cid, day(2), "resolved", "done")
    assert one_line(e) == (f"case {cid}, status: cannot be resolved without an apology step "
                           "and a fix step (steps so far: none)")
    recovery.record_step(db, cid, "apology", day(1), "ivanova")
    recovery.record_step(db, cid, "note", day(1), "ivanova", note="waiting for IT")
    with pytest.raises(RecoveryError) as e:
        recovery.close_case(db, cid, day(2), "resolved", "done")
    assert one_line(e) == (f"case {cid}, status: cannot be resolved without a fix step "
                           "(steps so far: apology, note)")
    assert recovery.get_case(db, cid).status == "open"  # nothing changed


@pytest.mark.parametrize(("amount", "message"), [
    (None, "amount: a compensation needs a positive amount"),
    (0, "amount: a compensation needs a positive amount (got 0)"),
    ("-5", "amount: must not be negative (got -5)"),
    ("12.345", "amount: 12.345 has more than two decimal places"),
    ("lots", "amount: 'lots' is not a number like 1500.00"),
])
def test_compensation_needs_a_positive_amount(db: AppDB, amount: object, message: str) -> None:
    cid = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 5).case_id
    with pytest.raises(RecoveryError) as e:
        recovery.record_step(db, cid, "compensation", day(1), "ivanova", amount=amount)
    assert one_line(e) == f"case {cid}, {message}"
    assert recovery.get_case(db, cid).steps == ()


def test_no_steps_after_closing(db: AppDB) -> None:
    cid = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 5).case_id
    recovery.close_case(db, cid, day(2), "failed", "Customer unreachable")
    with pytest.raises(RecoveryError) as e:
        recovery.record_step(db, cid, "apology", day(3), "ivanova")
    assert one_line(e) == (f"case {cid}: was failed on {day(2)}: no steps can be recorded "
                           "after closing")
    with pytest.raises(RecoveryError) as e:
        recovery.close_case(db, cid, day(3), "resolved", "after all")
    assert one_line(e) == f"case {cid}: is already failed (closed on {day(2)})"


def test_dates_keep_their_order(db: AppDB) -> None:
    cid = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 5).case_id
    with pytest.raises(RecoveryError) as e:
        recovery.close_case(db, cid, day(-1), "failed", "x")
    assert one_line(e) == (f"case {cid}, closed_on: {day(-1)} is before the case was opened "
                           f"({D})")
    with pytest.raises(RecoveryError) as e:
        recovery.record_step(db, cid, "apology", day(-2), "ivanova")
    assert one_line(e) == (f"case {cid}, done_on: {day(-2)} is before the case was opened "
                           f"({D})")
    step = recovery.record_step(db, cid, "fix", day(4), "petrov")
    with pytest.raises(RecoveryError) as e:
        recovery.close_case(db, cid, day(3), "failed", "x")
    assert one_line(e) == (f"case {cid}, closed_on: {day(3)} is before step {step.step_id} "
                           f"(fix) done on {day(4)}")
    with pytest.raises(RecoveryError) as e:
        recovery.close_case(db, cid, "31.10.2026", "failed", "x")
    assert one_line(e) == f"case {cid}, closed_on: '31.10.2026' is not a date like 2026-10-31"


def test_unknown_case_id(db: AppDB) -> None:
    for call in (lambda: recovery.get_case(db, 404),
                 lambda: recovery.record_step(db, 404, "apology", D, "ivanova"),
                 lambda: recovery.close_case(db, "404", D, "failed", "x")):
        with pytest.raises(CaseNotFound) as e:
            call()
        assert isinstance(e.value, NotFoundError)
        assert one_line(e).startswith("case 404 not found in the application database")
    with pytest.raises(RecoveryError) as e:
        recovery.get_case(db, "twelve")
    assert one_line(e) == "case id 'twelve' is not a whole number like 12"


def test_bad_values_name_their_field(db: AppDB) -> None:
    cid = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 5).case_id
    with pytest.raises(RecoveryError) as e:
        recovery.record_step(db, cid, "apologie", D, "ivanova")
    assert one_line(e) == (f"case {cid}, kind: 'apologie' is not one of apology, fix, "
                           "compensation, note. Did you mean 'apology'?")
    with pytest.raises(RecoveryError) as e:
        recovery.record_step(db, cid, "apology", D, "  ")
    assert one_line(e) == f"case {cid}, by_whom: must not be empty"
    with pytest.raises(RecoveryError) as e:
        recovery.close_case(db, cid, D, "closed", "x")
    assert one_line(e).startswith(f"case {cid}, status: 'closed' is not one of resolved, "
                                  "failed")
    with pytest.raises(RecoveryError) as e:
        recovery.open_case(db, "C1", D, "fee", "", "ivanova", -2)
    assert one_line(e) == "new case, sla_days: must be a whole number of days >= 0 (got -2)"
    with pytest.raises(RecoveryError) as e:
        recovery.open_case(db, "", D, "fee", "", "ivanova", 2)
    assert one_line(e) == "new case, customer_id: must not be empty"
    recovery.open_case(db, "C1", D, "fee", "", "ivanova", 2, source_ref="I7")
    with pytest.raises(RecoveryError) as e:
        recovery.open_case(db, "C1", D, "fee", "", "ivanova", 2, source_ref="I7")
    assert one_line(e) == f"new case, source_ref: 'I7' already has case {cid + 1}"


# -- complaints in, facts out ------------------------------------------------------


def test_importing_complaints_is_idempotent(db: AppDB) -> None:
    rows = [
        {"interaction_id": "I1", "customer_id": "C1", "ts": dt.datetime(2026, 10, 1, 9, 12)},
        {"interaction_id": "I2", "customer_id": "C2", "ts": "2026-10-02 18:00:00"},
        {"interaction_id": "I1", "customer_id": "C1", "ts": dt.datetime(2026, 10, 1, 9, 12)},
        {"interaction_id": "I3", "customer_id": "C1", "ts": dt.date(2026, 10, 3)},
    ]
    assert recovery.cases_from_complaints(db, rows, "complaints_desk", 7) == 3
    assert recovery.cases_from_complaints(db, rows, "complaints_desk", 7) == 0
    table = pa.table({"interaction_id": ["I3", "I4"], "customer_id": ["C1", "C3"],
                      "ts": [dt.datetime(2026, 10, 3), dt.datetime(2026, 10, 4, 23, 59)]})
    assert recovery.cases_from_complaints(db, table, "complaints_desk", 7) == 1
    cases = {c.source_ref: c for c in recovery.list_cases(db)}
    assert sorted(cases) == ["I1", "I2", "I3", "I4"]
    i2 = cases["I2"]
    assert (i2.customer_id, i2.opened_on, i2.due_on, i2.owner, i2.category, i2.status) == \
        ("C2", day(1), day(8), "complaints_desk", "complaint", "open")
    with pytest.raises(RecoveryError) as e:
        recovery.cases_from_complaints(db, [{"interaction_id": "I9", "ts": D}], "desk", 7)
    assert one_line(e) == "complaint row 1, customer_id: missing"
    with pytest.raises(RecoveryError) as e:
        recovery.cases_from_complaints(db, [{"interaction_id": "I9", "customer_id": "C1",
                                             "ts": "yesterday"}], "desk", 7)
    assert one_line(e).startswith("complaint row 1, ts: 'yesterday' is not a date")
    assert len(recovery.list_cases(db)) == 4


def test_case_facts_are_point_in_time(db: AppDB) -> None:
    late = recovery.open_case(db, "C1", D, "fee", "", "ivanova", 5).case_id  # due day 5
    for kind in ("apology", "fix"):
        recovery.record_step(db, late, kind, day(2), "ivanova")
    recovery.close_case(db, late, day(9), "resolved", "refunded, late")
    on_time = recovery.open_case(db, "C2", D, "fee", "", "ivanova", 10).case_id  # due day 10
    recovery.close_case(db, on_time, day(10), "failed", "customer left")
    recovery.open_case(db, "C3", day(20), "fee", "", "ivanova", 3)  # not yet opened below

    def facts(n: int) -> dict[int, tuple]:
        table = recovery.case_facts(db, day(n))
        assert table.schema == recovery.FACTS_SCHEMA
        assert table.column_names == ["case_id", "customer_id", "opened_on", "due_on",
                                      "closed_on", "status", "breached"]
        return {r["case_id"]: (r["status"], r["closed_on"], r["breached"])
                for r in table.to_pylist()}

    assert facts(-1) == {}
    assert facts(5) == {late: ("open", None, False), on_time: ("open", None, False)}
    assert facts(6) == {late: ("open", None, True), on_time: ("open", None, False)}
    assert facts(9) == {late: ("resolved", day(9), True), on_time: ("open", None, False)}
    assert facts(19) == {late: ("resolved", day(9), True),
                         on_time: ("failed", day(10), False)}
    assert len(facts(20)) == 3
    row = recovery.case_facts(db, "2026-10-07").to_pylist()[0]
    assert row == {"case_id": late, "customer_id": "C1", "opened_on": D, "due_on": day(5),
                   "closed_on": None, "status": "open", "breached": True}


# -- the command line (SQLite) -----------------------------------------------------


def test_cases_from_the_command_line(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"

    def run(*args: str, code: int = 0):  # noqa: ANN202
        result = runner.invoke(cases_app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    opened = run("open", "C0000001", "--category", "card_fee", "--owner", "ivanova",
                 "--sla-days", "5", "--description", "Fee [charged] twice", "--on",
                 "2026-10-01", "--source-ref", "I42", "--db", url, "--force")
    assert "Opened case 1 for C0000001, owner ivanova, due 2026-10-06." in opened.stdout
    run("step", "1", "apology", "--by", "ivanova", "--on", "2026-10-02", "--db", url)
    paid = run("step", "1", "compensation", "--by", "petrov", "--amount", "1500",
               "--on", "2026-10-03", "--note", "fee refunded", "--db", url)
    assert "compensation (1,500.00 RUB)" in paid.stdout

    refused = run("close", "1", "resolved", "--outcome", "done", "--on", "2026-10-04",
                  "--db", url, code=1)
    assert refused.stdout == ""
    assert refused.stderr.strip() == ("error: case 1, status: cannot be resolved without a "
                                      "fix step (steps so far: apology, compensation)")
    assert "Traceback" not in refused.output and refused.stderr.count("\n") == 1

    monkeypatch.setenv("CLIENTLENS_APP_DB", url)  # the --db default comes from the env
    run("step", "1", "fix", "--by", "petrov", "--on", "2026-10-04")
    closed = run("close", "1", "resolved", "--outcome", "Refunded", "--on", "2026-10-08")
    assert "Case 1 resolved on 2026-10-08 (after its due date)." in closed.stdout
    run("open", "C0000002", "--category", "transfer_delay", "--owner", "petrov",
        "--on", "2026-10-02", "--force")

    listed = run("list").stdout
    assert "Recovery cases: 2" in listed and "C0000001" in listed and "resolved" in listed
    assert "C0000001" not in run("list", "--status", "open").stdout
    overdue = run("list", "--overdue-on", "2026-10-08").stdout
    assert "Recovery cases: 1" in overdue and "C0000002" in overdue
    assert "Recovery cases: 1" in run("list", "--customer", "C0000001").stdout

    shown = run("show", "1").stdout
    assert "Case 1 · customer C0000001 · card_fee" in shown
    assert "Fee [charged] twice" in shown and "outcome: Refunded" in shown
    assert all(k in shown for k in ("apology", "compensation", "fix", "1,500.00 RUB"))

    for args, message in [
        (("show", "7"), "error: case 7 not found in the application database"),
        (("step", "2", "compensation", "--by", "x"),
         "error: case 2, amount: a compensation needs a positive amount"),
        (("list", "--overdue-on", "2026-13-01"),
         "error: --overdue-on '2026-13-01' is not a date like 2026-10-31"),
        (("list", "--db", "nosuch://x"), "error: application database URL 'nosuch://x'"),
    ]:
        bad = run(*args, code=1)
        assert bad.stderr.startswith(message) and bad.stderr.count("\n") == 1, bad.stderr


def test_mounted_under_clientlens_user_errors_still_exit_1(tmp_path) -> None:  # noqa: ANN001
    """As faces/cli.py will mount it: main() runs the app with standalone_mode=False."""
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    script = ("import sys\n"
              "from clientlens.faces import cli\n"
              "from clientlens.faces.cases_cli import cases_app\n"
              "cli.app.add_typer(cases_app, name='cases')\n"
              "sys.argv = ['clientlens', *sys.argv[1:]]\n"
              "cli.main()\n")

    def clientlens(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script, *args, "--db", url],
                              capture_output=True, text=True, env={"COLUMNS": "200",
                                                                   "PATH": "/usr/bin:/bin"})

    ok = clientlens("cases", "open", "C1", "--category", "fee", "--owner", "o", "--force")
    assert ok.returncode == 0 and "Opened case 1" in ok.stdout, ok.stderr
    bad = clientlens("cases", "step", "1", "refund", "--by", "o")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == ("error: case 1, kind: 'refund' is not one of apology, fix, "
                          "compensation, note.\n")


def test_the_default_database_is_the_workspaces(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from clientlens.services.workspace.folder import init_workspace

    init_workspace(tmp_path / "bank")
    monkeypatch.chdir(tmp_path / "bank")
    monkeypatch.delenv("CLIENTLENS_APP_DB", raising=False)
    monkeypatch.delenv("CLIENTLENS_WORKSPACE", raising=False)
    # Nothing imported yet: the id cannot be checked, so it needs --force.
    unchecked = CliRunner().invoke(cases_app, ["open", "C1", "--category", "fee", "--owner",
                                               "o"])
    assert unchecked.exit_code == 1 and "no customers are imported" in unchecked.output
    result = CliRunner().invoke(cases_app, ["open", "C1", "--category", "fee", "--owner", "o",
                                            "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bank" / "clientlens-app.sqlite").is_file()
    monkeypatch.chdir(tmp_path)  # not a workspace: a clear one-line refusal
    refused = CliRunner().invoke(cases_app, ["list"])
    assert refused.exit_code == 1 and "not a clientlens workspace" in refused.output


def test_every_command_has_an_example() -> None:
    import typer.main

    group = typer.main.get_command(cases_app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert "clientlens cases " + name in (command.help or ""), name
