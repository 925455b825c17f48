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
            u(i, 3) < 0.065 as affluent,
            u(i, 4) < 0.03 as business, u(i, 5) < 0.5 as female
        from base
    )
    , c0 as (
    select i, arche, affluent and arche not in ('prospect', 'departed') as affluent,
        case when arche not in ('salary', 'mixed', 'social', 'investor') then 'stays'
             when u(i, 91) < 0.075 then 'leaves' when u(i, 91) < 0.165 then 'dormant'
             else 'stays' end as fate,
        case when u(i, 93) < 0.4 then 'dissatisfaction' when u(i, 93) < 0.7
             then 'employer_changed' else 'moved' end as leave_reason,
        1 + cast(floor(u(i, 94) * 28) as integer) as payday,
        1 + cast(floor(u(i, 95) * 28) as integer) as payday_after_switch,
        u(i, 96) < 0.1 as switches_job,
        date '{as_of}' - cast(floor(u(i, 97) * 400) as integer) as switch_on,
        arche = 'salary' or (arche in ('mixed', 'new') and u(i, 98) < 0.7) as paid_salary,
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
    )
    select *,
        -- the day a leaver's last product closes or a dormant customer stops (may lie
        -- after the as-of date: the warning signs then start inside the data)
        case when fate = 'stays' then null
             else greatest(registered_on + 150, date '{as_of}' - 420
                           + cast(floor(u(i, 92) * 540) as integer)) end as fate_on,
        fate = 'dormant' and greatest(registered_on + 150, date '{as_of}' - 420
            + cast(floor(u(i, 92) * 540) as integer)) <= date '{as_of}' as dormant
    from c0
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
# Mean everyday transactions per account over ~400 days (salaries, pensions, interest
# and top-ups come on top, monthly); about 50 per customer in all.
TX_PER_ACCOUNT = {"salary_project": 36, "social": 20, "debit": 24, "credit": 15, "term": 2,
                  "savings": 3, "demand": 5, "current": 11, "consumer": 9, "car": 9}


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
            c.fate, c.fate_on, c.leave_reason,
            -- new products are opened up to a month before a customer leaves or stops
            case when c.fate = 'stays' then date '{as_of}'
                 else least(date '{as_of}', c.fate_on - 30) end as open_until,
            l.slot, l.spec, l.closed, l.product_code, l.tx_base, c.i * 8 + l.slot as k
        from cust c join layout l using (arche)
        where u(c.i * 8 + l.slot, 21) < l.p
    ), dated as (
        select *, split_part(spec, '/', 1) as account_type,
            split_part(spec, '/', 2) as subtype,
            case when slot = 0 and arche <> 'new'
                 then registered_on + cast(floor(u(k, 22) * 60) as integer)
                 else registered_on + cast(floor(u(k, 22)
                      * greatest(open_until - registered_on - 1, 0)) as integer) end
                as opened_on
        from picked
    ), leaving as (
        -- A leaver closes the main product on the day they leave and the others in the
        -- two months before; a product the layout closes anyway closes before that.
        select * replace (closed or (fate = 'leaves' and fate_on <= date '{as_of}') as closed),
            case when fate = 'leaves' then least(date '{as_of}', fate_on) else date '{as_of}'
                end as close_until,
            fate = 'leaves' and fate_on <= date '{as_of}' and not closed as closes_on_leaving
        from dated
    ), closed as (
        select *, case when closes_on_leaving and slot = 0 then fate_on
                       when closes_on_leaving then greatest(opened_on + 1,
                            fate_on - cast(floor(u(k, 30) * 60) as integer))
                       when closed then opened_on + cast(floor(u(k, 23)
                  * greatest(close_until - opened_on - 1, 0)) as integer) end as closed_on,
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
        from leaving
    )
    select *, 'A' || lpad(cast(k as varchar), 10, '0') as account_id,
        case when closed then 0 else money(rub) end as balance_base,
        case when closed then 0
             when currency = 'USD' then money(rub / {FX['USD']})
             when currency = 'EUR' then money(rub / {FX['EUR']})
             else money(rub) end as balance,
        cast(case when closed and not closes_on_leaving then tx_base * 0.4 else tx_base end
             * (0.3 + 1.4 * u(k, 26)) as integer) as n_tx,
        case when closed then closed_on
             when fate = 'dormant' then least(fate_on, date '{as_of}')
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


def _transactions_sql(as_of: dt.date) -> str:
    """Everyday activity on every account, and the money that follows a calendar.

    Everyday activity (purchases, cash, transfers, fees, loan payments) falls on random
    days; a customer going dormant does less and less over the five months before they
    stop. Salaries arrive monthly on the customer's payday (a few days' jitter; a job
    change moves the payday and skips a month), pensions monthly too; deposit interest
    is paid out monthly to customers who live on it and added quarterly otherwise.
    Savers top up every month: into their deposit here, or by a transfer to another
    bank when they save elsewhere. A leaver's salary stops before they go (it now goes
    to another bank), and their money follows it out.
    """
    first_month = dt.date(as_of.year, as_of.month, 1) - dt.timedelta(days=400)
    first_month = first_month.replace(day=1)
    return f"""
    with rows as (
        select account_id, customer_id, subtype, k, t_hi, fate, fate_on,
            greatest(opened_on, t_hi - 400) as t_lo, unnest(range(n_tx)) as j
        from acc where n_tx > 0
    ), r as (
        select *, k * 1000 + j as q,
            u(k * 1000 + j, 31) as w, nrm(k * 1000 + j, 32) as z
        from rows
    ), kinded as (
        select *, case
            when subtype in ('term', 'savings', 'demand') then
                 case when w < 0.5 then 'transfer_in' when w < 0.7 then 'cash_deposit'
                      else 'transfer_out' end
            when subtype = 'current' then
                 case when w < 0.45 then 'transfer_in' when w < 0.9 then 'transfer_out'
                      else 'fee' end
            when subtype in ('consumer', 'car') then 'loan_payment'
            when w < 0.7 then 'purchase' when w < 0.85 then 'cash_withdrawal'
            when w < 0.96 then 'transfer_in' else 'fee' end as kind,
            -- going dormant or leaving: activity thins out over the six months before
            -- the stop (a sixth of it there, falling to nothing)
            case when fate <> 'stays' and u(q, 36) < 0.17 and fate_on - 180 > t_lo
                 then fate_on - 180 + cast(floor((1 - sqrt(u(q, 33))) * 180) as integer)
                 when fate <> 'stays' then t_lo + cast(floor(u(q, 33)
                      * greatest(least(t_hi, fate_on - 180) - t_lo + 1, 1)) as integer)
                 else t_lo + cast(floor(u(q, 33) * (t_hi - t_lo + 1)) as integer) end as day
        from r
    ), everyday as (
        select q, account_id, customer_id, day, kind,
            case kind
                when 'transfer_in' then exp(9.2 + 0.9 * z)
                when 'cash_deposit' then exp(10.0 + 0.8 * z)
                when 'purchase' then -exp(7.0 + 1.0 * z)
                when 'cash_withdrawal' then -exp(8.5 + 0.6 * z)
                when 'transfer_out' then -exp(9.0 + 0.9 * z)
                when 'fee' then -exp(4.5 + 0.5 * z)
                else -exp(9.5 + 0.5 * z) end as amount
        from kinded where day <= t_hi
    ), months as (
        select unnest(range(15)) as m
    ), payer as (
        -- the account a salary or pension is paid into, and when it stops
        select a.k, a.account_id, a.customer_id, a.opened_on, a.t_hi, c.i, c.payday,
            c.payday_after_switch, c.switches_job, c.switch_on, c.affluent,
            case when a.subtype = 'social' then 'pension' else 'salary' end as kind,
            case when c.fate = 'leaves' and c.leave_reason = 'employer_changed'
                     then c.fate_on - 45 - cast(floor(u(c.i, 101) * 90) as integer)
                 when c.fate = 'leaves' and c.leave_reason = 'moved'
                     then c.fate_on - 30 - cast(floor(u(c.i, 101) * 60) as integer)
                 when c.fate = 'dormant' then c.fate_on - 30 - cast(floor(u(c.i, 101) * 90)
                                                                 as integer)
                 else date '{as_of}' end as paid_until
        from acc a join cust c using (i)
        where (a.subtype = 'salary_project' or a.subtype = 'social'
               or (a.slot = 0 and a.subtype = 'debit' and c.paid_salary)) and not a.closed
              or (a.closed and c.fate = 'leaves' and a.slot = 0 and a.closes_on_leaving
                  and (a.subtype in ('salary_project', 'social') or c.paid_salary))
    ), paid as (
        select p.*, m, p.k * 1000 + 500 + m as q,
            cast(date '{first_month}' + to_months(m) as date) as month_start
        from payer p, months
    ), credited as (
        select *, cast(month_start + (case when switches_job and month_start > switch_on
                  then payday_after_switch else payday end) - 1
                  + cast(floor(u(q, 102) * 5) as integer) - 2 as date) as day
        from paid
    ), income as (
        select q, account_id, customer_id, day, kind,
            case when kind = 'pension' then exp(9.9 + 0.2 * nrm(i, 103)) * (1 + 0.02 * nrm(q, 104))
                 else exp(11.0 + 0.35 * nrm(i, 103)) * (case when affluent then 3 else 1 end)
                      * (1 + 0.05 * nrm(q, 104)) end as amount
        from credited
        where day >= opened_on and day <= least(t_hi, paid_until)
          -- the month of a job change has no salary
          and not (switches_job and kind = 'salary'
                   and day between switch_on - 10 and switch_on + 25)
    ), deposits as (
        -- each customer's first deposit that takes interest and top-ups
        select * from (
            select a.*, row_number() over (partition by a.i order by a.slot) as nth
            from acc a where a.subtype in ('term', 'savings'))
        where nth = 1
    ), monthly as (
        select d.k, d.account_id, d.customer_id, d.opened_on, d.t_hi, d.rub, t.true_need,
            t.i, c.payday, m, cast(date '{first_month}' + to_months(m) as date) as month_start
        from deposits d join truth t using (i) join cust c using (i), months
    ), interest as (
        select k * 1000 + 600 + m as q, account_id, customer_id,
            cast(month_start + 27 as date) as day, 'interest' as kind,
            greatest(rub, 20000) * 0.012 * (1 + 0.1 * nrm(k * 1000 + 600 + m, 105)) as amount,
            opened_on, t_hi
        from monthly
        where true_need = 'regular_income' or m % 3 = 2
    ), saver as (
        -- savers top up monthly after payday: here when they hold a deposit, else at
        -- another bank (from the account their money arrives on)
        select t.i, t.customer_id, t.true_need, coalesce(d.k, a.k) as k,
            coalesce(d.account_id, a.account_id) as account_id,
            coalesce(d.opened_on, a.opened_on) as opened_on,
            -- savers going dormant stop saving three months before they stop
            case when t.fate = 'dormant' then least(coalesce(d.t_hi, a.t_hi), t.fate_on - 90)
                 else coalesce(d.t_hi, a.t_hi) end as t_hi, d.k is not null as here
        from truth t
        join acc a on a.i = t.i and a.slot = 0
        left join deposits d on d.i = t.i and not d.closed
        where t.true_need = 'accumulation' and t.fate <> 'leaves'
    ), topups as (
        select s.k * 1000 + 700 + m as q, s.account_id, s.customer_id,
            cast(date '{first_month}' + to_months(m) as date) + c.payday + 1
                 + cast(floor(u(s.k * 1000 + 700 + m, 106) * 4) as integer) as day,
            case when s.here then 'cash_deposit' else 'transfer_other_bank' end as kind,
            (case when s.here then 1 else -1 end)
                * exp(9.3 + 0.6 * nrm(s.i, 107)) * (1 + 0.1 * nrm(s.k * 1000 + 700 + m, 108))
                as amount,
            s.opened_on, s.t_hi
        from saver s join cust c using (i), months
        where u(s.k * 1000 + 700 + m, 109) < 0.85
    ), sweep as (
        -- a leaver empties the accounts into another bank in the weeks before leaving
        select a.k * 1000 + 900 as q, a.account_id, a.customer_id,
            least(a.t_hi, c.fate_on - 1 - cast(floor(u(a.k, 110) * 20) as integer)) as day,
            'transfer_other_bank' as kind, -greatest(a.rub, 5000) as amount,
            a.opened_on, a.t_hi
        from acc a join cust c using (i)
        where c.fate = 'leaves' and c.leave_reason <> 'dissatisfaction'
              and a.account_type in ('card', 'deposit', 'current')
    ), scheduled as (
        select q, account_id, customer_id, day, kind, amount from income
        union all
        select q, account_id, customer_id, day, kind, amount from (
            select * from interest union all select * from topups union all
            select * from sweep)
        where day >= opened_on and day <= t_hi
    ), all_tx as (
        select * from everyday union all select * from scheduled
    )
    select 'T' || lpad(cast(q as varchar), 13, '0') as transaction_id, account_id, customer_id,
        cast(day as timestamp) + to_seconds(cast(floor(u(q, 34) * 86399) as bigint)) as ts,
        money(amount) as amount, kind,
        case kind when 'purchase' then (case when u(q, 35) < 0.6 then 'pos'
                                             when u(q, 35) < 0.8 then 'internet' else 'mobile' end)
            when 'cash_withdrawal' then 'atm'
            when 'cash_deposit' then 'branch'
            when 'transfer_in' then (case when u(q, 35) < 0.5 then 'mobile' else 'internet' end)
            when 'transfer_out' then (case when u(q, 35) < 0.5 then 'mobile' else 'internet' end)
            when 'transfer_other_bank' then (case when u(q, 35) < 0.6 then 'mobile'
                                                  else 'internet' end)
            when 'loan_payment' then (case when u(q, 35) < 0.7 then 'internet' else 'branch' end)
            else 'system' end as channel
    from all_tx
    where day <= date '{as_of}'
    order by transaction_id
    """


def _interactions_sql(as_of: dt.date) -> str:
    """Contacts through the channels, until a customer stops or leaves; a dissatisfied
    leaver complains once or twice in the three months before leaving."""
    return f"""
    with rows as (
        select i, customer_id, registered_on, fate, fate_on, leave_reason,
            case when fate <> 'stays' then least(fate_on, date '{as_of}')
                 else date '{as_of}' end as t_hi,
            unnest(range(cast(floor(u(i, 40) * 11) as integer))) as j
        from cust
    ), r as (select *, i * 16 + j as q, greatest(registered_on, date '{as_of}' - 400) as t_lo
             from rows)
    select 'I' || lpad(cast(q as varchar), 11, '0') as interaction_id, customer_id,
        cast(t_lo + cast(floor(u(q, 41) * greatest(t_hi - t_lo + 1, 1)) as integer)
             as timestamp) + to_seconds(cast(floor(u(q, 42) * 86399) as bigint)) as ts,
        case when j = 0 and u(i, 43) < 0.012 then 'call_centre'
             else pick(['branch', 'atm', 'internet', 'mobile', 'mobile', 'internet',
                        'call_centre', 'ivr'], q, 44) end as channel,
        case when j = 0 and u(i, 43) < 0.012 then 'complaint' else null end as forced
    from r
    union all
    select 'I' || lpad(cast(i * 16 + 15 - j as varchar), 11, '0'), customer_id,
        cast(fate_on - 10 - cast(floor(u(i * 16 + 15 - j, 45) * 80) as integer) as timestamp)
            + to_seconds(cast(floor(u(i * 16 + 15 - j, 42) * 86399) as bigint)),
        case when u(i * 16 + 15 - j, 44) < 0.6 then 'call_centre' else 'branch' end,
        'complaint'
    from (select *, unnest(range(case when u(i, 46) < 0.5 then 1 else 2 end)) as j from cust
          where fate = 'leaves' and leave_reason = 'dissatisfaction')
    where fate_on - 10 - cast(floor(u(i * 16 + 15 - j, 45) * 80) as integer) <= date '{as_of}'
      and fate_on - 10 - cast(floor(u(i * 16 + 15 - j, 45) * 80) as integer) >= registered_on
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
        select i, customer_id, registered_on, arche, dormant, fate, leave_reason,
            unnest(range(case when u(i, 60) < 0.33 then 1 when u(i, 60) < 0.38 then 2
                              else 0 end)) as j
        from cust where customer_type = 'retail' and arche <> 'prospect'
    ), r as (select *, i * 4 + j as q,
                    case arche when 'departed' then -2.5 when 'new' then 0.5
                               when 'investor' then 1.0 when 'social' then 0.8 else 0 end
                    - case when dormant then 1.5 else 0 end
                    - case when fate = 'leaves' and leave_reason = 'dissatisfaction' then 2.5
                           else 0 end as mood
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


TRUTH_SQL = """
    create or replace temp table truth as
    with deposit_holders as (
        select i, true as has_deposit from acc where subtype in ('term', 'savings') group by i
    ), last_closed as (
        select i, max(closed_on) as left_on from acc group by i having bool_and(closed)
    )
    select c.i, c.customer_id, c.arche, c.fate, c.fate_on, c.leave_reason, l.left_on,
        c.payday, c.paid_salary, c.switches_job, c.switch_on,
        case when c.arche = 'social' then 'regular_income'
             when c.affluent and u(c.i, 111) < 0.8 then 'preservation'
             when d.has_deposit and u(c.i, 112)
                  < (case when c.arche = 'investor' then 0.6 else 0.3 end) then 'regular_income'
             else 'accumulation' end as true_need
    from cust c left join deposit_holders d using (i) left join last_closed l using (i)
"""

# Customers choose deposits that fit their need more often than not: the product held
# follows the true need for seven deposits in ten (the rules never read product codes
# for a need; a next-best backtest sees whether offers match what is opened).
DEPOSIT_BY_NEED = """
    update acc set product_code = case t.true_need when 'accumulation' then 'DEP-GROW'
                                       when 'regular_income' then 'DEP-INCOME'
                                       else 'DEP-KEEP' end
    from truth t
    where acc.i = t.i and acc.account_type = 'deposit' and u(acc.k, 113) < 0.7
"""

# The hidden truth: written beside the data for evaluations, never imported (the
# importer reads only the folder's own files, not its subfolders); see docs/demo.md.
TRUTH_OUT = """
    select customer_id, arche as archetype, true_need,
        case when arche = 'prospect' then 'prospect'
             when arche = 'departed' then 'left'
             when fate = 'leaves' then 'leaves'
             when fate = 'dormant' then 'goes_dormant' else 'stays' end as fate,
        case when arche = 'departed' then left_on else fate_on end as fate_on,
        case when arche = 'departed' then 'unknown'
             when fate = 'leaves' then leave_reason
             when fate = 'dormant' then 'drifted' end as fate_reason,
        case when paid_salary then payday end as salary_payday,
        case when paid_salary and switches_job then switch_on end as job_change_on
    from truth order by customer_id
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
    for old in [*out_dir.glob("*"), *out_dir.glob("labels/*"), *out_dir.glob("truth/*")]:
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
        con.execute(TRUTH_SQL)
        con.execute(DEPOSIT_BY_NEED)
        queries = {
            "customers": f"select {CUSTOMER_COLS} from cust order by customer_id",
            "accounts": f"select {ACCOUNT_COLS} from acc order by account_id",
            "transactions": _transactions_sql(as_of),
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
        truth = out_dir / "truth"
        truth.mkdir(exist_ok=True)
        con.execute(f"copy ({TRUTH_OUT}) to ? (format csv, header true)",
                    [str(truth / f"truth_{n:04d}.csv")])
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
