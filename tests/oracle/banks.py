"""Random banks for the reference oracle and the engine differential tests.

They stress NULLs, customers without accounts, business customers, customers
registered after the as-of date, accounts opened after it or closed exactly on it,
balances on the status threshold and a kopeck below, window boundaries to the
second, and Cyrillic text.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import yaml
from hypothesis import strategies as st

from clientlens.compiler.decisions import decision_columns
from clientlens.compiler.pyplan import CompiledRulebook
from clientlens.definitions.rulebook import load_definitions
from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.tables import ACCOUNT_SUBTYPES, TABLES
from clientlens.services.workspace.folder import DEFAULTS

AS_OF = dt.date(2026, 10, 31)
DEFS = load_definitions(DEFAULTS)
PARAMS = {name: p.value for name, p in DEFS.parameters.items()}
COMPILED = CompiledRulebook(DEFS)
# The rating YAML as plain dicts, for the reference (the engine reads it its own way).
RATINGS = yaml.safe_load((DEFAULTS / "ratings.yaml").read_text(encoding="utf-8"))["ratings"] + [
    yaml.safe_load((DEFAULTS / "scorecards" / "solvency.yaml").read_text(encoding="utf-8"))]
DECISIONS = decision_columns(DEFS)
THRESHOLD = PARAMS["status_min_balance"]
NEW_DAYS = PARAMS["new_customer_days"]


def days(n: int) -> dt.date:
    return AS_OF - dt.timedelta(days=n)


def at(day: dt.date, h: int = 0, m: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(h, m, s))


dates_near = st.sampled_from([days(0), days(1), days(-1), days(NEW_DAYS - 1), days(NEW_DAYS),
                              days(NEW_DAYS + 1), days(400), days(3000)])
money = st.sampled_from([Decimal("0.00"), Decimal("0.01"), THRESHOLD - Decimal("0.01"),
                         THRESHOLD, THRESHOLD / 2, Decimal("-250.00"), Decimal("99.99")])
stamps = st.sampled_from([
    at(days(0), 23, 59, 59), at(days(-1)), at(days(89)), at(days(90), 23, 59, 59),
    at(days(0)), at(days(364)), at(days(365), 12), at(days(30), 10, 30), at(days(200)),
    at(days(44), 8), at(days(45)), at(days(179), 23), at(days(454)), at(days(455))])


@st.composite
def banks(draw: st.DrawFn) -> dict[str, list[dict]]:
    customers, accounts, transactions, interactions = [], [], [], []
    security: list[dict] = []
    surveys: list[dict] = []
    referrals: list[dict] = []
    programme: list[dict] = []  # the member-get-member programme's (programme_referrals)
    cases: list[dict] = []
    departures: list[dict] = []
    for n in range(draw(st.integers(0, 8))):
        cid = f"C{n}"
        customers.append({
            "customer_id": cid,
            "full_name": draw(st.sampled_from(["Иванова Мария", "Ёжиков Пётр", "O'Neil"])),
            "customer_type": draw(st.sampled_from(["retail"] * 5 + ["business"])),
            "registered_on": draw(st.sampled_from([days(5000), days(200), days(10), days(0),
                                                   days(-3)])),
            "birth_date": draw(st.sampled_from([None, dt.date(1950, 1, 1), days(0)])),
            "declared_monthly_income": draw(st.sampled_from(
                [None, Decimal("85000.00"), Decimal("60000.00"), Decimal("150000.00")])),
            "car_year": draw(st.sampled_from([None, 2010, AS_OF.year - 8, AS_OF.year - 7])),
        })
        for j in range(draw(st.integers(0, 2))):
            security.append({
                "event_id": f"S{n}-{j}", "customer_id": cid,
                "raised_on": draw(st.sampled_from([days(0), days(365), days(366), days(730),
                                                   days(731), days(-1)])),
                "kind": draw(st.sampled_from(["security_flag", "fraud_alert", "overdue"])),
                "severity": draw(st.sampled_from(["low", "high"])),
                "days_overdue": draw(st.sampled_from([None, 0, 1, 29, 30, 90, 120])),
                "resolved_on": draw(st.sampled_from([None, days(0), days(-1), days(10)])),
            })
        for j in range(draw(st.integers(0, 2))):
            surveys.append({
                "survey_id": f"Q{n}-{j}", "customer_id": cid,
                "answered_on": draw(st.sampled_from([days(0), days(365), days(366), days(-1)])),
                "nps": draw(st.integers(0, 10)),
                "satisfaction": draw(st.sampled_from([None, 1, 3, 4, 5])), "channel": "mobile",
            })
        for j in range(draw(st.integers(0, 2))):
            referrals.append({
                "referral_id": f"R{n}-{j}", "customer_id": cid,
                "invited_on": draw(st.sampled_from([days(0), days(730), days(731), days(-1)])),
                "referred_customer_id": None,
                "qualified_on": draw(st.sampled_from([None, days(0), days(-1)])),
            })
        for j in range(draw(st.integers(0, 2))):
            # an unused code, a registration waiting for its fact, or a qualified friend;
            # the fact never precedes the invitation
            invited_on = draw(st.sampled_from([days(0), days(60), days(730), days(731),
                                               days(-1)]))
            registered = draw(st.booleans())
            qualified_on = draw(st.sampled_from([None, days(0), days(-1), days(40), days(725)]))
            if not registered or (qualified_on is not None and qualified_on < invited_on):
                qualified_on = None
            programme.append({
                "referral_id": f"R{n:08d}{j}" if registered else f"CODE{n}X{j}",
                "customer_id": cid, "invited_on": invited_on,
                "referred_customer_id": f"N{n}-{j}" if registered else None,
                "qualified_on": qualified_on,
            })
        for j in range(draw(st.integers(0, 2))):
            opened_on = draw(st.sampled_from([days(0), days(29), days(30), days(-1), days(200)]))
            closed_on = draw(st.sampled_from([None, opened_on, days(0), days(89), days(90),
                                              days(-2)]))
            if closed_on is not None and closed_on < opened_on:
                closed_on = opened_on
            cases.append({
                "case_id": f"{n}{j}", "customer_id": cid, "opened_on": opened_on,
                "due_on": opened_on + dt.timedelta(days=5), "closed_on": closed_on,
                "status": "open" if closed_on is None else
                draw(st.sampled_from(["resolved", "failed"])),
            })
        for j in range(draw(st.integers(0, 1))):
            departures.append({
                "departure_id": f"{n}{j}", "customer_id": cid,
                "left_on": draw(st.sampled_from([days(0), days(100), days(-1)])),
                "exit_kind": draw(st.sampled_from(["situational", "dissatisfaction", "unknown"])),
                "do_not_contact": draw(st.booleans()),
            })
        for k in range(draw(st.integers(0, 4))):
            account_type = draw(st.sampled_from(sorted(ACCOUNT_SUBTYPES)))
            opened = draw(dates_near)
            closed = draw(st.sampled_from([None, None, days(0), days(1), days(-1), opened]))
            if closed is not None and closed < opened:
                closed = opened
            aid = f"A{n}-{k}"
            accounts.append({
                "account_id": aid, "customer_id": cid, "account_type": account_type,
                "subtype": draw(st.sampled_from(ACCOUNT_SUBTYPES[account_type])),
                "currency": "RUB", "opened_on": opened, "closed_on": closed,
                "balance": Decimal("1.00"), "balance_base": draw(money),
                "product_code": draw(st.sampled_from([None, "DEP-KEEP", "DEP-GROW",
                                                      "CARD-PREMIUM"])),
                "term_months": draw(st.sampled_from([None, 3, 6, 7, 12])),
            })
            for j in range(draw(st.integers(0, 4))):
                transactions.append({
                    "transaction_id": f"T{n}-{k}-{j}", "account_id": aid, "customer_id": cid,
                    "ts": draw(stamps), "amount": draw(money),
                    "kind": draw(st.sampled_from(["salary", "pension", "social_benefit",
                                                  "purchase", "interest", "fee",
                                                  "cash_deposit", "transfer_other_bank"])),
                    "channel": "system",
                })
        for j in range(draw(st.integers(0, 3))):
            interactions.append({
                "interaction_id": f"I{n}-{j}", "customer_id": cid, "ts": draw(stamps),
                "channel": draw(st.sampled_from(["branch", "internet", "mobile", "ivr"])),
                "kind": draw(st.sampled_from(["visit", "login", "complaint"])),
            })
    return {"customers": customers, "accounts": accounts, "transactions": transactions,
            "interactions": interactions, "security_events": security, "surveys": surveys,
            "referrals": referrals, "programme_referrals": programme,
            "recovery_cases": cases, "departures": departures}


def load(engine: DuckDBEngine, bank: dict[str, list[dict]]) -> None:
    for name, rows in bank.items():
        if not rows:
            continue
        cols = TABLES[name].column_names
        present = [c for c in cols if c in rows[0]]
        engine.con.executemany(
            f"insert into {name} ({', '.join(present)}) values "
            f"({', '.join('?' for _ in present)})",
            [[r[c] for c in present] for r in rows])


def same(expected: object, actual: object) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(float(expected), float(actual), rel_tol=1e-12)
    return expected == actual
