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


def test_branch_export_is_cp1251_with_semicolons_and_broken_rows(bank: Path) -> None:
    raw = (bank / "accounts_branch_export.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1251")
    header = text.splitlines()[0]
    assert header.split(";") == list(TABLES["accounts"].column_names)
    assert "Вклад «Рост»" in text and "12x,5" in text and "C99999999" in text
