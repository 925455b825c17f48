"""Entitlements across runs, the grace period, customer lists, and bad catalogue files."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from clientlens.definitions.rulebook import load_definitions
from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.errors import ClientlensError, DefinitionError
from clientlens.services.analytics import lists as targeting
from clientlens.services.profiling.segmentation import run_segmentation
from clientlens.services.workspace.folder import DEFAULTS

DEFS = load_definitions(DEFAULTS)
D1 = dt.date(2026, 9, 30)
GRACE = next(s.grace_days for s in DEFS.services if s.id == "personal_manager")  # 180


def _bank(engine: DuckDBEngine) -> None:
    engine.execute("""insert into customers (customer_id, full_name, customer_type,
        registered_on) values ('C1', 'Иванова', 'retail', date '2015-01-01'),
        ('C2', 'Петров', 'retail', date '2015-01-01')""")
    # C1: a deposit of 2,000,000 (status) closed right after D1, so C1 drops out of
    # status; C2 stays status throughout.
    engine.execute("""insert into accounts (account_id, customer_id, account_type, subtype,
        currency, opened_on, closed_on, balance, balance_base) values
        ('A1', 'C1', 'deposit', 'term', 'RUB', date '2016-01-01', date '2026-10-01',
         2000000, 2000000),
        ('A2', 'C1', 'card', 'debit', 'RUB', date '2016-01-01', null, 100, 100),
        ('A3', 'C2', 'deposit', 'term', 'RUB', date '2016-01-01', null, 3000000, 3000000),
        ('A4', 'C2', 'card', 'debit', 'RUB', date '2016-01-01', null, 100, 100)""")


def _events(engine: DuckDBEngine, day: dt.date, service: str) -> dict[str, str]:
    rows = engine.fetch_all("select customer_id, event from entitlement_events where as_of = ? "
                            "and service = ?", [day, service])
    return dict(rows)


def test_grant_grace_and_revoke_across_runs() -> None:
    with DuckDBEngine(":memory:") as engine:
        _bank(engine)
        first = run_segmentation(engine, DEFS, D1)
        assert first.entitlements is not None and first.entitlements.previous is None
        assert _events(engine, D1, "personal_manager") == {"C1": "granted", "C2": "granted"}

        d2 = dt.date(2026, 10, 31)  # C1 no longer status: kept for the grace period
        second = run_segmentation(engine, DEFS, d2)
        assert second.entitlements.previous == D1
        assert _events(engine, d2, "personal_manager") == {"C1": "grace_started"}
        kept = engine.fetch_all("select kept_until, qualified from entitlements where as_of = ? "
                                "and customer_id = 'C1' and service = 'personal_manager'", [d2])
        assert kept == [(D1 + dt.timedelta(days=GRACE), False)]

        d3 = D1 + dt.timedelta(days=GRACE)  # the last day of grace: still held, no event
        run_segmentation(engine, DEFS, d3)
        assert _events(engine, d3, "personal_manager") == {}
        d4 = d3 + dt.timedelta(days=1)  # grace over: revoked
        run_segmentation(engine, DEFS, d4)
        assert _events(engine, d4, "personal_manager") == {"C1": "revoked"}
        held = engine.fetch_all("select customer_id from entitlements where as_of = ? and "
                                "service = 'personal_manager'", [d4])
        assert held == [("C2",)]

        # Re-running a date gives the same events, not duplicates.
        run_segmentation(engine, DEFS, d4)
        assert _events(engine, d4, "personal_manager") == {"C1": "revoked"}
        counts = engine.fetch_all("select count(*) from entitlement_events where as_of = ?",
                                  [d4])
        assert counts[0][0] == len(engine.fetch_all(
            "select distinct customer_id, service from entitlement_events where as_of = ?",
            [d4]))


def test_requalifying_within_grace_keeps_the_original_grant_date() -> None:
    with DuckDBEngine(":memory:") as engine:
        _bank(engine)
        run_segmentation(engine, DEFS, D1)
        run_segmentation(engine, DEFS, dt.date(2026, 10, 31))  # C1 in grace
        engine.execute("update accounts set closed_on = null where account_id = 'A1'")
        d3 = dt.date(2026, 11, 30)
        run_segmentation(engine, DEFS, d3)  # C1 qualifies again
        assert _events(engine, d3, "personal_manager") == {}
        row = engine.fetch_all("select granted_on, qualified from entitlements where as_of = ? "
                               "and customer_id = 'C1' and service = 'personal_manager'", [d3])
        assert row == [(D1, True)]


def test_a_failed_run_leaves_profiles_and_entitlements_as_they_were(tmp_path: Path) -> None:
    with DuckDBEngine(":memory:") as engine:
        _bank(engine)
        run_segmentation(engine, DEFS, D1)
        before = engine.fetch_all("select count(*) from entitlement_events")[0][0]
        engine.execute("drop table entitlement_events")  # the events step will now fail
        engine.execute("create table entitlement_events (as_of date, only_column integer)")
        with pytest.raises(ClientlensError):
            run_segmentation(engine, DEFS, dt.date(2026, 10, 31))
        assert engine.fetch_all("select distinct as_of from profiles") == [(D1,)]
        assert engine.fetch_all("select distinct as_of from entitlements") == [(D1,)]
        assert before > 0


def test_lists_over_a_run() -> None:
    with DuckDBEngine(":memory:") as engine:
        _bank(engine)
        run_segmentation(engine, DEFS, D1)
        due = targeting.survey_due(engine, DEFS, D1)
        assert due.count(engine) == 2  # nobody has answered a survey
        with pytest.raises(ClientlensError, match="Did you mean 'deposit_keep'"):
            targeting.lookalikes(engine, DEFS, D1, "deposit_kep")
        with pytest.raises(ClientlensError, match="Departments: "):
            targeting.leads(engine, DEFS, D1, department="mortgages")


def test_survey_due_counts_only_the_surveys_the_loyalty_rating_needs() -> None:
    """A customer who answered a survey recently is not due, although the win-back
    rating (which a survey cannot give: both still hold products) is insufficient."""
    with DuckDBEngine(":memory:") as engine:
        _bank(engine)
        engine.execute("""insert into surveys (survey_id, customer_id, answered_on, nps,
            satisfaction, channel) values ('Q1', 'C2', ?, 9, 5, 'internet')""",
                       [D1 - dt.timedelta(days=20)])
        run_segmentation(engine, DEFS, D1)
        grades = dict(engine.fetch_all("select customer_id, win_back_grade from profiles"))
        assert grades == {"C1": "insufficient data", "C2": "insufficient data"}
        due = targeting.survey_due(engine, DEFS, D1)
        assert [r[0] for r in engine.fetch_all(due.query, due.params)] == ["C1"]
        assert "win_back" not in due.note


def _workspace_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    shutil.copytree(DEFAULTS, folder)
    return folder


@pytest.mark.parametrize("old, new, message", [
    ("    need: regular_income\n    department: deposits\n",
     "    need: retirement\n    department: deposits\n",
     "need 'retirement' is not a need of the rulebook"),
    ("    holds: product_code = 'DEP-KEEP'", "    holds: balance_total > 0",
     "holds (a condition over accounts columns): unknown name 'balance_total'"),
    ("    kind: benefit\n", "    kind: perk\n", "kind must be one of service, benefit"),
    ("    grace_days: 180", "    grace_days: -5", "grace_days must be a whole number"),
    ("    granted_when: segment = 'social'", "    granted_when: segment = 'socail' and",
     "service pension_bonus_rate: granted_when: cannot parse"),
    ("  - id: car_loan", "  - id: deposit_grow", "product deposit_grow appears twice"),
    ("      - solvency_grade in ('A', 'B', 'C')\n    lead:",
     "      - solvency_grad in ('A', 'B', 'C')\n    lead:", "Did you mean 'solvency_grade'"),
])
def test_bad_catalogue_files_are_refused_with_file_and_line(tmp_path: Path, old: str, new: str,
                                                             message: str) -> None:
    folder = _workspace_copy(tmp_path)
    path = folder / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DefinitionError) as e:
        load_definitions(folder)
    shown = str(e.value)
    assert message in shown, shown
    assert "catalogue.yaml:" in shown


@pytest.mark.parametrize("old, new, message", [
    ("          - {below: 5000, points: 10}\n", "          - {below: 400, points: 10}\n",
     "'below' bounds must increase"),
    ("          - {below: 1, points: 5}\n          - {below: 3, points: 15}",
     "          - {below: 1, points: 5.555}\n          - {below: 3, points: 15}",
     "at most two decimals"),
    ("      - term: fee_income_1y", "      - term: fee_incme_1y", "Did you mean 'fee_income_1y'"),
    ("      - {grade: E, from: 0}\n    factors:\n      - term: annual",
     "      - {grade: E, from: 5}\n    factors:\n      - term: annual",
     "the lowest grade must start at the scale's lowest score"),
    ("      when: surveys_recent > 0\n", "      when: surveys_recent\n",
     "is integer, but boolean is needed"),
])
def test_bad_rating_files_are_refused(tmp_path: Path, old: str, new: str, message: str
                                      ) -> None:
    folder = _workspace_copy(tmp_path)
    path = folder / "ratings.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DefinitionError) as e:
        load_definitions(folder)
    assert message in str(e.value), str(e.value)


def test_points_sum_exactly() -> None:
    """Points are decimals: 0.1 + 0.2 is 0.3 in every engine, not 0.30000000000000004."""
    rating = next(r for r in DEFS.ratings if r.id == "loyalty")
    assert all(isinstance(b.points, Decimal) for f in rating.factors for b in f.bins)
