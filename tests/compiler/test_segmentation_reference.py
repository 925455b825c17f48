"""The engine's segments and terms against a plain-Python reference, on random banks.

Random banks stress NULLs, customers without accounts, business customers,
customers registered after the as-of date, accounts opened after it or closed
exactly on it, balances on the status threshold and a kopeck below, window
boundaries to the second, and Cyrillic text.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.services.profiling.segmentation import run_segmentation
from tests.oracle.banks import (
    AS_OF,
    COMPILED,
    DECISIONS,
    DEFS,
    NEW_DAYS,
    PARAMS,
    RATINGS,
    THRESHOLD,
    at,
    banks,
    days,
    load,
    same,
)
from tests.oracle.reference_bank import bank_profiles


def engine_profiles(bank: dict[str, list[dict]]) -> dict[str, dict]:
    with DuckDBEngine(":memory:") as engine:
        load(engine, bank)
        if bank["customers"]:
            run_segmentation(engine, DEFS, AS_OF)
        if engine.table_columns("profiles") is None:
            return {}
        rows = engine.fetch_arrow("select * from profiles").to_pylist()
    return {r["customer_id"]: r for r in rows}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank=banks())
def test_engine_matches_the_plain_python_reference(bank: dict[str, list[dict]]) -> None:
    extra = {k: bank[k] for k in ("security_events", "surveys", "referrals",
                                  "programme_referrals", "recovery_cases", "departures")}
    expected = bank_profiles(bank["customers"], bank["accounts"], bank["transactions"],
                             bank["interactions"], AS_OF, PARAMS, extra, RATINGS)
    actual = engine_profiles(bank)
    assert set(actual) == set(expected)
    for cid, exp_row in expected.items():
        row = actual[cid]
        assert row["segment"] == exp_row["segment"], (cid, exp_row, row)
        assert row["rulebook_version"] == DEFS.version
        for term in DEFS.terms:
            assert same(exp_row[term], row[term]), (cid, term, exp_row[term], row[term])
        for col in DECISIONS:
            if col == "next_best_reason":  # wording is the engine's; it must name the need
                assert (row[col] is None) == (exp_row["next_best_product"] is None), cid
                assert row[col] is None or f"'{exp_row['need']}'" in row[col], cid
                continue
            assert same(exp_row[col], row[col]), (cid, col, exp_row[col], row[col])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank=banks())
def test_in_process_evaluation_agrees_with_the_engine(bank: dict[str, list[dict]]) -> None:
    base_terms = [n for n, t in DEFS.terms.items() if t.kind != "expression"]
    for cid, row in engine_profiles(bank).items():
        out = COMPILED.evaluate({n: row[n] for n in base_terms}, AS_OF)
        assert out["segment"] == row["segment"], cid
        for col in DECISIONS:
            assert same(row[col], out[col]), (cid, col, row[col], out[col])
        for name, term in DEFS.terms.items():
            if term.kind == "expression":
                assert same(row[name], out[name]), (cid, name, row[name], out[name])


def customer(cid: str = "C1", **kw: object) -> dict:
    return {"customer_id": cid, "full_name": "Тест", "customer_type": "retail",
            "registered_on": days(3000), "birth_date": None, "declared_monthly_income": None,
            **kw}


def account(aid: str, kind: str, subtype: str, balance: str, opened: int = 1000,
            closed: dt.date | None = None, cid: str = "C1") -> dict:
    return {"account_id": aid, "customer_id": cid, "account_type": kind, "subtype": subtype,
            "currency": "RUB", "opened_on": days(opened), "closed_on": closed,
            "balance": Decimal(balance), "balance_base": Decimal(balance)}


def segment_of(accounts: list[dict], transactions: list[dict] | None = None) -> str:
    bank = {"customers": [customer()], "accounts": accounts,
            "transactions": transactions or [], "interactions": [], "security_events": [],
            "surveys": [], "referrals": []}
    return engine_profiles(bank)["C1"]["segment"]


@pytest.mark.parametrize("name, accounts, expected", [
    ("former customer with every account closed, however rich, is loyal",
     [account("A1", "deposit", "term", "5000000", closed=days(30))], "loyal"),
    ("first product 180 days ago is still new",
     [account("A1", "card", "debit", "100", opened=NEW_DAYS)], "new"),
    ("first product 181 days ago is no longer new",
     [account("A1", "card", "debit", "100", opened=NEW_DAYS + 1)], "regular"),
    ("deposit-only customer at the threshold is status, not investor",
     [account("A1", "deposit", "term", str(THRESHOLD))], "status"),
    ("deposit-only customer a kopeck below the threshold is an investor",
     [account("A1", "deposit", "term", str(THRESHOLD - Decimal("0.01")))], "investor"),
    ("loan balances do not count towards status",
     [account("A1", "card", "debit", "10"), account("A2", "loan", "mortgage", "9000000")],
     "regular"),
    ("social card holder is social",
     [account("A1", "card", "social", "20000")], "social"),
    ("salary-project card holder is regular",
     [account("A1", "card", "salary_project", "20000")], "regular"),
    ("an account closed on the as-of date is no longer open",
     [account("A1", "card", "social", "20000", closed=AS_OF)], "loyal"),
])
def test_bank_criteria_on_scripted_customers(name: str, accounts: list[dict], expected: str
                                             ) -> None:
    assert segment_of(accounts) == expected, name


def test_pension_received_inside_the_window_makes_a_customer_social() -> None:
    card = account("A1", "card", "debit", "100")

    def pension(ts: dt.datetime) -> list[dict]:
        return [{"transaction_id": "T1", "account_id": "A1", "customer_id": "C1", "ts": ts,
                 "amount": Decimal("18000.00"), "kind": "pension", "channel": "system"}]

    window = PARAMS["activity_window_days"]
    assert segment_of([card], pension(at(days(window - 1)))) == "social"
    assert segment_of([card], pension(at(days(window), 23, 59, 59))) == "regular"
    assert segment_of([card], pension(at(days(-1)))) == "regular"  # after the as-of date
