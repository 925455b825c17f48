-- The nightly job for the default definitions, written by hand for DuckDB: the
-- baseline bench/nightly.py compares the engine's compiled plan against. It
-- computes the same profile row (terms, segment, need, six ratings with grades
-- and reasons, relationship phase, next-best product, lead, service flags) and
-- the first run's entitlements and events. Thresholds, points and the BG/NBD
-- parameters are those of src/clientlens/defaults/*.yaml, typed in by hand.
-- {as_of}, {window_start}, {next_day}, {complaint_start}, {needs_start},
-- {year_start}, {gap_start}, {baseline_start} and {care_start} are filled in by
-- the bench (bench/nightly.py, HAND_DATES).
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
           max(closed_on) filter (where closed_on <= date '{as_of}') as last_closed_on,
           min(opened_on) filter (where closed_on is null or closed_on > date '{as_of}') as first_open_product_on,
           count(*) filter (where closed_on <= date '{as_of}' and closed_on >= date '{window_start}') as products_closed_recent,
           sum(balance_base) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'loan' and subtype = 'consumer') as consumer_loan_debt,
           count(*) filter (where account_type = 'deposit' and date '{as_of}' - opened_on <= 365) as deposits_opened_1y,
           count(*) filter (where (closed_on is null or closed_on > date '{as_of}') and account_type = 'deposit' and term_months <= 6) as short_deposits_open,
           bool_or((closed_on is null or closed_on > date '{as_of}') and product_code = 'DEP-KEEP') as holds_deposit_keep,
           bool_or((closed_on is null or closed_on > date '{as_of}') and product_code = 'DEP-INCOME') as holds_deposit_income,
           bool_or((closed_on is null or closed_on > date '{as_of}') and product_code = 'DEP-GROW') as holds_deposit_grow,
           bool_or((closed_on is null or closed_on > date '{as_of}') and product_code = 'CARD-PREMIUM') as holds_premium_card,
           bool_or((closed_on is null or closed_on > date '{as_of}') and account_type = 'loan' and subtype = 'car') as holds_car_loan,
           bool_or((closed_on is null or closed_on > date '{as_of}') and account_type = 'loan' and subtype = 'consumer') as holds_consumer_loan,
           bool_or((closed_on is null or closed_on > date '{as_of}') and account_type = 'card' and subtype = 'salary_project') as holds_salary_card
    from accounts
    where opened_on <= date '{as_of}'
    group by customer_id
), tx as (
    select customer_id,
           count(*) filter (where ts >= timestamp '{window_start}') as tx_count_recent,
           sum(amount) filter (where amount > 0 and ts >= timestamp '{window_start}') as inflow_recent,
           sum(amount) filter (where kind = 'salary' and ts >= timestamp '{window_start}') as salary_inflow_recent,
           sum(amount) filter (where kind in ('pension', 'social_benefit') and ts >= timestamp '{window_start}') as pension_inflow_recent,
           max(ts) as last_transaction_at,
           count(*) filter (where kind = 'salary' and ts >= timestamp '{gap_start}') as salary_count_gap,
           count(*) filter (where kind = 'salary' and ts >= timestamp '{needs_start}' and ts < timestamp '{gap_start}') as salary_count_before_gap,
           count(*) filter (where ts >= timestamp '{baseline_start}' and ts < timestamp '{window_start}') as tx_count_baseline,
           count(*) filter (where kind in ('purchase', 'transfer_out', 'cash_withdrawal', 'cash_deposit', 'loan_payment', 'transfer_other_bank') and ts >= timestamp '{window_start}') as own_tx_count_recent,
           count(*) filter (where kind in ('purchase', 'transfer_out', 'cash_withdrawal', 'cash_deposit', 'loan_payment', 'transfer_other_bank') and ts >= timestamp '{baseline_start}' and ts < timestamp '{window_start}') as own_tx_count_baseline,
           sum(-amount) filter (where amount < 0 and ts >= timestamp '{window_start}') as outflow_recent,
           sum(-amount) filter (where kind = 'transfer_other_bank' and ts >= timestamp '{window_start}') as other_bank_outflow_recent,
           count(*) filter (where kind = 'transfer_other_bank' and ts >= timestamp '{needs_start}') as other_bank_transfers_recent,
           -- the customer's own transaction days, for the probability-alive model
           count(distinct cast(ts as date)) filter (where kind in ('purchase', 'transfer_out', 'cash_withdrawal', 'cash_deposit', 'loan_payment', 'transfer_other_bank')) as own_tx_days,
           date '{as_of}' - cast(min(ts) filter (where kind in ('purchase', 'transfer_out', 'cash_withdrawal', 'cash_deposit', 'loan_payment', 'transfer_other_bank')) as date) as first_own_tx_days_ago,
           date '{as_of}' - cast(max(ts) filter (where kind in ('purchase', 'transfer_out', 'cash_withdrawal', 'cash_deposit', 'loan_payment', 'transfer_other_bank')) as date) as last_own_tx_days_ago,
           count(*) filter (where kind = 'salary' and ts >= timestamp '{needs_start}') as salary_count_recent,
           count(*) filter (where kind in ('pension', 'social_benefit') and ts >= timestamp '{needs_start}') as pension_count_recent,
           count(*) filter (where kind = 'interest' and ts >= timestamp '{needs_start}') as interest_count_recent,
           count(*) filter (where kind = 'cash_deposit' and ts >= timestamp '{needs_start}') as cash_deposits_recent,
           sum(-amount) filter (where kind = 'fee' and ts >= timestamp '{year_start}') as fee_income_1y
    from transactions
    where ts < timestamp '{next_day}'
    group by customer_id
), ia as (
    select customer_id,
           count(*) filter (where ts >= timestamp '{window_start}') as contacts_recent,
           count(*) filter (where channel in ('internet', 'mobile') and ts >= timestamp '{window_start}') as digital_contacts_recent,
           count(*) filter (where kind = 'complaint' and ts >= timestamp '{complaint_start}') as complaints_recent,
           count(*) filter (where kind = 'complaint' and ts >= timestamp '{care_start}') as complaints_care_window,
           count(*) filter (where kind = 'complaint' and ts >= timestamp '{window_start}') as complaints_activity_window
    from interactions
    where ts < timestamp '{next_day}'
    group by customer_id
), rc as (
    select customer_id,
           count(*) filter (where closed_on is null or closed_on > date '{as_of}') as open_recovery_cases,
           count(*) filter (where status = 'failed' and closed_on <= date '{as_of}' and date '{as_of}' - closed_on < 90) as failed_cases_recent,
           count(*) filter (where opened_on >= date '{care_start}') as cases_opened_care_window,
           count(*) filter (where opened_on >= date '{window_start}') as cases_opened_activity_window
    from recovery_cases
    where opened_on <= date '{as_of}'
    group by customer_id
), dep as (
    select customer_id,
           bool_or(exit_kind = 'situational') as left_situational,
           bool_or(exit_kind = 'dissatisfaction') as left_dissatisfied,
           bool_or(do_not_contact) as no_contact_requested
    from departures
    where left_on <= date '{as_of}'
    group by customer_id
), sec as (
    select customer_id,
           count(*) filter (where kind = 'fraud_alert' and date '{as_of}' - raised_on <= 365) as fraud_alerts_1y,
           count(*) filter (where kind = 'security_flag' and (resolved_on is null or resolved_on > date '{as_of}')) as security_flags_open,
           count(*) filter (where severity = 'high' and (resolved_on is null or resolved_on > date '{as_of}')) as high_severity_open,
           max(days_overdue) filter (where kind = 'overdue' and date '{as_of}' - raised_on <= 730) as overdue_max_days
    from security_events
    where raised_on <= date '{as_of}'
    group by customer_id
), srv as (
    select customer_id,
           count(*) filter (where date '{as_of}' - answered_on <= 365) as surveys_recent,
           avg(nps) filter (where date '{as_of}' - answered_on <= 365) as nps_recent,
           avg(satisfaction) filter (where date '{as_of}' - answered_on <= 365) as satisfaction_recent,
           max(answered_on) as last_survey_on
    from surveys
    where answered_on <= date '{as_of}'
    group by customer_id
), ref as (
    select customer_id,
           count(*) filter (where date '{as_of}' - invited_on <= 730) as referrals_made,
           count(*) filter (where qualified_on <= date '{as_of}' and date '{as_of}' - invited_on <= 730) as referrals_qualified
    from referrals
    where invited_on <= date '{as_of}'
    group by customer_id
), pref as (  -- the member-get-member programme's referrals, counted the same way
    select customer_id,
           count(*) filter (where date '{as_of}' - invited_on <= 730) as referrals_made,
           count(*) filter (where qualified_on <= date '{as_of}' and date '{as_of}' - invited_on <= 730) as referrals_qualified
    from programme_referrals
    where invited_on <= date '{as_of}'
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
           acc.first_opened_on, acc.last_closed_on, acc.first_open_product_on,
           coalesce(acc.products_closed_recent, 0) as products_closed_recent,
           coalesce(tx.tx_count_recent, 0) as tx_count_recent,
           coalesce(tx.inflow_recent, 0) as inflow_recent,
           coalesce(tx.salary_inflow_recent, 0) as salary_inflow_recent,
           coalesce(tx.pension_inflow_recent, 0) as pension_inflow_recent,
           tx.last_transaction_at,
           coalesce(tx.salary_count_gap, 0) as salary_count_gap,
           coalesce(tx.salary_count_before_gap, 0) as salary_count_before_gap,
           coalesce(tx.tx_count_baseline, 0) as tx_count_baseline,
           coalesce(tx.own_tx_count_recent, 0) as own_tx_count_recent,
           coalesce(tx.own_tx_count_baseline, 0) as own_tx_count_baseline,
           coalesce(tx.outflow_recent, 0) as outflow_recent,
           coalesce(tx.other_bank_outflow_recent, 0) as other_bank_outflow_recent,
           coalesce(ia.complaints_activity_window, 0) as complaints_activity_window,
           coalesce(tx.other_bank_transfers_recent, 0) as other_bank_transfers_recent,
           coalesce(tx.own_tx_days, 0) as own_tx_days,
           tx.first_own_tx_days_ago, tx.last_own_tx_days_ago,
           coalesce(ia.contacts_recent, 0) as contacts_recent,
           coalesce(ia.digital_contacts_recent, 0) as digital_contacts_recent,
           coalesce(ia.complaints_recent, 0) as complaints_recent,
           coalesce(ia.complaints_care_window, 0) as complaints_care_window,
           coalesce(rc.open_recovery_cases, 0) as open_recovery_cases,
           coalesce(rc.failed_cases_recent, 0) as failed_cases_recent,
           coalesce(rc.cases_opened_care_window, 0) as cases_opened_care_window,
           coalesce(rc.cases_opened_activity_window, 0) as cases_opened_activity_window,
           coalesce(dep.left_situational, false) as left_situational,
           coalesce(dep.left_dissatisfied, false) as left_dissatisfied,
           coalesce(dep.no_contact_requested, false) as no_contact_requested,
           c.car_year, 2026 - c.car_year as car_age_years,
           coalesce(acc.consumer_loan_debt, 0) as consumer_loan_debt,
           coalesce(tx.salary_count_recent, 0) as salary_count_recent,
           coalesce(tx.pension_count_recent, 0) as pension_count_recent,
           coalesce(tx.interest_count_recent, 0) as interest_count_recent,
           coalesce(tx.cash_deposits_recent, 0) as cash_deposits_recent,
           coalesce(acc.deposits_opened_1y, 0) as deposits_opened_1y,
           coalesce(acc.short_deposits_open, 0) as short_deposits_open,
           coalesce(tx.fee_income_1y, 0) as fee_income_1y,
           coalesce(sec.fraud_alerts_1y, 0) as fraud_alerts_1y,
           coalesce(sec.security_flags_open, 0) as security_flags_open,
           coalesce(sec.high_severity_open, 0) as high_severity_open,
           coalesce(sec.overdue_max_days, 0) as overdue_max_days,
           coalesce(srv.surveys_recent, 0) as surveys_recent,
           srv.nps_recent, srv.satisfaction_recent, srv.last_survey_on,
           coalesce(ref.referrals_made, 0) as bank_referrals_made,
           coalesce(ref.referrals_qualified, 0) as bank_referrals_qualified,
           coalesce(pref.referrals_made, 0) as programme_referrals_made,
           coalesce(pref.referrals_qualified, 0) as programme_referrals_qualified,
           coalesce(ref.referrals_made, 0) + coalesce(pref.referrals_made, 0) as referrals_made,
           coalesce(ref.referrals_qualified, 0) + coalesce(pref.referrals_qualified, 0) as referrals_qualified,
           coalesce(acc.holds_deposit_keep, false) as holds_deposit_keep,
           coalesce(acc.holds_deposit_income, false) as holds_deposit_income,
           coalesce(acc.holds_deposit_grow, false) as holds_deposit_grow,
           coalesce(acc.holds_premium_card, false) as holds_premium_card,
           coalesce(acc.holds_car_loan, false) as holds_car_loan,
           coalesce(acc.holds_consumer_loan, false) as holds_consumer_loan,
           coalesce(acc.holds_salary_card, false) as holds_salary_card
    from customers c
    left join acc using (customer_id)
    left join tx using (customer_id)
    left join ia using (customer_id)
    left join rc using (customer_id)
    left join dep using (customer_id)
    left join sec using (customer_id)
    left join srv using (customer_id)
    left join ref using (customer_id)
    left join pref using (customer_id)
    where c.registered_on <= date '{as_of}' and c.customer_type = 'retail'
), terms as (
    select *,
           balance_card + balance_deposit + balance_current as balance_total,
           date '{as_of}' - first_opened_on as relationship_days,
           open_deposits > 0 and open_cards = 0 and open_current_accounts = 0 and open_loans = 0 as is_deposit_only,
           date '{as_of}' - cast(last_transaction_at as date) as days_since_transaction,
           tx_count_recent > 0 as is_active,
           balance_deposit * 0.02 + loan_debt * 0.06 + (balance_card + balance_current) * 0.01 as annual_margin_estimate,
           open_products > 0 and last_closed_on is not null and first_open_product_on > last_closed_on as returned_after_leaving,
           case when open_products > 0 and last_closed_on is not null and first_open_product_on > last_closed_on
                then date '{as_of}' - first_open_product_on end as days_since_return,
           case when open_products = 0 then date '{as_of}' - last_closed_on end as days_since_leaving,
           salary_count_before_gap >= 2 and salary_count_gap = 0 as salary_stopped,
           -- the customer's own recent rate below 60% of their own baseline rate (90 vs 365 days)
           own_tx_count_baseline >= 18 and own_tx_count_recent * 365 * 100 < own_tx_count_baseline * 90 * 60 as activity_drop,
           -- BG/NBD probability alive (r, alpha, a, b of activity_model.yaml); ages in weeks
           case when own_tx_days = 0 then null
                when own_tx_days = 1 then 1.0
                else 1.0 / (1.0 + 61691.6 / (13891400.0 + own_tx_days - 2)
                            * power((2.0645 + first_own_tx_days_ago / 7.0)
                                    / (2.0645 + (first_own_tx_days_ago - last_own_tx_days_ago) / 7.0),
                                    1.54642 + own_tx_days - 1)) end as p_alive
    from base
), seg as (
    select *,
           case
               when products_ever > 0 and open_products = 0 then 'loyal'
               when products_ever = 0 or relationship_days <= 180 then 'new'
               when balance_total >= 1500000 then 'status'
               when is_deposit_only then 'investor'
               when has_social_card or pension_inflow_recent > 0 then 'social'
               else 'regular'
           end as segment
    from terms
), need as (
    select *,
           case
               when pension_count_recent >= 3 or interest_count_recent >= 3 then 'regular_income'
               when cash_deposits_recent >= 3 or other_bank_transfers_recent >= 3 then 'accumulation'
               when balance_total >= 1000000 then 'preservation'
               else 'undetermined'
           end as need
    from seg
), pts as (
    select *,
           -- current
           case when annual_margin_estimate is null then 0 when annual_margin_estimate < 500 then 0
                when annual_margin_estimate < 5000 then 10 when annual_margin_estimate < 20000 then 20
                when annual_margin_estimate < 60000 then 30 else 40 end as c1,
           case when fee_income_1y < 100 then 0 when fee_income_1y < 1000 then 5 else 10 end as c2,
           case when open_products < 1 then 0 when open_products < 2 then 5 when open_products < 3 then 12 else 20 end as c3,
           case when segment = 'status' then 20 when segment in ('regular', 'investor') then 12
                when segment in ('social', 'new') then 6 else 0 end as c4,
           -- prospect
           case when declared_income is null then 5 when declared_income < 30000 then 0
                when declared_income < 60000 then 10 when declared_income < 120000 then 20 else 30 end as r1,
           case when age_years is null then 5 when age_years < 25 then 10 when age_years < 45 then 20
                when age_years < 60 then 10 else 0 end as r2,
           case when open_products < 1 then 5 when open_products < 3 then 15 else 5 end as r3,
           case when consumer_loan_debt > 0 and consumer_loan_debt < 300000 and declared_income >= 60000
                     and car_age_years >= 8 then 25
                when is_active and declared_income >= 120000 then 15 else 0 end as r4,
           case when days_since_transaction is null then 0 when days_since_transaction < 31 then 10
                when days_since_transaction < 181 then 5 else 0 end as r5,
           -- security
           case when overdue_max_days < 1 then 0 when overdue_max_days < 30 then -10
                when overdue_max_days < 90 then -30 else -50 end as s1,
           case when fraud_alerts_1y < 1 then 0 when fraud_alerts_1y < 2 then -25 else -50 end as s2,
           case when security_flags_open < 1 then 0 else -40 end as s3,
           case when high_severity_open < 1 then 0 else -20 end as s4,
           -- loyalty
           case when nps_recent is null then 0 when nps_recent < 7 then 0 when nps_recent < 9 then 20 else 35 end as l1,
           case when satisfaction_recent is null then 8 when satisfaction_recent < 3 then 0
                when satisfaction_recent < 4 then 8 else 15 end as l2,
           case when relationship_days is null then 0 when relationship_days < 365 then 0
                when relationship_days < 1095 then 8 when relationship_days < 2555 then 14 else 20 end as l3,
           case when open_products < 2 then 0 when open_products < 4 then 8 else 15 end as l4,
           case when referrals_made < 1 then 0 when referrals_made < 2 then 10 else 15 end as l5,
           case when referrals_qualified < 1 then 0 else 10 end as l6,
           -- win-back
           case when left_situational then 30 when left_dissatisfied then -15 else 5 end as w1,
           case when products_ever < 2 then 0 when products_ever < 4 then 10 else 20 end as w2,
           case when relationship_days is null then 0 when relationship_days < 365 then 0
                when relationship_days < 1825 then 10 else 15 end as w3,
           case when days_since_leaving is null then 0 when days_since_leaving < 365 then 15
                when days_since_leaving < 730 then 8 else 0 end as w4,
           case when nps_recent is null then 3 when nps_recent < 7 then 0 when nps_recent < 9 then 5 else 10 end as w5,
           -- solvency (the trained scorecard)
           case when declared_income is null then 7 when declared_income < 25450 then 3
                when declared_income < 33850 then 8 when declared_income < 39050 then 13
                when declared_income < 46750 then 14 when declared_income < 59550 then 16
                when declared_income < 89750 then 21 when declared_income < 125350 then 30 else 43 end as v1,
           case when age_years is null then 7 when age_years < 29.545516967773438 then 3
                when age_years < 33.83572769165039 then 4 when age_years < 39.21834373474121 then 6
                when age_years < 46.71457862854004 then 7 when age_years < 49.956193923950195 then 9
                when age_years < 56.32169723510742 then 9 when age_years < 58.64613342285156 then 10 else 12 end as v2,
           case when overdue_max_days < 5.5 then 11 when overdue_max_days < 36.5 then 4 else -16 end as v3,
           case when loan_debt < 85729.375 then 9 when loan_debt < 140671.3046875 then 9
                when loan_debt < 162936.765625 then 8 when loan_debt < 232310.65625 then 8
                when loan_debt < 312488.03125 then 7 when loan_debt < 563316.8125 then 5 else 1 end as v4,
           case when balance_total < 232.43000030517578 then 5 when balance_total < 9084.259765625 then 5
                when balance_total < 41913.17578125 then 5 when balance_total < 72128.37109375 then 7
                when balance_total < 142692.125 then 7 when balance_total < 200154.90625 then 8
                when balance_total < 306956.046875 then 10 when balance_total < 749696.03125 then 12 else 14 end as v5,
           case when salary_count_recent < 0.5 then 5 when salary_count_recent < 5.5 then 11 else 11 end as v6
    from need
), scored as (
    select *,
           cast(greatest(0, least(100, 10 + c1 + c2 + c3 + c4)) as decimal(38, 2)) as current_score,
           cast(greatest(0, least(100, 10 + r1 + r2 + r3 + r4 + r5)) as decimal(38, 2)) as prospect_score,
           cast(greatest(0, least(100, 100 + s1 + s2 + s3 + s4)) as decimal(38, 2)) as security_score,
           case when surveys_recent > 0
                then cast(greatest(0, least(100, l1 + l2 + l3 + l4 + l5 + l6)) as decimal(38, 2)) end as loyalty_score,
           case when products_ever > 0 and open_products = 0
                then cast(greatest(0, least(100, 20 + w1 + w2 + w3 + w4 + w5)) as decimal(38, 2)) end as win_back_score,
           cast(greatest(0, least(100, v1 + v2 + v3 + v4 + v5 + v6)) as decimal(38, 2)) as solvency_score,
           -- reasons: (minus distance from neutral, factor order, text), nonzero only, sorted
           list_sort(list_filter([
               {'k': -abs(c1 - 20), 'i': 1, 't': 'annual_margin_estimate ' || case when c1 > 20 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(c1 - 20) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(c2 - 5), 'i': 2, 't': 'fee_income_1y ' || case when c2 > 5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(c2 - 5) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(c3 - 10), 'i': 3, 't': 'open_products ' || case when c3 > 10 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(c3 - 10) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(c4 - 13), 'i': 4, 't': 'segment_fit ' || case when c4 > 13 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(c4 - 13) as decimal(12, 2)) as varchar), '0'), '.')}
           ], lambda x: x.k < 0)) as current_reasons,
           list_sort(list_filter([
               {'k': -abs(r1 - 15), 'i': 1, 't': 'declared_income ' || case when r1 > 15 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(r1 - 15) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(r2 - 10), 'i': 2, 't': 'age_years ' || case when r2 > 10 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(r2 - 10) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(r3 - 10), 'i': 3, 't': 'open_products ' || case when r3 > 10 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(r3 - 10) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(r4 - 20), 'i': 4, 't': 'purchase_signal ' || case when r4 > 20 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(r4 - 20) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(r5 - 5), 'i': 5, 't': 'days_since_transaction ' || case when r5 > 5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(r5 - 5) as decimal(12, 2)) as varchar), '0'), '.')}
           ], lambda x: x.k < 0)) as prospect_reasons,
           list_sort(list_filter([
               {'k': -abs(s1), 'i': 1, 't': 'overdue_max_days -' || cast(abs(s1) as varchar)},
               {'k': -abs(s2), 'i': 2, 't': 'fraud_alerts_1y -' || cast(abs(s2) as varchar)},
               {'k': -abs(s3), 'i': 3, 't': 'security_flags_open -' || cast(abs(s3) as varchar)},
               {'k': -abs(s4), 'i': 4, 't': 'high_severity_open -' || cast(abs(s4) as varchar)}
           ], lambda x: x.k < 0)) as security_reasons,
           list_sort(list_filter([
               {'k': -abs(l1 - 17.5), 'i': 1, 't': 'nps_recent ' || case when l1 > 17.5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(l1 - 17.5) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(l2 - 7.5), 'i': 2, 't': 'satisfaction_recent ' || case when l2 > 7.5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(l2 - 7.5) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(l3 - 10), 'i': 3, 't': 'relationship_days ' || case when l3 > 10 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(l3 - 10) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(l4 - 7.5), 'i': 4, 't': 'open_products ' || case when l4 > 7.5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(l4 - 7.5) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(l5), 'i': 5, 't': 'referrals_made +' || cast(abs(l5) as varchar)},
               {'k': -abs(l6), 'i': 6, 't': 'referrals_qualified +' || cast(abs(l6) as varchar)}
           ], lambda x: x.k < 0)) as loyalty_reasons,
           list_sort(list_filter([
               {'k': -abs(w1 - 7.5), 'i': 1, 't': 'exit_reason ' || case when w1 > 7.5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(w1 - 7.5) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(w2 - 10), 'i': 2, 't': 'products_ever ' || case when w2 > 10 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(w2 - 10) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(w3 - 7.5), 'i': 3, 't': 'relationship_days ' || case when w3 > 7.5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(w3 - 7.5) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(w4 - 7.5), 'i': 4, 't': 'days_since_leaving ' || case when w4 > 7.5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(w4 - 7.5) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(w5 - 5), 'i': 5, 't': 'nps_recent ' || case when w5 > 5 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(w5 - 5) as decimal(12, 2)) as varchar), '0'), '.')}
           ], lambda x: x.k < 0)) as win_back_reasons,
           list_sort(list_filter([
               {'k': -abs(v1 - 13.47), 'i': 1, 't': 'declared_income ' || case when v1 > 13.47 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(v1 - 13.47) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(v2 - 7.28), 'i': 2, 't': 'age_years ' || case when v2 > 7.28 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(v2 - 7.28) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(v3 - 8.79), 'i': 3, 't': 'overdue_max_days ' || case when v3 > 8.79 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(v3 - 8.79) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(v4 - 7.24), 'i': 4, 't': 'loan_debt ' || case when v4 > 7.24 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(v4 - 7.24) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(v5 - 7.24), 'i': 5, 't': 'balance_total ' || case when v5 > 7.24 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(v5 - 7.24) as decimal(12, 2)) as varchar), '0'), '.')},
               {'k': -abs(v6 - 7.27), 'i': 6, 't': 'salary_count_recent ' || case when v6 > 7.27 then '+' else '-' end || rtrim(rtrim(cast(cast(abs(v6 - 7.27) as decimal(12, 2)) as varchar), '0'), '.')}
           ], lambda x: x.k < 0)) as solvency_reasons
    from pts
), graded as (
    select *,
           case when current_score >= 80 then 'A' when current_score >= 60 then 'B' when current_score >= 40 then 'C'
                when current_score >= 20 then 'D' else 'E' end as current_grade,
           case when prospect_score >= 80 then 'A' when prospect_score >= 60 then 'B' when prospect_score >= 40 then 'C'
                when prospect_score >= 20 then 'D' else 'E' end as prospect_grade,
           case when security_score >= 90 then 'A' when security_score >= 75 then 'B' when security_score >= 50 then 'C'
                when security_score >= 25 then 'D' else 'E' end as security_grade,
           case when loyalty_score is null then 'insufficient data' when loyalty_score >= 80 then 'A'
                when loyalty_score >= 60 then 'B' when loyalty_score >= 40 then 'C'
                when loyalty_score >= 20 then 'D' else 'E' end as loyalty_grade,
           case when win_back_score is null then 'insufficient data' when win_back_score >= 80 then 'A'
                when win_back_score >= 60 then 'B' when win_back_score >= 40 then 'C'
                when win_back_score >= 20 then 'D' else 'E' end as win_back_grade,
           case when solvency_score >= 80 then 'A' when solvency_score >= 60 then 'B' when solvency_score >= 40 then 'C'
                when solvency_score >= 20 then 'D' else 'E' end as solvency_grade
    from scored
), phased as (
    select *,
           case
               when products_ever = 0 then 'recruitment'
               when open_products = 0 then 'divorce'
               when returned_after_leaving and days_since_return <= 180 then 'win_back'
               when open_recovery_cases > 0 or failed_cases_recent > 0
                    or complaints_care_window > cases_opened_care_window then 'intensive_care'
               -- one strong sign, or two weak ones together
               when activity_drop or complaints_activity_window > cases_opened_activity_window
                    or (case when salary_stopped then 1 else 0 end)
                       + (case when products_closed_recent > 0 then 1 else 0 end)
                       + (case when p_alive < 0.3 then 1 else 0 end)
                       + (case when other_bank_outflow_recent >= 100000
                                    or outflow_recent - inflow_recent >= 300000 then 1 else 0 end)
                       >= 2 then 'potential_divorce'
               when relationship_days <= 90 then 'welcome'
               when relationship_days <= 365 then 'getting_to_know'
               else 'customer_management'
           end as phase
    from graded
)
select date '{as_of}' as as_of, customer_id, segment, need,
       current_score, current_grade, current_reasons[1].t as current_reason_1,
       current_reasons[2].t as current_reason_2, current_reasons[3].t as current_reason_3,
       prospect_score, prospect_grade, prospect_reasons[1].t as prospect_reason_1,
       prospect_reasons[2].t as prospect_reason_2, prospect_reasons[3].t as prospect_reason_3,
       security_score, security_grade, security_reasons[1].t as security_reason_1,
       security_reasons[2].t as security_reason_2, security_reasons[3].t as security_reason_3,
       loyalty_score, loyalty_grade,
       case when surveys_recent > 0 then loyalty_reasons[1].t
            else 'no survey answer within the survey validity period; the customer is due for a survey' end as loyalty_reason_1,
       case when surveys_recent > 0 then loyalty_reasons[2].t end as loyalty_reason_2,
       case when surveys_recent > 0 then loyalty_reasons[3].t end as loyalty_reason_3,
       win_back_score, win_back_grade,
       case when products_ever > 0 and open_products = 0 then win_back_reasons[1].t
            else 'holds products with the bank; nothing to win back' end as win_back_reason_1,
       case when products_ever > 0 and open_products = 0 then win_back_reasons[2].t end as win_back_reason_2,
       case when products_ever > 0 and open_products = 0 then win_back_reasons[3].t end as win_back_reason_3,
       solvency_score, solvency_grade, solvency_reasons[1].t as solvency_reason_1,
       solvency_reasons[2].t as solvency_reason_2, solvency_reasons[3].t as solvency_reason_3,
       case
           when need = 'preservation' and not holds_deposit_keep and balance_total >= 100000 then 'deposit_keep'
           when need = 'regular_income' and not holds_deposit_income then 'deposit_income'
           when need = 'accumulation' and not holds_deposit_grow then 'deposit_grow'
           when need in ('preservation', 'accumulation') and not holds_premium_card and segment = 'status'
                and security_grade in ('A', 'B') then 'premium_card'
           when need = 'accumulation' and not holds_car_loan and security_grade in ('A', 'B', 'C')
                and solvency_grade in ('A', 'B', 'C') then 'car_loan'
           when need = 'regular_income' and not holds_consumer_loan and segment in ('regular', 'status', 'social')
                and security_grade in ('A', 'B') and solvency_grade in ('A', 'B') then 'consumer_loan'
           when need = 'accumulation' and not holds_salary_card and segment <> 'social' then 'salary_card'
       end as next_best_product,
       case
           when need = 'preservation' and not holds_deposit_keep and balance_total >= 100000 then 'Deposit «Keep»'
           when need = 'regular_income' and not holds_deposit_income then 'Deposit «Income»'
           when need = 'accumulation' and not holds_deposit_grow then 'Deposit «Grow»'
           when need in ('preservation', 'accumulation') and not holds_premium_card and segment = 'status'
                and security_grade in ('A', 'B') then 'Premium card'
           when need = 'accumulation' and not holds_car_loan and security_grade in ('A', 'B', 'C')
                and solvency_grade in ('A', 'B', 'C') then 'Car loan'
           when need = 'regular_income' and not holds_consumer_loan and segment in ('regular', 'status', 'social')
                and security_grade in ('A', 'B') and solvency_grade in ('A', 'B') then 'Consumer loan'
           when need = 'accumulation' and not holds_salary_card and segment <> 'social' then 'Salary project card'
       end || ' serves the customer''s need ''' || need || ''', is open to them and not held yet' as next_best_reason,
       case
           when not holds_car_loan and security_grade in ('A', 'B', 'C') and solvency_grade in ('A', 'B', 'C')
                and consumer_loan_debt > 0 and consumer_loan_debt < 300000 and declared_income >= 60000
                and car_age_years >= 8 then 'car_loan'
           when not holds_consumer_loan and segment in ('regular', 'status', 'social') and security_grade in ('A', 'B')
                and solvency_grade in ('A', 'B') and salary_count_recent >= 3 and open_loans = 0 then 'consumer_loan'
       end as lead_product,
       case
           when not holds_car_loan and security_grade in ('A', 'B', 'C') and solvency_grade in ('A', 'B', 'C')
                and consumer_loan_debt > 0 and consumer_loan_debt < 300000 and declared_income >= 60000
                and car_age_years >= 8 then 'retail_lending'
           when not holds_consumer_loan and segment in ('regular', 'status', 'social') and security_grade in ('A', 'B')
                and solvency_grade in ('A', 'B') and salary_count_recent >= 3 and open_loans = 0 then 'retail_lending'
       end as lead_department,
       segment = 'status' as svc_personal_manager,
       segment = 'status' or current_grade in ('A', 'B') as svc_priority_queue,
       segment in ('status', 'regular') and solvency_grade in ('A', 'B', 'C') as svc_free_transfers,
       segment = 'social' as svc_pension_bonus_rate,
       loyalty_grade = 'A' or (segment = 'status' and loyalty_grade = 'B') as svc_loyalty_gold,
       loyalty_grade in ('B', 'C') and not (segment = 'status' and loyalty_grade = 'B') as svc_loyalty_silver,
       phase = 'customer_management' and referrals_qualified >= 1 as svc_advocate_bonus,
       * exclude (customer_id, segment, need, c1, c2, c3, c4, r1, r2, r3, r4, r5, s1, s2, s3, s4,
                  l1, l2, l3, l4, l5, l6, w1, w2, w3, w4, w5, v1, v2, v3, v4, v5, v6,
                  current_reasons, prospect_reasons, security_reasons, loyalty_reasons,
                  win_back_reasons, solvency_reasons, current_score, prospect_score,
                  security_score, loyalty_score, win_back_score, solvency_score, current_grade,
                  prospect_grade, security_grade, loyalty_grade, win_back_grade, solvency_grade)
from phased;

-- The first run's entitlements (nothing held before) and their events.
create or replace table entitlements_hand as
select date '{as_of}' as as_of, customer_id, service, kind, date '{as_of}' as granted_on,
       date '{as_of}' as last_qualified_on, true as qualified,
       date '{as_of}' + grace_days as kept_until, reason
from (unpivot (select customer_id, svc_personal_manager as personal_manager,
                      svc_priority_queue as priority_queue, svc_free_transfers as free_transfers,
                      svc_pension_bonus_rate as pension_bonus_rate, svc_loyalty_gold as loyalty_gold,
                      svc_loyalty_silver as loyalty_silver, svc_advocate_bonus as advocate_bonus
               from profiles_hand)
      on personal_manager, priority_queue, free_transfers, pension_bonus_rate, loyalty_gold,
         loyalty_silver, advocate_bonus into name service value qualifies) u
join (values ('personal_manager', 180, 'service', 'segment = ''status'''),
             ('priority_queue', 90, 'service', 'segment = ''status'' or current_grade in (''A'', ''B'')'),
             ('free_transfers', 90, 'benefit', 'segment in (''status'', ''regular'') and solvency_grade in (''A'', ''B'', ''C'')'),
             ('pension_bonus_rate', 90, 'benefit', 'segment = ''social'''),
             ('loyalty_gold', 90, 'loyalty_level', 'loyalty_grade = ''A'' or (segment = ''status'' and loyalty_grade = ''B'')'),
             ('loyalty_silver', 90, 'loyalty_level', 'loyalty_grade in (''B'', ''C'') and not (segment = ''status'' and loyalty_grade = ''B'')'),
             ('advocate_bonus', 90, 'benefit', 'phase = ''customer_management'' and referrals_qualified >= 1'))
     g(service, grace_days, kind, reason) using (service)
where qualifies;

create or replace table entitlement_events_hand as
select as_of, customer_id, service, 'granted' as event, cast(null as date) as kept_until,
       'qualifies: ' || reason as reason
from entitlements_hand;
alter table entitlements_hand drop column reason;
