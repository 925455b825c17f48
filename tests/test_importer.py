"""Importing bank exports: encodings, dialects, quarantine, idempotency, atomicity."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.errors import ClientlensError, ImportFileError
from clientlens.services.importer import import_directory, import_file, table_for_file

CUSTOMERS_CP1251 = (
    "customer_id;full_name;customer_type;registered_on;birth_date;city;"
    "declared_monthly_income;owns_car;car_year\r\n"
    "C1;Иванова Мария Петровна;retail;01.03.2019;02.05.1960;Казань;85 000,50;да;2006\r\n"
    "C2;Пётр Щукин;retail;2018-01-01;;Москва;;нет;\r\n"
    "C3;ООО «Ромашка»;business;2018-01-01;;;;;\r\n"
    "C4;Без даты;retail;;;;;;\r\n"
    "C5;Плохой доход;retail;2020-01-01;;;сто тысяч;;\r\n"
    "C6;Странный тип;vip;2020-01-01;;;;;\r\n"
    "C7;Машина;retail;2020-01-01;;;;да;1812\r\n"
)

ACCOUNTS_UTF8 = (
    "account_id,customer_id,account_type,subtype,product_code,currency,opened_on,closed_on,"
    "balance,balance_base\n") + """A1,C1,deposit,term,Вклад «Рост»,RUB,2020-01-01,,1120000.00,
A2,C1,card,social,,RUB,2020-01-01,,15000.10,
A3,C2,deposit,savings,,USD,2021-01-01,,1000.00,92500.00
A4,C9,card,debit,,RUB,2020-01-01,,1.00,
A5,C2,card,debit,,RUB,2021-05-02,2020-01-01,0,
A6,C2,card,term,,RUB,2021-05-02,,0,
A7,C2,deposit,term,,USD,2021-05-02,,10,
A8,C2,card,debit,,RUB,2021-05-02,,0,
A8,C2,card,debit,,RUB,2021-05-02,,0,
A9,C2,card,debit,,rubles,2021-05-02,,0,
"""


@pytest.fixture
def engine(tmp_path: Path) -> DuckDBEngine:
    eng = DuckDBEngine(tmp_path / "warehouse.duckdb")
    yield eng
    eng.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def quarantine(engine: DuckDBEngine) -> dict[int, str]:
    return dict(engine.fetch_all("select row_number, reason from quarantine"))


def test_cp1251_semicolons_decimal_commas_and_russian_dates(engine: DuckDBEngine,
                                                            tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", CUSTOMERS_CP1251, "cp1251")
    report = import_file(engine, "customers", path)
    assert report.encoding == "cp1251"
    assert report.rows_read == 7
    assert report.rows_read == report.rows_loaded + report.rows_updated + report.rows_quarantined
    rows = {r[0]: r for r in engine.fetch_all(
        "select customer_id, full_name, registered_on, birth_date, declared_monthly_income, "
        "owns_car, car_year from customers")}
    assert rows["C1"] == ("C1", "Иванова Мария Петровна", dt.date(2019, 3, 1),
                          dt.date(1960, 5, 2), Decimal("85000.50"), True, 2006)
    assert rows["C2"][5] is False and rows["C2"][4] is None
    assert rows["C3"][1] == "ООО «Ромашка»"
    q = quarantine(engine)
    # Lines count from the header (line 1).
    assert q[5] == "required column registered_on is empty"
    assert q[6] == "column declared_monthly_income: 'сто тысяч' is not a valid decimal"
    assert q[7].startswith("customer_type 'vip' is not one of retail, business")
    assert q[8] == "car_year 1812 is not a plausible year"
    assert report.rows_quarantined == 4
    # The refused row is kept as it was written, for the bank to correct and resend.
    raw = engine.fetch_all("select raw_row from quarantine where row_number = 6")[0][0]
    assert json.loads(raw)["declared_monthly_income"] == "сто тысяч"


def test_every_bad_account_row_is_quarantined_with_its_reason(engine: DuckDBEngine,
                                                              tmp_path: Path) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    report = import_file(engine, "accounts", write(tmp_path / "accounts.csv", ACCOUNTS_UTF8))
    assert report.encoding == "utf-8"
    q = quarantine(engine)
    assert q[5] == "unknown customer_id C9 (not in customers)"
    assert q[6] == "closed_on 2020-01-01 is before opened_on 2021-05-02"
    assert q[7] == "subtype term is not allowed for account_type card"
    assert q[8] == "balance_base is required when currency USD is not the base currency RUB"
    assert q[10] == "duplicate account_id A8 (also on line 9)"
    # Every reason a row fails is listed, not only the first.
    assert q[11].split("; ") == [
        "currency must be a 3-letter code like RUB",
        "balance_base is required when currency rubles is not the base currency RUB"]
    loaded = dict(engine.fetch_all("select account_id, balance_base from accounts"))
    assert loaded == {"A1": Decimal("1120000.00"), "A2": Decimal("15000.10"),
                      "A3": Decimal("92500.00"), "A8": Decimal("0.00")}
    assert engine.fetch_all("select product_code from accounts where account_id = 'A1'") == \
        [("Вклад «Рост»",)]
    assert report.rows_loaded == 4 and report.rows_quarantined == 6


def test_transactions_must_belong_to_the_accounts_owner(engine: DuckDBEngine,
                                                        tmp_path: Path) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    import_file(engine, "accounts", write(tmp_path / "accounts.csv", ACCOUNTS_UTF8))
    tx = write(tmp_path / "transactions.csv",
               "transaction_id;account_id;customer_id;ts;amount;kind;channel\n"
               "T1;A2;C1;31.10.2026 14:05;-1 250,00;purchase;pos\n"
               "T2;A2;C2;2026-10-31 10:00:00;10,00;salary;system\n"
               "T3;A404;C1;2026-10-31 10:00:00;10,00;salary;system\n"
               "T4;A2;C1;вчера;10,00;salary;system\n"
               "T5;A2;C1;2026-10-31 10:00:00;10,00;salary;teleport\n")
    report = import_file(engine, "transactions", tx)
    q = quarantine(engine)
    assert q[3] == "customer_id C2 does not own account A2"
    assert q[4] == "unknown account_id A404 (not in accounts)"
    assert q[5] == "column ts: 'вчера' is not a valid timestamp"
    assert q[6].startswith("channel 'teleport' is not one of branch, atm")
    assert engine.fetch_all("select ts, amount from transactions") == [
        (dt.datetime(2026, 10, 31, 14, 5), Decimal("-1250.00"))]
    assert report.rows_loaded == 1


def test_reimporting_the_same_file_changes_nothing(engine: DuckDBEngine, tmp_path: Path
                                                   ) -> None:
    path = write(tmp_path / "customers.csv", CUSTOMERS_CP1251, "cp1251")
    import_file(engine, "customers", path)
    before = engine.fetch_all("select count(*) from customers")[0][0]
    quarantined = engine.fetch_all("select count(*) from quarantine")[0][0]
    again = import_file(engine, "customers", path)
    assert again.already_imported
    assert engine.fetch_all("select count(*) from customers")[0][0] == before
    assert engine.fetch_all("select count(*) from quarantine")[0][0] == quarantined


def test_rows_arriving_again_in_another_file_update_not_duplicate(engine: DuckDBEngine,
                                                                  tmp_path: Path) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    update = write(tmp_path / "customers_2.csv",
                   "customer_id,full_name,customer_type,registered_on,city\n"
                   "C1,Иванова Мария Петровна,retail,2019-03-01,Самара\n"
                   "C8,Новый Клиент,retail,2026-10-01,Тула\n")
    report = import_file(engine, "customers", update)
    assert (report.rows_loaded, report.rows_updated) == (1, 1)
    assert engine.fetch_all("select count(*) from customers where customer_id = 'C1'") == [(1,)]
    assert engine.fetch_all("select city from customers where customer_id = 'C1'") == \
        [("Самара",)]


def test_a_failure_half_way_leaves_the_warehouse_as_it_was(engine: DuckDBEngine,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    before = engine.fetch_all("select * from customers order by customer_id")
    log_before = engine.fetch_all("select count(*) from import_log")
    real_execute = duckdb.DuckDBPyConnection.execute
    calls = {"n": 0}

    class Boom(RuntimeError):
        pass

    def failing(con, sql, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if sql.lstrip().startswith("insert into \"customers\""):
            calls["n"] += 1
            raise Boom("disk full")
        return real_execute(con, sql, *args, **kwargs)

    proxy = _ConnectionProxy(engine.con, failing)
    monkeypatch.setattr(engine, "con", proxy)
    update = write(tmp_path / "customers_2.csv",
                   "customer_id,full_name,customer_type,registered_on\n"
                   "C1,Changed,retail,2019-03-01\nC9,New,retail,2020-01-01\n")
    with pytest.raises(Boom):
        import_file(engine, "customers", update)
    monkeypatch.undo()
    assert calls["n"] == 1
    assert engine.fetch_all("select * from customers order by customer_id") == before
    assert engine.fetch_all("select count(*) from import_log") == log_before


class _ConnectionProxy:
    """Forwards to a DuckDB connection, but lets a test intercept execute()."""

    def __init__(self, con: duckdb.DuckDBPyConnection, execute) -> None:  # noqa: ANN001
        self._con = con
        self._execute = execute

    def execute(self, sql: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return self._execute(self._con, sql, *args, **kwargs)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._con, name)


def test_parquet_input_is_checked_too(engine: DuckDBEngine, tmp_path: Path) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    path = tmp_path / "accounts.parquet"
    duckdb.sql("""copy (select * from (values
        ('P1', 'C1', 'card', 'debit', null, 'RUB', date '2020-01-01', null, 10.5::decimal(18,2),
         null::decimal(18,2)),
        ('P2', 'C404', 'card', 'debit', null, 'RUB', date '2020-01-01', null, 1::decimal(18,2),
         null::decimal(18,2))
        ) t(account_id, customer_id, account_type, subtype, product_code, currency, opened_on,
            closed_on, balance, balance_base)) to '""" + str(path) + "' (format parquet)")
    report = import_file(engine, "accounts", path)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    assert quarantine(engine)[2] == "unknown customer_id C404 (not in customers)"
    assert engine.fetch_all("select balance_base from accounts") == [(Decimal("10.50"),)]


def test_broken_lines_are_quarantined_not_lost(engine: DuckDBEngine, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv",
                 "customer_id,full_name,customer_type,registered_on\n"
                 "C1,Один,retail,2020-01-01\n"
                 "C2,Два,retail,2020-01-01,extra,fields\n"
                 "C3,Три,retail,2020-01-01\n")
    report = import_file(engine, "customers", path)
    assert report.rows_read == 3
    assert report.rows_loaded == 2 and report.rows_quarantined == 1
    q = quarantine(engine)
    assert list(q) == [3] and q[3].startswith("line cannot be read")
    lines = dict(engine.fetch_all("select customer_id, 1 from customers"))
    assert set(lines) == {"C1", "C3"}


@pytest.mark.parametrize("header, message", [
    ("customer_id,full_nam,customer_type,registered_on", "Did you mean 'full_name'?"),
    ("customer_id,customer_type,registered_on", "missing required column(s) full_name"),
    ("customer_id,full_name,customer_type,registered_on,customer_id", "appears twice"),
])
def test_header_problems_stop_the_file_with_one_message(engine: DuckDBEngine, tmp_path: Path,
                                                        header: str, message: str) -> None:
    path = write(tmp_path / "customers.csv", header + "\nC1,A,retail,2020-01-01\n")
    with pytest.raises(ClientlensError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_file(engine, "customers", path)
    assert engine.fetch_all("select count(*) from customers") == [(0,)]


def test_file_names_choose_tables_and_folders_import_parents_first(engine: DuckDBEngine,
                                                                   tmp_path: Path) -> None:
    assert table_for_file(Path("accounts_2026-10.csv")) == "accounts"
    assert table_for_file(Path("transactions-part1.parquet")) == "transactions"
    with pytest.raises(ImportFileError, match="cannot tell the table"):
        table_for_file(Path("clients.csv"))
    folder = tmp_path / "exports"
    folder.mkdir()
    write(folder / "accounts.csv", ACCOUNTS_UTF8)
    write(folder / "customers.csv", CUSTOMERS_CP1251, "cp1251")
    reports = import_directory(engine, folder)
    assert [r.table for r in reports] == ["customers", "accounts"]
    assert reports[1].rows_loaded == 4  # accounts saw the customers imported first


def test_unknown_file_types_and_encodings_are_refused(engine: DuckDBEngine, tmp_path: Path
                                                      ) -> None:
    with pytest.raises(ImportFileError, match="unknown file type"):
        import_file(engine, "customers", write(tmp_path / "customers.xlsx", "x"))
    with pytest.raises(ImportFileError, match="unknown encoding"):
        import_file(engine, "customers", write(tmp_path / "customers.csv", "a,b\n"),
                    encoding="koi8")
    with pytest.raises(ImportFileError, match="unknown table 'acounts'. Did you mean"):
        import_file(engine, "acounts", write(tmp_path / "x.csv", "a,b\n"))
