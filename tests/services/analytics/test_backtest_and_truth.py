"""The early warning and the needs, measured: the backtest command against an
independent count from the warehouse, and the demo bank's hidden truth against the
issue's goals (figures and how they were measured: docs/backtests.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from clientlens.services.workspace import jobs

DATES = (dt.date(2026, 6, 30), dt.date(2026, 7, 31))


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backtest") / "bank"
    jobs.demo(root, customers=3000, seed=11)
    jobs.backfill(root, DATES[0], DATES[1], "month")
    return root


def _truth_frame(root: Path, con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create temp view truth as select * from "
                f"read_csv('{root}/demo-data/truth/*.csv')")


def test_backtest_counts_match_an_independent_reading(bank: Path) -> None:
    result = jobs.backtest_early_warning(bank, DATES[0], DATES[1], horizon_days=90)
    assert result.dates == list(DATES)
    con = duckdb.connect(str(bank / "warehouse.duckdb"), read_only=True)
    population = positives = flagged = hits = 0
    for day in DATES:
        end = day + dt.timedelta(days=90)
        rows = con.execute("""
            with open_then as (
                select distinct customer_id from accounts
                where opened_on <= ? and (closed_on is null or closed_on > ?)),
            active as (
                select distinct customer_id from transactions
                where cast(ts as date) > ? and cast(ts as date) <= ?),
            open_after as (
                select distinct customer_id from accounts
                where opened_on <= ? and (closed_on is null or closed_on > ?)),
            active_after as (
                select distinct customer_id from transactions
                where cast(ts as date) > ? and cast(ts as date) <= ?)
            select p.phase = 'potential_divorce',
                   p.customer_id not in (select * from open_after)
                   or p.customer_id not in (select * from active_after)
            from profiles p
            where p.as_of = ? and p.customer_id in (select * from open_then)
              and p.customer_id in (select * from active)""",
            [day, day, day - dt.timedelta(days=60), day, end, end,
             end - dt.timedelta(days=60), end, day]).fetchall()
        population += len(rows)
        positives += sum(w for _, w in rows)
        flagged += sum(f for f, _ in rows)
        hits += sum(f and w for f, w in rows)
    con.close()
    assert (result.population, result.positives) == (population, positives)
    phase = result.signals[0]
    assert (phase.flagged, phase.hits) == (flagged, hits)
    names = [s.name for s in result.signals]
    assert "activity_drop" in names and "salary_stopped" in names  # a counted sign


def test_the_truth_file_is_never_imported(bank: Path) -> None:
    truth = sorted((bank / "demo-data" / "truth").glob("truth_*.csv"))
    assert truth
    con = duckdb.connect(str(bank / "warehouse.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables")
              .fetchall()}
    con.close()
    assert not any("truth" in t for t in tables)


def test_needs_agree_with_the_hidden_truth(bank: Path) -> None:
    """Goals of issue 15: a need for >= 85% of active customers, agreeing with the true
    need for >= 80% of them; next-best offered to >= 70% of those with a need."""
    con = duckdb.connect(str(bank / "warehouse.duckdb"), read_only=True)
    _truth_frame(bank, con)
    determined, agree, offered = con.execute("""
        select avg((need <> 'undetermined')::int),
               avg((need = true_need)::int) filter (where need <> 'undetermined'),
               avg((next_best_product is not null)::int) filter (where need <> 'undetermined')
        from profiles join truth using (customer_id)
        where as_of = date '2026-10-31' and open_products > 0 and tx_count_recent > 0""").fetchone()
    con.close()
    assert determined >= 0.85
    assert agree >= 0.80
    assert offered >= 0.70


def test_early_warning_against_the_hidden_truth(bank: Path) -> None:
    """Flags at most 8% of active customers holding a product, with precision at least
    3x the base rate of leaving or going dormant within 90 days. Recall is recorded in
    docs/backtests.md (about 35-40% on this demo, short of the issue's 60%): only a
    floor that guards against the rule getting worse is asserted."""
    con = duckdb.connect(str(bank / "warehouse.duckdb"), read_only=True)
    _truth_frame(bank, con)
    n, base, flagged, precision, recall = con.execute("""
        with p as (
            select phase = 'potential_divorce' as flag,
                   fate in ('leaves', 'goes_dormant') and fate_on > as_of
                       and fate_on <= as_of + 90 as pos
            from profiles join truth using (customer_id)
            where as_of = date '2026-07-31' and open_products > 0 and tx_count_recent > 0)
        select count(*), avg(pos::int), avg(flag::int), avg(pos::int) filter (where flag),
               avg(flag::int) filter (where pos)
        from p""").fetchone()
    con.close()
    assert n > 2000
    assert flagged <= 0.08
    assert precision >= 3 * base
    assert recall >= 0.25


# The default catalogue's ``holds`` conditions, written out by hand.
HOLDS = {
    "deposit_keep": "product_code = 'DEP-KEEP'", "deposit_income": "product_code = 'DEP-INCOME'",
    "deposit_grow": "product_code = 'DEP-GROW'", "premium_card": "product_code = 'CARD-PREMIUM'",
    "car_loan": "account_type = 'loan' and subtype = 'car'",
    "consumer_loan": "account_type = 'loan' and subtype = 'consumer'",
    "salary_card": "account_type = 'card' and subtype = 'salary_project'",
}


def test_next_best_backtest_counts_match_an_independent_reading(bank: Path) -> None:
    result = jobs.backtest_offers(bank, DATES[0], DATES[1], horizon_days=90)
    con = duckdb.connect(str(bank / "warehouse.duckdb"), read_only=True)
    opened_case = " ".join(f"when p.next_best_product = '{pid}' then {cond}"
                           for pid, cond in HOLDS.items())
    population = offered = opened = 0
    for day in DATES:
        end = day + dt.timedelta(days=90)
        n, o, hit = con.execute(f"""
            select count(*), count(next_best_product),
                count(*) filter (where exists (
                    select 1 from accounts a where a.customer_id = p.customer_id
                    and a.opened_on > ? and a.opened_on <= ?
                    and case {opened_case.replace('product_code', 'a.product_code')
                             .replace('account_type', 'a.account_type')
                             .replace('subtype', 'a.subtype')} else false end))
            from profiles p
            where p.as_of = ? and p.need <> 'undetermined'
              and p.customer_id in (select customer_id from accounts where opened_on <= ?
                                    and (closed_on is null or closed_on > ?))""",
                                [day, end, day, day, day]).fetchone()
        population, offered, opened = population + n, offered + o, opened + hit
    con.close()
    assert (result.population, result.offered, result.opened_offered) == \
        (population, offered, opened)
    assert sum(p.offered for p in result.products) == offered
    assert len({p.product for p in result.products if p.offered}) >= 4  # not one for all


def test_backtest_commands_print_a_table_and_a_chart(bank: Path) -> None:
    from typer.testing import CliRunner

    from clientlens.faces.cli import app

    for command, expect in (("early-warning", "activity_drop"), ("next-best", "lift"),
                            ("needs", "serving the need")):
        res = CliRunner().invoke(app, ["backtest", command, "-w", str(bank), "--from",
                                       str(DATES[0]), "--to", str(DATES[1])],
                                 env={"COLUMNS": "120"})
        assert res.exit_code == 0, res.output
        assert expect in res.output and "▇" in res.output
    res = CliRunner().invoke(app, ["backtest", "early-warning", "-w", str(bank), "--from",
                                   "2026-10-31", "--to", "2026-10-31"])
    assert res.exit_code == 1
    assert "horizon inside the data" in res.output
