-- The nightly job for the default rulebook, written by hand for DuckDB: the
-- baseline bench/nightly.py compares the engine's compiled plan against.
-- {as_of}, {window_start}, {next_day}, {complaint_start} are filled in by the bench.
create or replace table profiles_hand as
with acc as (
    select customer_id,
           count(*) as products_ever,
           count(*) filter (where closed_on is null or closed_on > date '{as_of}') as open_products,
           count(*) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'card') as open_cards,
           count(*) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'deposit') as open_deposits,
           count(*) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'current') as open_current_accounts,
           count(*) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'loan') as open_loans,
           bool_or((closed_on is null or closed_on > date '{as_of}') and subtype = 'salary_project') as has_salary_card,
           bool_or((closed_on is null or closed_on > date '{as_of}') and subtype = 'social') as has_social_card,
           sum(balance_base) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'card') as balance_card,
           sum(balance_base) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'deposit') as balance_deposit,
           sum(balance_base) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'current') as balance_current,
           sum(balance_base) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'loan') as loan_debt,
           min(opened_on) as first_opened_on,
           max(closed_on) filter (where closed_on <= date '{as_of}') as last_closed_on
    from accounts
    where opened_on <= date '{as_of}'
    group by customer_id
), tx as (
    select customer_id,
           count(*) filter (where ts >= timestamp '{window_start}') as tx_count_recent,
           sum(amount) filter (where amount > 0 and ts >= timestamp '{window_start}') as inflow_recent,
           sum(amount) filter (where kind = 'salary' and ts >= timestamp '{window_start}') as salary_inflow_recent,
           sum(amount) filter (where kind in ('pension', 'social_benefit') and ts >= timestamp '{window_start}') as pension_inflow_recent,
           max(ts) as last_transaction_at
    from transactions
    where ts < timestamp '{next_day}'
    group by customer_id
), ia as (
    select customer_id,
           count(*) filter (where ts >= timestamp '{window_start}') as contacts_recent,
           count(*) filter (where channel in ('internet', 'mobile') and ts >= timestamp '{window_start}') as digital_contacts_recent,
           count(*) filter (where kind = 'complaint' and ts >= timestamp '{complaint_start}') as complaints_recent
    from interactions
    where ts < timestamp '{next_day}'
    group by customer_id
), base as (
    select c.customer_id, c.customer_type, c.registered_on, c.birth_date,
           c.declared_monthly_income as declared_income,
           c.customer_type = 'retail' as is_retail,
           (date '{as_of}' - c.birth_date) / 365.25 as age_years,
           coalesce(acc.products_ever, 0) as products_ever,
           coalesce(acc.open_products, 0) as open_products,
           coalesce(acc.open_cards, 0) as open_cards,
           coalesce(acc.open_deposits, 0) as open_deposits,
           coalesce(acc.open_current_accounts, 0) as open_current_accounts,
           coalesce(acc.open_loans, 0) as open_loans,
           coalesce(acc.has_salary_card, false) as has_salary_card,
           coalesce(acc.has_social_card, false) as has_social_card,
           coalesce(acc.balance_card, 0) as balance_card,
           coalesce(acc.balance_deposit, 0) as balance_deposit,
           coalesce(acc.balance_current, 0) as balance_current,
           coalesce(acc.loan_debt, 0) as loan_debt,
           acc.first_opened_on, acc.last_closed_on,
           coalesce(tx.tx_count_recent, 0) as tx_count_recent,
           coalesce(tx.inflow_recent, 0) as inflow_recent,
           coalesce(tx.salary_inflow_recent, 0) as salary_inflow_recent,
           coalesce(tx.pension_inflow_recent, 0) as pension_inflow_recent,
           tx.last_transaction_at,
           coalesce(ia.contacts_recent, 0) as contacts_recent,
           coalesce(ia.digital_contacts_recent, 0) as digital_contacts_recent,
           coalesce(ia.complaints_recent, 0) as complaints_recent
    from customers c
    left join acc using (customer_id)
    left join tx using (customer_id)
    left join ia using (customer_id)
    where c.registered_on <= date '{as_of}' and c.customer_type = 'retail'
), terms as (
    select *,
           balance_card + balance_deposit + balance_current as balance_total,
           date '{as_of}' - first_opened_on as relationship_days,
           open_deposits > 0 and open_cards = 0 and open_current_accounts = 0 and open_loans = 0 as is_deposit_only,
           date '{as_of}' - cast(last_transaction_at as date) as days_since_transaction,
           tx_count_recent > 0 as is_active
    from base
)
select date '{as_of}' as as_of,
       case
           when products_ever > 0 and open_products = 0 then 'loyal'
           when products_ever = 0 or relationship_days <= 180 then 'new'
           when balance_total >= 1500000 then 'status'
           when is_deposit_only then 'investor'
           when has_social_card or pension_inflow_recent > 0 then 'social'
           else 'regular'
       end as segment,
       *
from terms;
