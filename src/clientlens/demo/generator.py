"""A deterministic demo bank, generated inside DuckDB.

Every random choice is a hash of (seed, row, salt), so a seed gives the same
bank on any machine and in any chunking, and generation is set-based SQL that
streams to Parquet (or CSV) part files chunk by chunk: 10 million customers
need no more memory than a hundred thousand.

Archetypes (shares of customers): registered prospects without products 1%,
new 8%, departed (all accounts closed) 7%, deposit-only investors 8%, social
(pension card) 12%, salary project 30%, mixed 34%. About 10% of customers are
dormant (stopped transacting 2 to 12 months ago) and about 6% affluent (balances
mostly over 1.5 million).

The SQL below is the generator's own text: the only values put into it are the
seed, row bounds and the as-of date (Python ints and a date), word lists rendered
by ``engines.sqltext``; output paths are bound parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb

from clientlens.demo import vocab
from clientlens.engines import sqltext
from clientlens.model.tables import TABLES

Progress = Callable[[str, int, int], None]
FX = {"USD": 92.5, "EUR": 100.1}


def _sql_list(items: tuple[str, ...]) -> str:
    return "[" + sqltext.literals(items, "duckdb") + "]"


def _setup(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    con.execute(f"""
        create or replace macro u(i, s) as
            ((hash(i, s, {int(seed)}) % 1000000007) + 0.5) / 1000000007.0;
        create or replace macro nrm(i, s) as
            sqrt(-2 * ln(u(i, s))) * cos(2 * pi() * u(i, s + 7919));
        create or replace macro pick(lst, i, s) as
            lst[1 + cast(floor(u(i, s) * len(lst)) as integer)];
        create or replace macro money(x) as cast(round(least(x, 1e13), 2) as decimal(18, 2));
    """)


def _customers_sql(lo: int, hi: int, as_of: dt.date) -> str:
    female_surname = "pick(surnames, i, 14) || 'а'"
    return f"""
    create or replace temp table cust as
    with base as (
        select range as i, u(range, 1) as a from range({lo}, {hi})
    ), typed as (
        select i,
            case when a < 0.01 then 'prospect' when a < 0.09 then 'new'
                 when a < 0.16 then 'departed' when a < 0.24 then 'investor'
                 when a < 0.36 then 'social' when a < 0.66 then 'salary' else 'mixed' end
                as arche,
            u(i, 2) < 0.12 as dormant, u(i, 3) < 0.065 as affluent,
            u(i, 4) < 0.03 as business, u(i, 5) < 0.5 as female
        from base
    )
    select i, arche, dormant and arche in ('salary', 'mixed', 'social', 'investor') as dormant,
        affluent and arche not in ('prospect', 'departed') as affluent,
        'C' || lpad(cast(i as varchar), 8, '0') as customer_id,
        case when business then pick({_sql_list(vocab.BUSINESS_FORMS)}, i, 13) || ' «'
                  || pick({_sql_list(vocab.BUSINESS_WORDS)}, i, 14) || '»'
             when female then {female_surname} || ' ' || pick(female_names, i, 15) || ' '
                  || pick(patronymics_f, i, 16)
             else pick(surnames, i, 14) || ' ' || pick(male_names, i, 15) || ' '
                  || pick(patronymics_m, i, 16) end as full_name,
        case when business then 'business' else 'retail' end as customer_type,
        case when arche = 'new' then date '{as_of}' - cast(floor(u(i, 6) * 170) as integer)
             else date '{as_of}' - (200 + cast(floor(u(i, 6) * 3400) as integer)) end
            as registered_on,
        case when business then null
             when arche = 'social' then date '1940-01-01' + cast(floor(u(i, 7) * 9131) as integer)
             else date '1960-01-01' + cast(floor(u(i, 7) * 16800) as integer) end as birth_date,
        pick(cities, i, 17) as city,
        case when u(i, 8) < 0.4 then null
             else money(round(exp(10.8 + 0.55 * nrm(i, 9)) * (case when affluent then 4 else 1
                  end), -2)) end as declared_monthly_income,
        case when u(i, 8) < 0.3 then null else u(i, 10) < 0.45 end as owns_car,
        case when u(i, 8) >= 0.3 and u(i, 10) < 0.45
             then 2003 + cast(floor(pow(u(i, 11), 1.8) * 22) as bigint) end as car_year,
        case when u(i, 8) < 0.3 then null else u(i, 12) < 0.5 end as owns_home,
        lpad(cast(cast(floor(u(i, 18) * 10000) as bigint) as varchar), 4, '0') || ' '
            || lpad(cast(cast(floor(u(i, 19) * 1000000) as bigint) as varchar), 6, '0')
            as document_id,
        '+79' || lpad(cast(cast(floor(u(i, 20) * 1000000000) as bigint) as varchar), 9, '0')
            as phone
    from typed
    """


# Slot layouts per archetype: (slot, spec, probability, closed).
LAYOUT: dict[str, list[tuple[int, str, float, bool]]] = {
    "new": [(0, "card/debit", 1, False), (1, "deposit/term", 0.35, False),
            (2, "loan/consumer", 0.15, False)],
    "departed": [(0, "card/debit", 1, True), (1, "deposit/term", 0.5, True),
                 (2, "loan/consumer", 0.3, True), (3, "current/current", 0.3, True)],
    "investor": [(0, "deposit/term", 1, False), (1, "deposit/savings", 0.6, False),
                 (2, "deposit/demand", 0.25, False), (3, "card/debit", 0.35, True)],
    "social": [(0, "card/social", 1, False), (1, "deposit/savings", 0.45, False),
               (2, "current/current", 0.15, False), (3, "card/debit", 0.2, True)],
    "salary": [(0, "card/salary_project", 1, False), (1, "card/credit", 0.45, False),
               (2, "deposit/term", 0.45, False), (3, "loan/consumer", 0.4, False),
               (4, "current/current", 0.3, False), (5, "card/debit", 0.4, True)],
    "mixed": [(0, "card/debit", 1, False), (1, "current/current", 0.5, False),
              (2, "deposit/savings", 0.55, False), (3, "loan/car", 0.4, False),
              (4, "card/credit", 0.4, False), (5, "deposit/term", 0.45, True)],
}
PRODUCT_CODES = {
    "card/debit": "CARD-DEBIT", "card/credit": "CARD-CREDIT", "card/social": "CARD-SOCIAL",
    "card/salary_project": "CARD-SALARY", "deposit/term": "DEP-GROW",
    "deposit/savings": "DEP-INCOME", "deposit/demand": "DEP-KEEP",
    "current/current": "CUR", "loan/consumer": "LOAN-CONS", "loan/car": "LOAN-CAR",
}
# Mean transactions per account over ~400 days; about 50 per customer in all.
TX_PER_ACCOUNT = {"salary_project": 58, "social": 32, "debit": 30, "credit": 18, "term": 3,
                  "savings": 5, "demand": 6, "current": 13, "consumer": 9, "car": 9}


def _accounts_sql(as_of: dt.date) -> str:
    rows = []
    for arche, slots in LAYOUT.items():
        for slot, spec, p, closed in slots:
            rows.append("(" + sqltext.literals((arche, slot, spec, p, closed, PRODUCT_CODES[spec],
                                                TX_PER_ACCOUNT[spec.split("/")[1]]), "duckdb")
                        + ")")
    layout = ", ".join(rows)
    return f"""
    create or replace temp table acc as
    with layout(arche, slot, spec, p, closed, product_code, tx_base) as (values {layout}),
    picked as (
        select c.i, c.customer_id, c.arche, c.dormant, c.affluent, c.registered_on,
            l.slot, l.spec, l.closed, l.product_code, l.tx_base, c.i * 8 + l.slot as k
        from cust c join layout l using (arche)
        where u(c.i * 8 + l.slot, 21) < l.p
    ), dated as (
        select *, split_part(spec, '/', 1) as account_type,
            split_part(spec, '/', 2) as subtype,
            case when slot = 0 and arche <> 'new'
                 then registered_on + cast(floor(u(k, 22) * 60) as integer)
                 else registered_on + cast(floor(u(k, 22)
                      * greatest(date '{as_of}' - registered_on - 1, 0)) as integer) end
                as opened_on
        from picked
    ), closed as (
        select *, case when closed then opened_on + cast(floor(u(k, 23)
                  * greatest(date '{as_of}' - opened_on - 1, 0)) as integer) end as closed_on,
            case when split_part(spec, '/', 1) = 'deposit' and u(k, 24) < 0.05 then 'USD'
                 when split_part(spec, '/', 1) = 'deposit' and u(k, 24) < 0.07 then 'EUR'
                 else 'RUB' end as currency,
            case split_part(spec, '/', 1)
                 when 'card' then exp(9.0 + 1.2 * nrm(k, 25))
                 when 'deposit' then exp(11.6 + 1.2 * nrm(k, 25))
                      * (case when affluent then 22 else 1 end)
                 when 'current' then exp(10.0 + 1.3 * nrm(k, 25))
                      * (case when affluent then 5 else 1 end)
                 else exp(12.2 + 0.7 * nrm(k, 25)) end as rub
        from dated
    )
    select *, 'A' || lpad(cast(k as varchar), 10, '0') as account_id,
        case when closed then 0 else money(rub) end as balance_base,
        case when closed then 0
             when currency = 'USD' then money(rub / {FX['USD']})
             when currency = 'EUR' then money(rub / {FX['EUR']})
             else money(rub) end as balance,
        cast(case when closed then tx_base * 0.4 else tx_base end
             * (0.3 + 1.4 * u(k, 26)) as integer) as n_tx,
        case when closed then closed_on
             when dormant then date '{as_of}' - (60 + cast(floor(u(i, 29) * 300) as integer))
             else date '{as_of}' end as t_hi,
        case when spec = 'deposit/term' then
                  (case when affluent and u(k, 27) < 0.7 then pick([3, 6], k, 28)
                        else pick([3, 6, 12, 12, 24], k, 28) end)
             when spec = 'deposit/savings' then 12
             when spec = 'loan/consumer' then pick([12, 24, 36, 60], k, 28)
             when spec = 'loan/car' then pick([36, 60, 84], k, 28) end as term_months
    from closed
    """


ACCOUNT_COLS = ("account_id, customer_id, account_type, subtype, product_code, currency, "
                "opened_on, closed_on, balance, balance_base, term_months")


def _transactions_sql() -> str:
    return """
    with rows as (
        select account_id, customer_id, subtype, k, t_hi,
            greatest(opened_on, t_hi - 400) as t_lo, unnest(range(n_tx)) as j
        from acc where n_tx > 0
    ), r as (
        select *, k * 1000 + j as q,
            u(k * 1000 + j, 31) as w, nrm(k * 1000 + j, 32) as z
        from rows
    ), kinded as (
        select *, case
            when subtype = 'salary_project' and j % 6 = 0 then 'salary'
            when subtype = 'social' and j % 5 = 0 then
                 case when w < 0.8 then 'pension' else 'social_benefit' end
            when subtype in ('term', 'savings', 'demand') then
                 case when j % 3 = 0 then 'interest' when w < 0.6 then 'transfer_in'
                      when w < 0.8 then 'cash_deposit' else 'transfer_out' end
            when subtype = 'current' then
                 case when w < 0.45 then 'transfer_in' when w < 0.9 then 'transfer_out'
                      else 'fee' end
            when subtype in ('consumer', 'car') then 'loan_payment'
            when w < 0.7 then 'purchase' when w < 0.85 then 'cash_withdrawal'
            when w < 0.96 then 'transfer_in' else 'fee' end as kind
        from r
    )
    select 'T' || lpad(cast(q as varchar), 13, '0') as transaction_id, account_id, customer_id,
        cast(t_lo + cast(floor(u(q, 33) * (t_hi - t_lo + 1)) as integer) as timestamp)
            + to_seconds(cast(floor(u(q, 34) * 86399) as bigint)) as ts,
        money(case kind
            when 'salary' then exp(11.0 + 0.35 * z)
            when 'pension' then exp(9.9 + 0.2 * z)
            when 'social_benefit' then exp(8.5 + 0.3 * z)
            when 'interest' then exp(6.5 + 1.0 * z)
            when 'transfer_in' then exp(9.2 + 0.9 * z)
            when 'cash_deposit' then exp(10.0 + 0.8 * z)
            when 'purchase' then -exp(7.0 + 1.0 * z)
            when 'cash_withdrawal' then -exp(8.5 + 0.6 * z)
            when 'transfer_out' then -exp(9.0 + 0.9 * z)
            when 'fee' then -exp(4.5 + 0.5 * z)
            else -exp(9.5 + 0.5 * z) end) as amount,
        kind,
        case kind when 'purchase' then (case when u(q, 35) < 0.6 then 'pos'
                                             when u(q, 35) < 0.8 then 'internet' else 'mobile' end)
            when 'cash_withdrawal' then 'atm'
            when 'cash_deposit' then 'branch'
            when 'transfer_in' then (case when u(q, 35) < 0.5 then 'mobile' else 'internet' end)
            when 'transfer_out' then (case when u(q, 35) < 0.5 then 'mobile' else 'internet' end)
            when 'loan_payment' then (case when u(q, 35) < 0.7 then 'internet' else 'branch' end)
            else 'system' end as channel
    from kinded
    order by transaction_id
    """


def _interactions_sql(as_of: dt.date) -> str:
    return f"""
    with rows as (
        select i, customer_id, registered_on, dormant,
            unnest(range(cast(floor(u(i, 40) * 11) as integer))) as j
        from cust
    ), r as (select *, i * 16 + j as q from rows)
    select 'I' || lpad(cast(q as varchar), 11, '0') as interaction_id, customer_id,
        cast(greatest(registered_on, date '{as_of}' - 400)
             + cast(floor(u(q, 41) * (date '{as_of}' - greatest(registered_on,
                    date '{as_of}' - 400) + 1)) as integer) as timestamp)
            + to_seconds(cast(floor(u(q, 42) * 86399) as bigint)) as ts,
        case when j = 0 and u(i, 43) < 0.012 then 'call_centre'
             else pick(['branch', 'atm', 'internet', 'mobile', 'mobile', 'internet',
                        'call_centre', 'ivr'], q, 44) end as channel,
        case when j = 0 and u(i, 43) < 0.012 then 'complaint' else null end as forced
    from r
    """


INTERACTION_KIND = """
    select interaction_id, customer_id, ts, channel,
        coalesce(forced, case channel when 'branch' then 'visit' when 'atm' then 'other'
            when 'internet' then 'login' when 'mobile' then 'login'
            when 'call_centre' then 'call' else 'ivr_session' end) as kind
    from ({inner}) order by interaction_id
"""

def _security_sql(as_of: dt.date) -> str:
    """Flags, fraud alerts and overdue episodes: about one customer in twelve."""
    return f"""
    with picked as (
        select c.i, c.customer_id, c.registered_on, c.arche,
            exists(select 1 from acc a where a.i = c.i and a.account_type = 'loan') as borrower,
            u(c.i, 50) as a
        from cust c
    ), kinded as (
        select *, case when borrower and a < 0.16 then 'overdue'
                       when a < 0.025 then 'fraud_alert'
                       when a >= 0.975 then 'security_flag' end as kind
        from picked
    )
    select 'S' || lpad(cast(i as varchar), 9, '0') as event_id, customer_id,
        greatest(registered_on, date '{as_of}' - cast(floor(u(i, 51) * 700) as integer))
            as raised_on,
        kind,
        case when u(i, 52) < 0.55 then 'low' when u(i, 52) < 0.88 then 'medium'
             else 'high' end as severity,
        case when kind = 'overdue' then cast(1 + floor(pow(u(i, 53), 2.2) * 120) as bigint)
             end as days_overdue,
        case when u(i, 54) < 0.7 then least(date '{as_of}',
             greatest(registered_on, date '{as_of}' - cast(floor(u(i, 51) * 700) as integer))
             + cast(floor(u(i, 55) * 90) as integer)) end as resolved_on
    from kinded where kind is not null
    order by event_id
    """


def _surveys_sql(as_of: dt.date) -> str:
    """About a third of customers answered a survey in the last 400 days; some twice."""
    return f"""
    with rows as (
        select i, customer_id, registered_on, arche, dormant,
            unnest(range(case when u(i, 60) < 0.33 then 1 when u(i, 60) < 0.38 then 2
                              else 0 end)) as j
        from cust where customer_type = 'retail' and arche <> 'prospect'
    ), r as (select *, i * 4 + j as q,
                    case arche when 'departed' then -2.5 when 'new' then 0.5
                               when 'investor' then 1.0 when 'social' then 0.8 else 0 end
                    - case when dormant then 1.5 else 0 end as mood
             from rows)
    select 'Q' || lpad(cast(q as varchar), 10, '0') as survey_id, customer_id,
        greatest(registered_on, date '{as_of}' - cast(floor(u(q, 61) * 400) as integer))
            as answered_on,
        cast(least(10, greatest(0, round(7.2 + mood + 2.2 * nrm(q, 62)))) as bigint) as nps,
        case when u(q, 63) < 0.15 then null
             else cast(least(5, greatest(1, round(3.8 + mood / 2 + 0.9 * nrm(q, 64))))
                       as bigint) end as satisfaction,
        pick(['branch', 'internet', 'mobile', 'call_centre', 'ivr'], q, 65) as channel
    from r
    order by survey_id
    """


def _referrals_sql(as_of: dt.date) -> str:
    """About one customer in twenty recommended the bank to one to three people."""
    return f"""
    with rows as (
        select i, customer_id, registered_on,
            unnest(range(case when u(i, 70) < 0.03 then 1 when u(i, 70) < 0.045 then 2
                              when u(i, 70) < 0.05 then 3 else 0 end)) as j
        from cust where customer_type = 'retail' and arche not in ('prospect', 'departed')
    ), r as (
        select *, i * 4 + j as q,
            greatest(registered_on, date '{as_of}' - cast(floor(u(i * 4 + j, 71) * 700)
                     as integer)) as invited_on
        from rows
    )
    select 'R' || lpad(cast(q as varchar), 10, '0') as referral_id, customer_id, invited_on,
        case when u(q, 72) < 0.6 then 'N' || lpad(cast(q as varchar), 10, '0') end
            as referred_customer_id,
        case when u(q, 72) < 0.4 then least(date '{as_of}',
             invited_on + cast(10 + floor(u(q, 73) * 80) as integer)) end as qualified_on
    from r
    order by referral_id
    """


def _consents_sql(as_of: dt.date) -> str:
    """Six retail customers in ten agreed to marketing on any channel soon after joining;
    one in seven of them later withdrew it for SMS; one and a half in a hundred asked
    not to be contacted at all (purpose all, channel any, withdrawn)."""
    return f"""
    with rows as (
        select i, customer_id, registered_on, unnest([0, 1, 2]) as j
        from cust where customer_type = 'retail' and arche <> 'prospect'
    ), r as (
        select *, i * 4 + j as q,
            greatest(0, date_diff('day', registered_on, date '{as_of}')) as known_days
        from rows
        where (j = 0 and u(i, 90) < 0.6) or (j = 1 and u(i, 90) < 0.6 and u(i, 91) < 0.15)
           or (j = 2 and u(i, 92) < 0.015)
    ), d as (
        select *, pick(['branch', 'internet', 'mobile', 'call_centre'], q, 94) as source,
            least(date '{as_of}', registered_on + cast(case j when 0
                then floor(u(q, 93) * least(30, known_days))
                else least(30, known_days) + floor(u(q, 93) * greatest(0, known_days - 30))
                end as integer)) as day
        from r
    )
    select 'K' || lpad(cast(q as varchar), 10, '0') as consent_id, customer_id,
        case j when 2 then 'all' else 'marketing' end as purpose,
        case j when 1 then 'sms' else 'any' end as channel,
        case j when 0 then 'granted' else 'withdrawn' end as status,
        cast(day as timestamp) + to_minutes(cast(540 + floor(u(q, 96) * 540) as bigint))
            as effective_from,
        source,
        case when source in ('branch', 'call_centre')
             then pick(['ivanova', 'petrova', 'sidorov', 'georgieva'], q, 95) end
            as recorded_by,
        case when source = 'branch' then 'DOC-' || lpad(cast(q as varchar), 8, '0') end
            as reference
    from d
    order by consent_id
    """


def _credit_outcomes_sql() -> str:
    """A labelled table for training a solvency scorecard: did a borrower go bad?

    The risk rises with overdue history, debt against income and youth, and falls
    with income, savings and a salary paid into the bank; the label is a draw.
    """
    return """
    with borrowers as (
        select c.i, c.customer_id, c.declared_monthly_income as income, c.birth_date,
            sum(case when a.account_type = 'loan' then a.balance_base else 0 end) as debt,
            sum(case when a.account_type <> 'loan' then a.balance_base else 0 end) as saved,
            bool_or(a.subtype = 'salary_project') as salary
        from cust c join acc a on a.i = c.i
        where c.customer_type = 'retail'
        group by all having bool_or(a.account_type = 'loan')
    ), risk as (
        select b.*, coalesce(s.days_overdue, 0) as overdue,
            -2.3 + 0.03 * coalesce(s.days_overdue, 0)
            - 0.8 * (ln(coalesce(income, 25000) + 1) - 10.8)
            + case when income is null then 0.5 else 0 end
            + 0.35 * least(debt / (coalesce(income, 25000) * 12 + 1), 4)
            - 0.25 * ln(1 + saved / 100000)
            - case when salary then 0.5 else 0 end
            - 0.02 * (date_diff('year', coalesce(birth_date, date '1980-01-01'),
                                date '2026-01-01') - 40) as logit
        from borrowers b left join (
            select customer_id, max(days_overdue) as days_overdue from sec
            where kind = 'overdue' group by customer_id) s using (customer_id)
    )
    select customer_id, cast(u(i, 80) < 1 / (1 + exp(-logit)) as integer) as bad
    from risk order by customer_id
    """


CUSTOMER_COLS = ("customer_id, full_name, customer_type, registered_on, birth_date, city, "
                 "declared_monthly_income, owns_car, car_year, owns_home, document_id, phone")


def generate_bank(out_dir: Path, *, customers: int, seed: int = 42,
                  as_of: dt.date = dt.date(2026, 10, 31), fmt: str = "parquet",
                  bad_rows: int = 0, chunk_size: int = 250_000,
                  progress: Progress | None = None) -> dict[str, list[Path]]:
    """Write a demo bank's tables as part files; returns table -> files."""
    if fmt not in ("parquet", "csv"):
        raise ValueError("fmt must be parquet or csv")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("*"), *out_dir.glob("labels/*")]:
        if old.is_file():
            old.unlink()
    con = duckdb.connect(config={"memory_limit": "4GB", "preserve_insertion_order": True})
    con.execute("set enable_progress_bar = false")
    con.execute("set temp_directory = ?", [str(out_dir / ".tmp")])
    _setup(con, seed)
    lists = {"surnames": vocab.SURNAMES, "male_names": vocab.MALE_NAMES,
             "female_names": vocab.FEMALE_NAMES, "cities": vocab.CITIES,
             "patronymics_m": tuple(m for m, _ in vocab.PATRONYMICS),
             "patronymics_f": tuple(f for _, f in vocab.PATRONYMICS)}
    # Operational tables (cases, departures) are recorded in clientlens, not exported.
    files: dict[str, list[Path]] = {t: [] for t, spec in TABLES.items()
                                    if spec.origin == "import"}
    options = "(format parquet, compression zstd)" if fmt == "parquet" else \
        "(format csv, header true)"
    parts = range(1, customers + 1, chunk_size)
    for n, lo in enumerate(parts, start=1):
        hi = min(lo + chunk_size, customers + 1)
        sql = _customers_sql(lo, hi, as_of)
        for name, items in lists.items():
            sql = sql.replace(f"({name},", f"({_sql_list(items)},")
        con.execute(sql)
        con.execute(_accounts_sql(as_of))
        queries = {
            "customers": f"select {CUSTOMER_COLS} from cust order by customer_id",
            "accounts": f"select {ACCOUNT_COLS} from acc order by account_id",
            "transactions": _transactions_sql(),
            "interactions": INTERACTION_KIND.format(inner=_interactions_sql(as_of)),
            "security_events": _security_sql(as_of),
            "surveys": _surveys_sql(as_of),
            "referrals": _referrals_sql(as_of),
            "consents": _consents_sql(as_of),
        }
        con.execute(f"create or replace temp table sec as {queries['security_events']}")
        queries["security_events"] = "select * from sec order by event_id"
        for table, query in queries.items():
            path = out_dir / f"{table}_{n:04d}.{fmt}"
            con.execute(f"copy ({query}) to ? {options}", [str(path)])
            files[table].append(path)
        labels = out_dir / "labels"
        labels.mkdir(exist_ok=True)
        con.execute(f"copy ({_credit_outcomes_sql()}) to ? (format csv, header true)",
                    [str(labels / f"credit_outcomes_{n:04d}.csv")])
        if progress:
            progress("generating demo bank", hi - 1, customers)
    if bad_rows:
        files["accounts"].append(_branch_export(out_dir, customers, as_of))
    con.close()
    return files


def _branch_export(out_dir: Path, customers: int, as_of: dt.date) -> Path:
    """A branch's accounts export as Russian systems write it, with broken rows."""
    owner = "C00000001"
    other = f"C{min(2, customers):08d}"
    header = ACCOUNT_COLS.replace(" ", "").split(",")
    rows = [[*r, ""] for r in [
        ["B0000001", owner, "deposit", "term", "Вклад «Рост»", "RUB", "01.03.2024", "",
         "1 250 000,50", ""],
        ["B0000002", other, "card", "debit", "CARD-DEBIT", "RUB", "15.06.2023", "",
         "12 345,67", "12 345,67"],
        ["B0000003", owner, "deposit", "savings", "DEP-INCOME", "USD", "2024-01-10", "",
         "1000,00", "92500,00"],
        # Broken rows: the importer must quarantine each with its reason.
        ["B0000004", "C99999999", "card", "debit", "", "RUB", "01.02.2024", "", "10,00", ""],
        ["B0000005", owner, "card", "debit", "", "RUB", "01.02.2024", "01.01.2024", "0", ""],
        ["B0000006", owner, "current", "current", "", "RUB", "01.02.2024", "", "12x,5", ""],
        ["B0000001", other, "card", "debit", "", "RUB", "01.02.2024", "", "5,00", ""],
        ["B0000007", owner, "card", "gold", "", "RUB", "01.02.2024", "", "5,00", ""],
        ["B0000008", owner, "deposit", "term", "", "USD", "01.02.2024", "", "100,00", ""],
    ]]
    path = out_dir / "accounts_branch_export.csv"
    text = "\r\n".join(";".join(r) for r in [header, *rows]) + "\r\n"
    path.write_bytes(text.encode("cp1251"))
    del as_of
    return path
