"""A deliberately plain Python reading of the default glossary and rulebook.

Written by hand from src/clientlens/defaults/*.yaml, sharing no code with the
engine, so that the engine's results can be checked against it. Parameters are
read from the rulebook so a changed threshold is still tested.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

ZERO = Decimal("0")


def window(ts: dt.datetime | dt.date, days: int, as_of: dt.date) -> bool:
    day = ts.date() if isinstance(ts, dt.datetime) else ts
    return as_of - dt.timedelta(days=days - 1) <= day <= as_of


def profile(customer: dict, accounts: list[dict], transactions: list[dict],
            interactions: list[dict], as_of: dt.date, params: dict[str, Any]) -> dict:
    """Every default term and the segment for one customer."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    acc = [a for a in accounts if a["opened_on"] <= as_of]

    def is_open(a: dict) -> bool:
        return a["closed_on"] is None or a["closed_on"] > as_of

    opened = [a for a in acc if is_open(a)]

    def balance(kind: str) -> Decimal:
        return sum((a["balance_base"] for a in opened if a["account_type"] == kind), ZERO)

    tx = [t for t in transactions if t["ts"] < end]
    ia = [i for i in interactions if i["ts"] < end]
    act = params["activity_window_days"]
    recent = [t for t in tx if window(t["ts"], act, as_of)]
    v: dict[str, Any] = {
        "customer_type": customer["customer_type"],
        "registered_on": customer["registered_on"],
        "birth_date": customer["birth_date"],
        "declared_income": customer["declared_monthly_income"],
        "products_ever": len(acc),
        "open_products": len(opened),
        "open_cards": sum(a["account_type"] == "card" for a in opened),
        "open_deposits": sum(a["account_type"] == "deposit" for a in opened),
        "open_current_accounts": sum(a["account_type"] == "current" for a in opened),
        "open_loans": sum(a["account_type"] == "loan" for a in opened),
        "has_salary_card": any(a["account_type"] == "card" and a["subtype"] == "salary_project"
                               for a in opened),
        "has_social_card": any(a["account_type"] == "card" and a["subtype"] == "social"
                               for a in opened),
        "balance_card": balance("card"),
        "balance_deposit": balance("deposit"),
        "balance_current": balance("current"),
        "loan_debt": balance("loan"),
        "first_opened_on": min((a["opened_on"] for a in acc), default=None),
        "last_closed_on": max((a["closed_on"] for a in acc
                               if a["closed_on"] is not None and a["closed_on"] <= as_of),
                              default=None),
        "tx_count_recent": len(recent),
        "inflow_recent": sum((t["amount"] for t in recent if t["amount"] > 0), ZERO),
        "salary_inflow_recent": sum((t["amount"] for t in recent if t["kind"] == "salary"),
                                    ZERO),
        "pension_inflow_recent": sum((t["amount"] for t in recent
                                      if t["kind"] in ("pension", "social_benefit")), ZERO),
        "last_transaction_at": max((t["ts"] for t in tx), default=None),
        "contacts_recent": sum(window(i["ts"], act, as_of) for i in ia),
        "digital_contacts_recent": sum(window(i["ts"], act, as_of)
                                       and i["channel"] in ("internet", "mobile") for i in ia),
        "complaints_recent": sum(window(i["ts"], params["complaint_window_days"], as_of)
                                 and i["kind"] == "complaint" for i in ia),
    }
    v["is_retail"] = v["customer_type"] == "retail"
    v["age_years"] = None if v["birth_date"] is None else \
        (as_of - v["birth_date"]).days / 365.25
    v["balance_total"] = v["balance_card"] + v["balance_deposit"] + v["balance_current"]
    v["relationship_days"] = None if v["first_opened_on"] is None else \
        (as_of - v["first_opened_on"]).days
    v["is_deposit_only"] = (v["open_deposits"] > 0 and v["open_cards"] == 0
                            and v["open_current_accounts"] == 0 and v["open_loans"] == 0)
    last = v["last_transaction_at"]
    v["days_since_transaction"] = None if last is None else (as_of - last.date()).days
    v["is_active"] = v["tx_count_recent"] > 0
    v["segment"] = segment(v, params)
    return v


def segment(v: dict, params: dict[str, Any]) -> str:
    """The default rulebook, first match wins."""
    if v["products_ever"] > 0 and v["open_products"] == 0:
        return "loyal"
    if v["products_ever"] == 0 or v["relationship_days"] <= params["new_customer_days"]:
        return "new"
    if v["balance_total"] >= params["status_min_balance"]:
        return "status"
    if v["is_deposit_only"]:
        return "investor"
    if v["has_social_card"] or v["pension_inflow_recent"] > 0:
        return "social"
    return "regular"


def bank_profiles(customers: list[dict], accounts: list[dict], transactions: list[dict],
                  interactions: list[dict], as_of: dt.date, params: dict[str, Any]
                  ) -> dict[str, dict]:
    """Profiles of the population: retail customers registered by the as-of date."""
    out = {}
    for c in customers:
        if c["customer_type"] != "retail" or c["registered_on"] > as_of:
            continue
        cid = c["customer_id"]
        out[cid] = profile(c, [a for a in accounts if a["customer_id"] == cid],
                           [t for t in transactions if t["customer_id"] == cid],
                           [i for i in interactions if i["customer_id"] == cid], as_of, params)
    return out
