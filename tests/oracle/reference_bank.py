"""A deliberately plain Python reading of the default glossary and rulebook.

Written by hand from src/clientlens/defaults/*.yaml, sharing no code with the
engine, so that the engine's results can be checked against it. Parameters are
read from the rulebook so a changed threshold is still tested.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

ZERO = Decimal("0")


def window(ts: dt.datetime | dt.date, days: int, as_of: dt.date) -> bool:
    day = ts.date() if isinstance(ts, dt.datetime) else ts
    return as_of - dt.timedelta(days=days - 1) <= day <= as_of


def profile(customer: dict, accounts: list[dict], transactions: list[dict],
            interactions: list[dict], as_of: dt.date, params: dict[str, Any],
            extra: dict[str, list[dict]] | None = None, ratings: list[dict] | None = None
            ) -> dict:
    """Every default term, the segment and, with ``ratings``, every decision."""
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
    if ratings is not None:
        extra = extra or {}
        extra_terms(v, customer, accounts, transactions, extra.get("security_events", []),
                    extra.get("surveys", []), extra.get("referrals", []), as_of, params,
                    extra.get("programme_referrals", []))
        lifecycle_terms(v, accounts, tx, ia, extra.get("recovery_cases", []),
                        extra.get("departures", []), as_of, params)
        decide(v, params, ratings)
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
                  interactions: list[dict], as_of: dt.date, params: dict[str, Any],
                  extra: dict[str, list[dict]] | None = None,
                  ratings: list[dict] | None = None) -> dict[str, dict]:
    """Profiles of the population: retail customers registered by the as-of date."""
    out = {}
    for c in customers:
        if c["customer_type"] != "retail" or c["registered_on"] > as_of:
            continue
        cid = c["customer_id"]
        out[cid] = profile(c, [a for a in accounts if a["customer_id"] == cid],
                           [t for t in transactions if t["customer_id"] == cid],
                           [i for i in interactions if i["customer_id"] == cid], as_of, params,
                           {k: [r for r in rows if r["customer_id"] == cid]
                            for k, rows in (extra or {}).items()}, ratings)
    return out


# --- ratings, needs, offers and services ------------------------------------
# Conditions of the default ratings.yaml and catalogue.yaml, written by hand.
# Unknown (NULL) follows SQL: a comparison with an empty value is not true.

def _ge(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a >= b


def _lt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a < b


CASES = {
    "segment = 'status'": lambda v: v["segment"] == "status",
    "segment in ('regular', 'investor')": lambda v: v["segment"] in ("regular", "investor"),
    "segment in ('social', 'new')": lambda v: v["segment"] in ("social", "new"),
    "consumer_loan_debt > 0 and consumer_loan_debt < 300000 and declared_income >= 60000 "
    "and car_age_years >= 8": lambda v: (v["consumer_loan_debt"] > 0
                                         and v["consumer_loan_debt"] < 300000
                                         and _ge(v["declared_income"], 60000)
                                         and _ge(v["car_age_years"], 8)),
    "is_active and declared_income >= 120000":
        lambda v: v["is_active"] and _ge(v["declared_income"], 120000),
    "surveys_recent > 0": lambda v: v["surveys_recent"] > 0,
    "left_situational": lambda v: v["left_situational"],
    "left_dissatisfied": lambda v: v["left_dissatisfied"],
    "products_ever > 0 and open_products = 0":
        lambda v: v["products_ever"] > 0 and v["open_products"] == 0,
}


def extra_terms(v: dict, customer: dict, accounts: list[dict], transactions: list[dict],
                security: list[dict], surveys: list[dict], referrals: list[dict],
                as_of: dt.date, params: dict[str, Any],
                programme_referrals: list[dict] = ()) -> None:
    """The terms added for ratings and needs, by hand. Referrals come from two sources,
    the bank's file and the member-get-member programme, counted apart and added."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    acc = [a for a in accounts if a["opened_on"] <= as_of]
    opened = [a for a in acc if a["closed_on"] is None or a["closed_on"] > as_of]
    tx = [t for t in transactions if t["ts"] < end]
    needs_w = params["needs_window_days"]
    hist = params["history_window_days"]
    valid = params["survey_valid_days"]
    sec = [s for s in security if s["raised_on"] <= as_of]
    unresolved = [s for s in sec if s["resolved_on"] is None or s["resolved_on"] > as_of]
    srv = [s for s in surveys if s["answered_on"] <= as_of
           and (as_of - s["answered_on"]).days <= valid]

    def advocacy(rows: list[dict] | tuple) -> tuple[int, int]:
        """(made, qualified): invited by the as-of date within the history window;
        qualified on or before the as-of date."""
        made = [r for r in rows if r["invited_on"] <= as_of
                and (as_of - r["invited_on"]).days <= hist]
        return len(made), sum(r["qualified_on"] is not None and r["qualified_on"] <= as_of
                              for r in made)
    car_year = customer.get("car_year")
    v["car_year"] = car_year
    v["car_age_years"] = None if car_year is None else as_of.year - car_year
    v["consumer_loan_debt"] = sum((a["balance_base"] for a in opened if a["account_type"] ==
                                   "loan" and a["subtype"] == "consumer"), ZERO)
    v["annual_margin_estimate"] = (
        float(v["balance_deposit"]) * params["deposit_margin_rate"]
        + float(v["loan_debt"]) * params["loan_margin_rate"]
        + float(v["balance_card"] + v["balance_current"]) * params["transaction_margin_rate"])
    count = lambda kinds: sum(t["kind"] in kinds and window(t["ts"], needs_w, as_of)  # noqa: E731
                              for t in tx)
    v["salary_count_recent"] = count(("salary",))
    v["pension_count_recent"] = count(("pension", "social_benefit"))
    v["interest_count_recent"] = count(("interest",))
    v["cash_deposits_recent"] = count(("cash_deposit",))
    v["other_bank_transfers_recent"] = count(("transfer_other_bank",))
    v["deposits_opened_1y"] = sum(a["account_type"] == "deposit"
                                  and (as_of - a["opened_on"]).days <= 365 for a in acc)
    v["short_deposits_open"] = sum(a["account_type"] == "deposit"
                                   and _ge(params["short_term_months"], a.get("term_months"))
                                   for a in opened)
    v["fee_income_1y"] = sum((-t["amount"] for t in tx
                              if t["kind"] == "fee" and window(t["ts"], 365, as_of)), ZERO)
    v["fraud_alerts_1y"] = sum(s["kind"] == "fraud_alert"
                               and (as_of - s["raised_on"]).days <= 365 for s in sec)
    v["security_flags_open"] = sum(s["kind"] == "security_flag" for s in unresolved)
    v["high_severity_open"] = sum(s["severity"] == "high" for s in unresolved)
    overdue = [s["days_overdue"] for s in sec if s["kind"] == "overdue"
               and (as_of - s["raised_on"]).days <= hist and s["days_overdue"] is not None]
    v["overdue_max_days"] = max(overdue, default=0)
    v["surveys_recent"] = len(srv)
    v["nps_recent"] = sum(s["nps"] for s in srv) / len(srv) if srv else None
    sat = [s["satisfaction"] for s in srv if s["satisfaction"] is not None]
    v["satisfaction_recent"] = sum(sat) / len(sat) if sat else None
    v["last_survey_on"] = max((s["answered_on"] for s in surveys
                               if s["answered_on"] <= as_of), default=None)
    v["bank_referrals_made"], v["bank_referrals_qualified"] = advocacy(referrals)
    v["programme_referrals_made"], v["programme_referrals_qualified"] = \
        advocacy(programme_referrals)
    v["referrals_made"] = v["bank_referrals_made"] + v["programme_referrals_made"]
    v["referrals_qualified"] = v["bank_referrals_qualified"] + v["programme_referrals_qualified"]
    for code, product in (("DEP-KEEP", "deposit_keep"), ("DEP-INCOME", "deposit_income"),
                          ("DEP-GROW", "deposit_grow"), ("CARD-PREMIUM", "premium_card")):
        v[f"holds_{product}"] = any(a.get("product_code") == code for a in opened)
    for (kind, subtype), product in ((("loan", "car"), "car_loan"),
                                     (("loan", "consumer"), "consumer_loan"),
                                     (("card", "salary_project"), "salary_card")):
        v[f"holds_{product}"] = any(a["account_type"] == kind and a["subtype"] == subtype
                                    for a in opened)


def lifecycle_terms(v: dict, accounts: list[dict], tx: list[dict], ia: list[dict],
                    cases: list[dict], departures: list[dict], as_of: dt.date,
                    params: dict[str, Any]) -> None:
    """The terms the relationship phases use, by hand (``tx`` and ``ia`` are already cut
    at the as-of date)."""
    act = params["activity_window_days"]
    acc = [a for a in accounts if a["opened_on"] <= as_of]
    opened = [a for a in acc if a["closed_on"] is None or a["closed_on"] > as_of]
    v["first_open_product_on"] = min((a["opened_on"] for a in opened), default=None)
    v["products_closed_recent"] = sum(a["closed_on"] is not None and a["closed_on"] <= as_of
                                      and window(a["closed_on"], act, as_of) for a in acc)
    v["returned_after_leaving"] = (v["open_products"] > 0 and v["last_closed_on"] is not None
                                   and v["first_open_product_on"] > v["last_closed_on"])
    v["days_since_return"] = (as_of - v["first_open_product_on"]).days \
        if v["returned_after_leaving"] else None
    v["days_since_leaving"] = (as_of - v["last_closed_on"]).days \
        if v["open_products"] == 0 and v["last_closed_on"] is not None else None

    def ago(t: dict) -> int:
        return (as_of - t["ts"].date()).days

    salary = [t for t in tx if t["kind"] == "salary"]
    gap = params["salary_gap_days"]
    v["salary_count_gap"] = sum(window(t["ts"], gap, as_of) for t in salary)
    v["salary_count_before_gap"] = sum(gap <= ago(t) < params["needs_window_days"]
                                       for t in salary)
    v["salary_stopped"] = v["salary_count_before_gap"] >= 2 and v["salary_count_gap"] == 0
    base = params["baseline_days"]
    v["tx_count_baseline"] = sum(act <= ago(t) < act + base for t in tx)
    own_kinds = ("purchase", "transfer_out", "cash_withdrawal", "cash_deposit", "loan_payment",
                 "transfer_other_bank")
    v["own_tx_count_recent"] = sum(t["kind"] in own_kinds and window(t["ts"], act, as_of)
                                   for t in tx)
    v["own_tx_count_baseline"] = sum(t["kind"] in own_kinds and act <= ago(t) < act + base
                                     for t in tx)
    v["activity_drop"] = (v["own_tx_count_baseline"] >= params["activity_drop_min_baseline"]
                          and v["own_tx_count_recent"] * base * 100
                          < v["own_tx_count_baseline"] * act * params["activity_drop_percent"])
    v["outflow_recent"] = sum((-t["amount"] for t in tx
                               if t["amount"] < 0 and window(t["ts"], act, as_of)), ZERO)
    v["other_bank_outflow_recent"] = sum((-t["amount"] for t in tx
                                          if t["kind"] == "transfer_other_bank"
                                          and window(t["ts"], act, as_of)), ZERO)
    own = {ago(t) for t in tx if t["kind"] in ("purchase", "transfer_out", "cash_withdrawal",
                                                "cash_deposit", "loan_payment",
                                                "transfer_other_bank")}
    v["own_tx_days"] = len(own)
    v["first_own_tx_days_ago"] = max(own, default=None)
    v["last_own_tx_days_ago"] = min(own, default=None)
    if not own:
        v["p_alive"] = None
    elif len(own) == 1:
        v["p_alive"] = 1.0
    else:  # BG/NBD P(alive) with x repeat days, age T and recency t_x in weeks
        r, alpha, a, b = (params[f"bgnbd_{k}"] for k in ("r", "alpha", "a", "b"))
        x = len(own) - 1
        big_t, t_x = max(own) / 7.0, (max(own) - min(own)) / 7.0
        v["p_alive"] = 1.0 / (1.0 + a / (b + x - 1)
                              * math.pow((alpha + big_t) / (alpha + t_x), r + x))
    care = params["care_window_days"]
    v["complaints_activity_window"] = sum(i["kind"] == "complaint"
                                          and window(i["ts"], act, as_of) for i in ia)
    v["complaints_care_window"] = sum(i["kind"] == "complaint" and window(i["ts"], care, as_of)
                                      for i in ia)
    known = [c for c in cases if c["opened_on"] <= as_of]
    v["open_recovery_cases"] = sum(c["closed_on"] is None or c["closed_on"] > as_of
                                   for c in known)
    v["failed_cases_recent"] = sum(c["status"] == "failed" and c["closed_on"] is not None
                                   and c["closed_on"] <= as_of
                                   and (as_of - c["closed_on"]).days < act for c in known)
    v["cases_opened_care_window"] = sum(window(c["opened_on"], care, as_of) for c in known)
    v["cases_opened_activity_window"] = sum(window(c["opened_on"], act, as_of) for c in known)
    left = [d for d in departures if d["left_on"] <= as_of]
    v["left_situational"] = any(d["exit_kind"] == "situational" for d in left)
    v["left_dissatisfied"] = any(d["exit_kind"] == "dissatisfaction" for d in left)
    v["no_contact_requested"] = any(d["do_not_contact"] for d in left)


def phase(v: dict, params: dict[str, Any]) -> str:
    """The default rulebook's relationship phases, first match wins."""
    if v["products_ever"] == 0:
        return "recruitment"
    if v["open_products"] == 0:
        return "divorce"
    if v["returned_after_leaving"] and _ge(params["win_back_days"], v["days_since_return"]):
        return "win_back"
    if (v["open_recovery_cases"] > 0 or v["failed_cases_recent"] > 0
            or v["complaints_care_window"] > v["cases_opened_care_window"]):
        return "intensive_care"
    weak = [v["salary_stopped"], v["products_closed_recent"] > 0,
            v["p_alive"] is not None and v["p_alive"] < params["p_alive_alert"],
            v["other_bank_outflow_recent"] >= params["other_bank_outflow_alert"]
            or v["outflow_recent"] - v["inflow_recent"] >= params["outflow_alert_amount"]]
    if (v["activity_drop"] or v["complaints_activity_window"] > v["cases_opened_activity_window"]
            or sum(weak) >= 2):
        return "potential_divorce"
    if _ge(params["welcome_days"], v["relationship_days"]):
        return "welcome"
    if _ge(params["getting_to_know_days"], v["relationship_days"]):
        return "getting_to_know"
    return "customer_management"


def need(v: dict, params: dict[str, Any]) -> str:
    if v["pension_count_recent"] >= 3 or v["interest_count_recent"] >= 3:
        return "regular_income"
    if v["cash_deposits_recent"] >= 3 or v["other_bank_transfers_recent"] >= 3:
        return "accumulation"
    if _ge(v["balance_total"], params["preservation_min_balance"]):
        return "preservation"
    return "undetermined"


def rate(rating: dict, v: dict) -> tuple[Decimal | None, str, list[str]]:
    """One rating from its YAML (plain dicts): score, grade, top three reasons."""
    points: list[tuple[str, Decimal, Decimal]] = []
    for f in rating["factors"]:
        dec = lambda x: Decimal(str(x))  # noqa: E731
        if "cases" in f:
            name = f["id"]
            p = next((dec(c["points"]) for c in f["cases"] if CASES[c["when"]](v)),
                     dec(f.get("else", 0)))
            values = [dec(c["points"]) for c in f["cases"]]
        else:
            name = f["term"]
            x = v[name]
            values = [dec(b["points"]) for b in f["bins"]]
            if x is None:
                p = dec(f.get("missing", 0))
            elif "values" in f["bins"][0]:
                p = next((dec(b["points"]) for b in f["bins"] if x in b["values"]),
                         dec(f.get("other", 0)))
            else:
                p = next(dec(b["points"]) for b in f["bins"]
                         if "below" not in b or float(x) < float(b["below"]))
        neutral = dec(f["neutral"]) if "neutral" in f else \
            ((min(values) + max(values)) / 2).quantize(Decimal("0.01"))
        points.append((name, p, p - neutral))
    req = rating.get("requires")
    if req is not None and not CASES[req["when"]](v):
        return None, "insufficient data", [req["otherwise"]]
    lo, hi = (Decimal(str(x)) for x in rating.get("scale", [0, 100]))
    total = Decimal(str(rating.get("base", 0))) + sum((p for _, p, _ in points), ZERO)
    score = min(hi, max(lo, total))
    grade = next((g["grade"] for g in rating["grades"] if score >= Decimal(str(g["from"]))),
                 rating["grades"][-1]["grade"])
    ranked = sorted(enumerate(points), key=lambda ip: (-abs(ip[1][2]), ip[0]))
    reasons = []
    for _, (name, _, d) in ranked:
        if d != 0:
            text = format(abs(d).normalize(), "f")
            reasons.append(f"{name} {'+' if d > 0 else '-'}{text}")
    return score, grade, reasons[:3]


PRODUCTS = [  # id, needs, department, eligible, lead (None: not a lead product)
    ("deposit_keep", ("preservation",), "deposits",
     lambda v: _ge(v["balance_total"], 100000), None),
    ("deposit_income", ("regular_income",), "deposits", lambda v: True, None),
    ("deposit_grow", ("accumulation",), "deposits", lambda v: True, None),
    ("premium_card", ("preservation", "accumulation"), "cards",
     lambda v: v["segment"] == "status" and v["security_grade"] in ("A", "B"), None),
    ("car_loan", ("accumulation",), "retail_lending",
     lambda v: v["security_grade"] in ("A", "B", "C") and v["solvency_grade"] in ("A", "B", "C"),
     lambda v: (0 < v["consumer_loan_debt"] < 300000 and _ge(v["declared_income"], 60000)
                and _ge(v["car_age_years"], 8))),
    ("consumer_loan", ("regular_income",), "retail_lending",
     lambda v: (v["segment"] in ("regular", "status", "social")
                and v["security_grade"] in ("A", "B") and v["solvency_grade"] in ("A", "B")),
     lambda v: v["salary_count_recent"] >= 3 and v["open_loans"] == 0),
    ("salary_card", ("accumulation",), "corporate_payroll",
     lambda v: v["segment"] != "social", None),
]

SERVICES = {
    "personal_manager": lambda v: v["segment"] == "status",
    "priority_queue": lambda v: v["segment"] == "status" or v["current_grade"] in ("A", "B"),
    "free_transfers": lambda v: (v["segment"] in ("status", "regular")
                                 and v["solvency_grade"] in ("A", "B", "C")),
    "pension_bonus_rate": lambda v: v["segment"] == "social",
    "loyalty_gold": lambda v: (v["loyalty_grade"] == "A"
                               or (v["segment"] == "status" and v["loyalty_grade"] == "B")),
    "loyalty_silver": lambda v: (v["loyalty_grade"] in ("B", "C")
                                 and not (v["segment"] == "status" and v["loyalty_grade"] == "B")),
    "advocate_bonus": lambda v: (v["phase"] == "customer_management"
                                 and v["referrals_qualified"] >= 1),
}


def decide(v: dict, params: dict[str, Any], ratings: list[dict]) -> None:
    v["need"] = need(v, params)
    for rating in ratings:
        score, grade, reasons = rate(rating, v)
        v[f"{rating['id']}_score"] = score
        v[f"{rating['id']}_grade"] = grade
        for k in range(3):
            v[f"{rating['id']}_reason_{k + 1}"] = reasons[k] if k < len(reasons) else None
    v["phase"] = phase(v, params)
    v["next_best_product"] = v["lead_product"] = v["lead_department"] = None
    for pid, needs, department, eligible, lead in PRODUCTS:
        if v[f"holds_{pid}"] or not eligible(v):
            continue
        if v["next_best_product"] is None and v["need"] in needs:
            v["next_best_product"] = pid
        if v["lead_product"] is None and lead is not None and lead(v):
            v["lead_product"], v["lead_department"] = pid, department
    for sid, granted in SERVICES.items():
        v[f"svc_{sid}"] = bool(granted(v))
