"""The relationship over time: phases on scripted customer stories, effective-dated
history, explanations with the rulebook then in force, backfill that resumes, atomic
re-runs (a killed run leaves the previous snapshot), cases and departures feeding the
phases, and the win-back list."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clientlens.services.profiling.history import backfill_dates, value_on
from clientlens.services.relationship.departures import record_departure
from clientlens.services.relationship.recovery import close_case, open_case, record_step
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import Workspace, init_workspace

D0 = dt.date(2025, 1, 31)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def sql_date(d: dt.date) -> str:
    return f"date '{d}'"


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    """Scripted customers (registered long ago unless said otherwise):

    P  registers on day 0, opens a card on day 30.
    S  an established customer paid a salary every month until day 300, then none.
    W  paid like S, and closes a deposit on day 310 (two weak signs together).
    L  closes everything on day 100, comes back with a new card on day 400.
    K  an established customer who complains on day 500.
    """
    root = tmp_path / "bank"
    ws = init_workspace(root)
    with ws.engine() as engine:
        people = {"P": day(0), "S": dt.date(2015, 1, 1), "L": dt.date(2015, 1, 1),
                  "K": dt.date(2015, 1, 1), "W": dt.date(2015, 1, 1)}
        engine.execute("insert into customers (customer_id, full_name, customer_type, "
                       "registered_on) values " + ", ".join(
                           f"('{c}', 'Клиент {c}', 'retail', {sql_date(d)})"
                           for c, d in people.items()))
        accounts = [("AP", "P", "card", "debit", day(30), None),
                    ("AS", "S", "card", "salary_project", dt.date(2015, 1, 1), None),
                    ("AL1", "L", "card", "debit", dt.date(2015, 1, 1), day(100)),
                    ("AL2", "L", "deposit", "term", dt.date(2016, 1, 1), day(100)),
                    ("AL3", "L", "card", "debit", day(400), None),
                    ("AK", "K", "card", "debit", dt.date(2015, 1, 1), None),
                    ("AW1", "W", "card", "salary_project", dt.date(2015, 1, 1), None),
                    ("AW2", "W", "deposit", "term", dt.date(2016, 1, 1), day(310))]
        engine.execute("insert into accounts (account_id, customer_id, account_type, subtype, "
                       "currency, opened_on, closed_on, balance, balance_base) values "
                       + ", ".join(f"('{a}', '{c}', '{t}', '{s}', 'RUB', {sql_date(o)}, "
                                   f"{sql_date(x) if x else 'null'}, 1000, 1000)"
                                   for a, c, t, s, o, x in accounts))
        salaries = [day(-400) + dt.timedelta(days=30 * k) for k in range(24)]
        engine.execute("insert into transactions (transaction_id, account_id, customer_id, ts, "
                       "amount, kind, channel) values " + ", ".join(
                           f"('T{c}{k}', 'A{c}{n}', '{c}', timestamp '{d} 10:00:00', 90000, "
                           "'salary', 'system')" for c, n in (("S", ""), ("W", "1"))
                           for k, d in enumerate(salaries) if d <= day(300)))
        engine.execute("insert into interactions values ('IK', 'K', "
                       f"timestamp '{day(500)} 12:00:00', 'branch', 'complaint')")
    return root


def phases_on(root: Path, days: list[dt.date]) -> dict[str, list[str]]:
    for d in days:
        jobs.run(root, d)
    with Workspace(root).engine(read_only=True) as engine:
        rows = engine.fetch_all("select customer_id, as_of, phase from profiles order by 2")
    out: dict[str, list[str]] = {}
    for cid, as_of, phase in rows:
        if as_of in days:
            out.setdefault(cid, []).append(phase)
    return out


def test_phases_follow_scripted_customer_stories(bank: Path) -> None:
    days = [day(10), day(60), day(200), day(340), day(420), day(505), day(700)]
    got = phases_on(bank, days)
    assert got["P"] == ["recruitment", "welcome", "getting_to_know", "getting_to_know",
                        "customer_management", "customer_management", "customer_management"]
    # The last salary came on day 290: on day 340 and 420 none came for 45 days after
    # two or more before (stopped). That is one weak sign: S is not warned about. W
    # also closed a deposit on day 310: two weak signs on day 340; by day 420 the
    # closing has left the activity window and the warning lapses.
    assert got["S"] == ["customer_management"] * 7
    assert got["W"] == ["customer_management"] * 3 + ["potential_divorce"] + \
        ["customer_management"] * 3
    assert got["L"][:2] == ["customer_management", "customer_management"]
    assert got["L"][2:4] == ["divorce", "divorce"]
    assert got["L"][4:6] == ["win_back", "win_back"]  # back on day 400, within 180 days
    assert got["L"][6] == "customer_management"  # day 700: 300 days after the return
    # A complaint 5 days ago and no case for it; then the care window passes.
    assert got["K"] == ["customer_management"] * 5 + ["intensive_care", "customer_management"]


def test_a_recovery_case_moves_the_phase_and_its_resolution_returns_it(bank: Path) -> None:
    ws = Workspace(bank)
    with ws.app_db() as db:
        case = open_case(db, "K", day(501), "card_fee", "fee charged twice", "ivanova", 10,
                         source_ref="IK")
    assert phases_on(bank, [day(505)])["K"] == ["intensive_care"]
    with ws.app_db() as db:  # the case covers the complaint; while open, still in care
        record_step(db, case.case_id, "apology", day(506), "ivanova")
        record_step(db, case.case_id, "fix", day(508), "ivanova")
        close_case(db, case.case_id, day(509), "resolved", "fee refunded")
    assert phases_on(bank, [day(508), day(512)])["K"] == ["intensive_care",
                                                          "customer_management"]
    with ws.app_db() as db:
        failed = open_case(db, "S", day(600), "transfer_lost", "", "petrov", 3)
        close_case(db, failed.case_id, day(610), "failed", "customer refused the offer")
    assert phases_on(bank, [day(611)])["S"] == ["intensive_care"]  # a failed case


def test_history_is_effective_dated_and_answers_any_date(bank: Path) -> None:
    days = [day(60), day(200), day(420), day(700)]
    for d in days:
        jobs.run(bank, d)
    h = jobs.history(bank, "L", ("segment", "phase"))
    assert h.snapshots == days
    phases = [(i.value, i.valid_from, i.valid_to) for i in h.intervals if i.attribute == "phase"]
    assert phases[0] == ("customer_management", day(60), day(200))
    assert phases[1] == ("divorce", day(200), day(420))
    assert phases[2][:2] == ("win_back", day(420))
    assert value_on(h.intervals, "phase", day(300)).value == "divorce"  # between runs
    assert value_on(h.intervals, "phase", day(59)) is None  # before the first run
    segment = value_on(h.intervals, "segment", day(250))
    assert segment is not None and segment.value == "loyal"
    assert all(i.rulebook_versions for i in h.intervals)


def test_a_past_date_is_explained_with_the_rulebook_then_in_force(bank: Path) -> None:
    ws = Workspace(bank)
    jobs.run(bank, day(200))
    old = ws.definitions.version
    rulebook = ws.definitions_dir / "rulebook.yaml"
    rulebook.write_text(rulebook.read_text(encoding="utf-8").replace(
        "value: 1500000", "value: 1400000"), encoding="utf-8")
    new_ws = Workspace(bank)
    assert new_ws.definitions.version != old
    jobs.run(bank, day(420))
    then = jobs.explain(bank, "P", day(200))
    assert then.rulebook_version == old and then.source == "stored profile"
    between = jobs.explain(bank, "P", day(300))
    assert between.as_of == day(200) and "snapshot of " + str(day(200)) in between.note
    now = jobs.explain(bank, "P", day(420))
    assert now.rulebook_version == new_ws.definitions.version


def test_backfill_runs_month_ends_and_resumes(bank: Path) -> None:
    assert backfill_dates(dt.date(2025, 1, 15), dt.date(2025, 4, 30)) == [
        dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31), dt.date(2025, 4, 30)]
    assert backfill_dates(dt.date(2026, 11, 1), dt.date(2026, 11, 20), "week") == [
        dt.date(2026, 11, 1), dt.date(2026, 11, 8), dt.date(2026, 11, 15)]
    seen: list[tuple[int, int]] = []
    first = jobs.backfill(bank, dt.date(2025, 1, 1), dt.date(2025, 3, 31),
                          progress=lambda done, total, _d: seen.append((done, total)))
    assert [r.as_of for r in first.ran] == [dt.date(2025, 1, 31), dt.date(2025, 2, 28),
                                            dt.date(2025, 3, 31)]
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    # Interrupted after March, say: the full range resumes from April.
    resumed = jobs.backfill(bank, dt.date(2025, 1, 1), dt.date(2025, 5, 31))
    assert [r.as_of for r in resumed.ran] == [dt.date(2025, 4, 30), dt.date(2025, 5, 31)]
    assert len(resumed.skipped) == 3
    forced = jobs.backfill(bank, dt.date(2025, 1, 1), dt.date(2025, 2, 28), force=True)
    assert len(forced.ran) == 2
    with pytest.raises(jobs.ClientlensError, match="before it starts"):
        jobs.backfill(bank, dt.date(2025, 5, 1), dt.date(2025, 1, 1))


def test_win_back_list_keeps_to_the_cooling_off_period_and_to_wishes(bank: Path) -> None:
    ws = Workspace(bank)
    with ws.engine() as engine:  # two more customers who left
        engine.execute("insert into customers (customer_id, full_name, customer_type, "
                       "registered_on) values ('M', 'Клиент M', 'retail', date '2015-01-01'), "
                       "('N', 'Клиент N', 'retail', date '2015-01-01'), "
                       "('Q', 'Клиент Q', 'retail', date '2015-01-01')")
        closed = {"M": day(150), "N": day(150), "Q": day(190)}
        engine.execute("insert into accounts (account_id, customer_id, account_type, subtype, "
                       "currency, opened_on, closed_on, balance, balance_base) values "
                       + ", ".join(f"('A{c}', '{c}', 'card', 'debit', 'RUB', date '2015-01-01', "
                                   f"{sql_date(d)}, 0, 0)" for c, d in closed.items()))
    with ws.app_db() as db:
        record_departure(db, "M", day(150), "situational", "moved", "petrova")
        record_departure(db, "N", day(150), "dissatisfaction", "fees", "petrova",
                         do_not_contact=True)
        record_departure(db, "L", day(100), "dissatisfaction", "queues", "petrova")
    jobs.run(bank, day(250))
    result = jobs.win_back(bank, day(250))
    ids = [r[0] for r in result.rows]
    # Q left 60 days ago (cooling off); N asked not to be contacted; M (situational)
    # ranks before L (dissatisfied).
    assert ids == ["M", "L"]
    assert result.excluded_no_contact == 1 and result.cooling_off == 1
    assert "exit_reason +" in " ".join(str(x) for x in result.rows[0])


@pytest.mark.skipif(sys.platform != "linux", reason="needs SIGKILL")
def test_a_run_killed_half_way_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    """Run a date, change the rulebook, re-run the date and kill it at several moments:
    the date's snapshot is always whole, from one version or the other, never mixed."""
    root = tmp_path / "bank"
    jobs.demo(root, customers=20_000, seed=5)
    ws = Workspace(root)
    with ws.engine(read_only=True) as engine:
        as_of, n = engine.fetch_all("select max(as_of), count(*) from profiles "
                                    "where as_of = (select max(as_of) from profiles)")[0]
    old = ws.definitions.version
    rulebook = ws.definitions_dir / "rulebook.yaml"
    rulebook.write_text(rulebook.read_text(encoding="utf-8").replace(
        "value: 1500000", "value: 1400000"), encoding="utf-8")
    new = Workspace(root).definitions.version
    outcomes = set()
    for delay in (0.3, 1.0, 1.8, 2.6):
        proc = subprocess.Popen([sys.executable, "-m", "clientlens.faces.cli", "run", "-w",
                                 str(root), "--as-of", str(as_of)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Workspace(root).engine(read_only=True) as engine:
            rows = engine.fetch_all("select rulebook_version, count(*) from profiles "
                                    "where as_of = ? group by 1", [as_of])
        assert len(rows) == 1, rows  # never a mix of versions
        version, count = rows[0]
        assert version in (old, new) and count == n
        outcomes.add(version)
    # Finally a run that is not killed replaces the snapshot.
    jobs.run(root, as_of)
    with Workspace(root).engine(read_only=True) as engine:
        assert engine.fetch_all("select distinct rulebook_version from profiles "
                                "where as_of = ?", [as_of]) == [(new,)]
    assert old in outcomes  # at least one kill landed before the commit


def test_complaints_become_cases_once_and_an_open_case_keeps_the_customer_in_care(
        bank: Path) -> None:
    from typer.testing import CliRunner

    from clientlens.faces.cases_cli import cases_app

    args = ["from-complaints", "--since", str(day(400)), "--owner", "care", "-w", str(bank)]
    first = CliRunner().invoke(cases_app, args)
    assert first.exit_code == 0 and "1 new cases" in first.output, first.output
    again = CliRunner().invoke(cases_app, args)
    assert "0 new cases, 1 already had one" in again.output
    # The complaint's care window is long over on day 600, but its case is still open.
    assert phases_on(bank, [day(600)])["K"] == ["intensive_care"]


def test_recommended_actions_are_due_from_entering_the_phase(bank: Path) -> None:
    for d in (day(10), day(60), day(65), day(200)):
        jobs.run(bank, d)
    listed = jobs.customer_list(bank, "actions", day(65), limit=100)
    rows = {(r["customer_id"], r["action"]): r for r in listed.rows.to_pylist()}
    # P entered welcome in the day-60 snapshot: the welcome contact is due 10 days later.
    assert rows[("P", "welcome_contact")]["due_on"] == day(70)
    assert rows[("P", "welcome_contact")]["entered_on"] == day(60)
    overdue = jobs.customer_list(bank, "actions", day(200), limit=100, overdue_only=True)
    assert all(r["due_on"] < day(200) for r in overdue.rows.to_pylist())
    with pytest.raises(jobs.ClientlensError, match="Did you mean .branch."):
        jobs.customer_list(bank, "actions", day(65), department="brnch")
