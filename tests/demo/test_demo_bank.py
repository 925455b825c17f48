"""The demo bank: deterministic, chunk-independent, consistent, realistic enough."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from clientlens.demo.generator import generate_bank
from clientlens.model.tables import ACCOUNT_SUBTYPES
from clientlens.model.tables import TABLES as ALL_TABLES

# The bank's exports; cases and departures are recorded in clientlens itself.
TABLES = {n: t for n, t in ALL_TABLES.items() if t.origin == "import"}


AS_OF = dt.date(2026, 10, 31)
N = 3000


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bank")
    generate_bank(out, customers=N, seed=7, as_of=AS_OF, bad_rows=5, chunk_size=1000)
    return out


def con_for(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in TABLES:
        con.execute(f"create view {name} as select * from '{folder}/{name}_0*.parquet'")
    return con


def fingerprint(folder: Path) -> dict[str, tuple]:
    con = con_for(folder)
    out = {}
    for name, table in TABLES.items():
        cols = ", ".join(table.column_names)
        out[name] = con.execute(f"select count(*), sum(hash({cols})) from {name}").fetchone()
    return out


def test_same_seed_same_bank_in_any_chunking(bank: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_bank(again, customers=N, seed=7, as_of=AS_OF, chunk_size=N)
    assert fingerprint(again) == fingerprint(bank)
    assert len(list(bank.glob("customers_*.parquet"))) == 3  # chunked in three parts
    other = tmp_path / "other"
    generate_bank(other, customers=N, seed=8, as_of=AS_OF)
    assert fingerprint(other)["transactions"] != fingerprint(bank)["transactions"]


def test_rows_respect_the_data_model(bank: Path) -> None:
    con = con_for(bank)
    for name, table in TABLES.items():
        described = dict(con.execute(f"select column_name, column_type from (describe {name})")
                         .fetchall())
        assert list(described) == list(table.column_names), name
        for col in table.columns:
            if col.required:
                assert con.execute(f"select count(*) from {name} where {col.name} is null"
                                   ).fetchone()[0] == 0, (name, col.name)
            if col.allowed:
                values = {r[0] for r in con.execute(f"select distinct {col.name} from {name}")
                          .fetchall()}
                assert values <= set(col.allowed), (name, col.name, values - set(col.allowed))
        key = table.primary_key
        assert con.execute(f"select count(*) - count(distinct {key}) from {name}"
                           ).fetchone()[0] == 0
    pairs = con.execute("select distinct account_type, subtype from accounts").fetchall()
    assert all(sub in ACCOUNT_SUBTYPES[kind] for kind, sub in pairs)
    checks = {
        "account of unknown customer": "select count(*) from accounts anti join customers "
                                       "using (customer_id)",
        "transaction on another's account": "select count(*) from transactions t join "
                                            "accounts a using (account_id) where "
                                            "a.customer_id <> t.customer_id",
        "closed before opened": "select count(*) from accounts where closed_on < opened_on",
        "opened before registration": "select count(*) from accounts join customers using "
                                      "(customer_id) where opened_on < registered_on",
        "activity after as-of": f"select count(*) from transactions where ts >= date "
                                f"'{AS_OF + dt.timedelta(days=1)}'",
        "activity after closing": "select count(*) from transactions join accounts using "
                                  "(account_id) where ts >= closed_on + 1",
        "foreign balance not converted": "select count(*) from accounts where currency <> "
                                         "'RUB' and balance = balance_base and balance > 0",
    }
    for what, sql in checks.items():
        assert con.execute(sql).fetchone()[0] == 0, what


def test_shape_of_the_bank(bank: Path) -> None:
    con = con_for(bank)
    per_customer = con.execute("select (select count(*) from accounts) / (select count(*) "
                               "from customers), (select count(*) from transactions) / "
                               "(select count(*) from customers)").fetchone()
    assert 2.2 < per_customer[0] < 3.5
    assert 40 < per_customer[1] < 60
    totals = con.execute("""
        select customer_id, sum(balance_base) filter (where account_type <> 'loan'
            and closed_on is null) as total
        from accounts group by customer_id""").fetchall()
    balances = sorted(float(t or 0) for _, t in totals)
    median = balances[len(balances) // 2]
    affluent = sum(b >= 1_500_000 for b in balances) / N
    assert median < 300_000  # most balances are small...
    assert 0.01 < affluent < 0.08  # ...with a thin affluent tail
    assert balances[-1] > 10_000_000
    shares = dict(con.execute("""
        select kind, count(distinct customer_id) / (select count(*) from customers)
        from (select customer_id, 'salary' as kind from accounts where subtype =
              'salary_project'
              union all select customer_id, 'departed' from accounts group by customer_id
              having count(*) = count(closed_on)
              union all select customer_id, 'no accounts' from customers anti join accounts
              using (customer_id))
        group by kind""").fetchall())
    assert 0.25 < shares["salary"] < 0.45
    assert 0.04 < shares["departed"] < 0.12
    assert 0.002 < shares["no accounts"] < 0.03
    cyrillic = con.execute("select count(*) from customers where regexp_matches(full_name, "
                           "'[А-Яа-яЁё]')").fetchone()[0]
    assert cyrillic == N


def _with_truth(folder: Path) -> duckdb.DuckDBPyConnection:
    con = con_for(folder)
    con.execute(f"create view truth as select * from read_csv('{folder}/truth/truth_*.csv')")
    return con


def test_truth_is_deterministic_and_kept_apart(bank: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_bank(again, customers=N, seed=7, as_of=AS_OF, chunk_size=N)
    read = "select * from read_csv('{}/truth/truth_*.csv') order by customer_id"
    assert duckdb.sql(read.format(again)).fetchall() == duckdb.sql(read.format(bank)).fetchall()
    con = _with_truth(bank)
    assert con.execute("select count(*) from truth").fetchone()[0] == N
    # the importer reads the folder's own files only: nothing named truth there
    assert not list(bank.glob("truth*.*"))


def test_salaries_arrive_monthly_on_the_customers_payday(bank: Path) -> None:
    """Within a few days of the payday (or of the day after a job change), one a month."""
    con = _with_truth(bank)
    off, per_month = con.execute("""
        with s as (
            select t.customer_id, cast(t.ts as date) as day, r.salary_payday,
                   r.job_change_on
            from transactions t join truth r using (customer_id)
            where t.kind = 'salary' and r.job_change_on is null)
        select count(*) filter (where abs(day(day) - salary_payday) > 2
                                and abs(day(day) - salary_payday) < 26),
               max(n)
        from s join (select customer_id, date_trunc('month', day) as m, count(*) as n
                     from s group by all) c
             on c.customer_id = s.customer_id and c.m = date_trunc('month', s.day)
    """).fetchone()
    assert off == 0  # month ends wrap: day 1 with payday 28 is within the jitter
    assert per_month <= 2


def test_leavers_warn_before_they_go(bank: Path) -> None:
    """A leaver's products are all closed by the day the truth says, and most show a
    sign in the three months before: a complaint, the salary stopping, or money sent
    to another bank."""
    con = _with_truth(bank)
    rows = con.execute(f"""
        select r.customer_id, r.fate_reason,
            (select max(closed_on) from accounts a where a.customer_id = r.customer_id),
            (select count(*) from accounts a where a.customer_id = r.customer_id
                 and a.closed_on is null),
            exists (select 1 from interactions i where i.customer_id = r.customer_id
                    and i.kind = 'complaint' and cast(i.ts as date) between r.fate_on - 100
                    and r.fate_on),
            exists (select 1 from transactions t where t.customer_id = r.customer_id
                    and t.kind = 'transfer_other_bank' and cast(t.ts as date)
                    between r.fate_on - 30 and r.fate_on)
        from truth r where r.fate = 'leaves' and r.fate_on <= date '{AS_OF}'""").fetchall()
    assert len(rows) > 50
    for cid, _, last_closed, still_open, _, _ in rows:
        assert still_open == 0, cid
        assert last_closed is not None
    dissatisfied = [r for r in rows if r[1] == "dissatisfaction"]
    assert sum(r[4] for r in dissatisfied) >= 0.9 * len(dissatisfied)
    movers = [r for r in rows if r[1] in ("moved", "employer_changed")]
    assert sum(r[5] for r in movers) >= 0.8 * len(movers)


def test_savings_behaviour_follows_the_true_need(bank: Path) -> None:
    """Savers top up monthly (here or at another bank), income customers get interest
    or a pension monthly; a preserver does neither."""
    con = _with_truth(bank)
    shares = {need: (topups, income) for need, topups, income in con.execute("""
        with b as (
            select r.customer_id, r.true_need,
                count(*) filter (where t.kind in ('cash_deposit', 'transfer_other_bank')
                                 and t.ts >= date '2026-05-01') as topups,
                count(*) filter (where t.kind in ('interest', 'pension')
                                 and t.ts >= date '2026-05-01') as income
            from truth r join transactions t using (customer_id)
            where r.fate = 'stays' and r.archetype not in ('prospect', 'departed')
            group by all)
        select true_need, avg((topups >= 3)::int), avg((income >= 3)::int) from b
        group by all""").fetchall()}
    assert shares["accumulation"][0] > 0.8
    assert shares["regular_income"][1] > 0.8
    assert shares["preservation"][0] < 0.1 and shares["preservation"][1] < 0.2


def test_branch_export_is_cp1251_with_semicolons_and_broken_rows(bank: Path) -> None:
    raw = (bank / "accounts_branch_export.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1251")
    header = text.splitlines()[0]
    assert header.split(";") == list(TABLES["accounts"].column_names)
    assert "Вклад «Рост»" in text and "12x,5" in text and "C99999999" in text
