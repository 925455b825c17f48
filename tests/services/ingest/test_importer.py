"""Importing bank exports: encodings, dialects, quarantine, idempotency, atomicity.

Files are written by the tests themselves, in the bytes a bank's system would
produce (Windows-1251 with ';' and decimal commas, UTF-8 with ',' or a BOM).
CSV rows are numbered as in a text editor: the header is line 1.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.errors import ImportFileError
from clientlens.services.ingest.importer import (
    ImportReport,
    import_directory,
    import_file,
    table_for_file,
)
from tests.support.paths import DOCS

NBSP = "\u00a0"
CUSTOMERS_CP1251 = (
    "customer_id;full_name;customer_type;registered_on;birth_date;city;"
    "declared_monthly_income;owns_car;car_year;owns_home\r\n"
    "C1;Иванова Мария Петровна;retail;01.03.2019;02.05.1960;Казань;85 000,50;да;2006;Нет\r\n"
    f"C2;Пётр Щукин;Retail;2018-01-01;;Москва;1{NBSP}234{NBSP}567,00;нет;;y\r\n"
    "C3;ООО «Ромашка»;business;2018-01-01;;;;;;\r\n"
    "C4;Без даты;retail;;;;;;;\r\n"                       # line 5
    "C5;Плохой доход;retail;2020-01-01;;;сто тысяч;;;\r\n"  # line 6
    "C6;Странный тип;vip;2020-01-01;;;;;;\r\n"            # line 7
    "C7;Старая машина;retail;2020-01-01;;;;да;1812;\r\n"  # line 8
    "C8;Дробь;retail;2020-01-01;;;100,125;;;\r\n"         # line 9
    "C9;Булево;retail;2020-01-01;;;;может быть;;\r\n"     # line 10
    ";Без номера;retail;2020-01-01;;;;;;\r\n"             # line 11
    "C10;Нет такой даты;retail;31.02.2020;;;;;;\r\n"      # line 12
)

ACCOUNTS_UTF8 = (
    "account_id,customer_id,account_type,subtype,product_code,currency,opened_on,closed_on,"
    "balance,balance_base\n"
    "A1,C1,deposit,term,Вклад «Рост»,RUB,2020-01-01,,1120000.00,\n"
    "A2,C1,Card,social,,rub,2020-01-01,,15000.10,\n"
    'A3,C2,deposit,savings,"Сберегательный, ""плюс""",USD,2021-01-01,,1000.00,92500.00\n'
    "A4,C404,card,debit,,RUB,2020-01-01,,1.00,\n"            # line 5
    "A5,C2,card,debit,,RUB,2021-05-02,2020-01-01,0,\n"       # line 6
    "A6,C2,card,term,,RUB,2021-05-02,,0,\n"                  # line 7
    "A7,C2,deposit,term,,USD,2021-05-02,,10,\n"              # line 8
    "A8,C2,card,debit,,RUB,2021-05-02,,0,\n"                 # line 9
    "A8,C2,card,debit,,RUB,2021-05-02,,5,\n"                 # line 10
    "A9,C2,card,debit,,rubles,2021-05-02,,0,\n"              # line 11
    "A10,C2,carrd,debit,,RUB,2021-05-02,,0,\n"               # line 12
    "A11,C2,loan,mortgage,,RUB,2021-05-02,,12x,\n"           # line 13
)

TRANSACTIONS_UTF8_BOM_SEMICOLON = (
    "\ufefftransaction_id;account_id;customer_id;ts;amount;kind;channel\n"
    "T1;A2;C1;31.10.2026 14:05;-1 250,00;purchase;pos\n"
    "T2;A2;C2;2026-10-31 10:00:00;10,00;salary;system\n"              # line 3
    "T3;A404;C1;2026-10-31 10:00:00;10,00;salary;system\n"            # line 4
    "T4;A2;C1;вчера;10,00;salary;system\n"                            # line 5
    "T5;A2;C1;2026-10-31 10:00:00;10,00;salary;teleport\n"            # line 6
    "T6;A1;C1;01.11.2026 09:30:15;500 000,00;transfer_in;internet\n"  # line 7
    "T1;A2;C1;2026-10-31 10:00:00;1,00;fee;system\n"                  # line 8
    "T7;A2;C404;2026-10-31;1,00;fee;system\n"                         # line 9
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[DuckDBEngine]:
    (tmp_path / "ws").mkdir()
    eng = DuckDBEngine(tmp_path / "ws" / "warehouse.duckdb")
    yield eng
    eng.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def quarantined(engine: DuckDBEngine, path: Path) -> dict[int, str]:
    return dict(engine.fetch_all("select row_number, reason from quarantine where file = ?",
                                 [str(path)]))


def accounted(engine: DuckDBEngine, report: ImportReport) -> ImportReport:
    """Every row read is loaded, updated or quarantined, and the log says the same."""
    assert not report.already_imported
    assert report.rows_read == report.rows_loaded + report.rows_updated + \
        report.rows_quarantined
    in_quarantine = engine.fetch_all(
        "select count(*) from quarantine where file = ? and table_name = ?",
        [report.file, report.table])[0][0]
    assert in_quarantine == report.rows_quarantined
    logged = engine.fetch_all(
        "select rows_read, rows_loaded, rows_updated, rows_quarantined from import_log "
        "where sha256 = ? and table_name = ? order by imported_at desc limit 1",
        [report.sha256, report.table])
    assert logged == [(report.rows_read, report.rows_loaded, report.rows_updated,
                       report.rows_quarantined)]
    return report


def load_parents(engine: DuckDBEngine, tmp_path: Path) -> None:
    accounted(engine, import_file(engine, "customers",
                                  write(tmp_path / "customers.csv", CUSTOMERS_CP1251, "cp1251")))
    accounted(engine, import_file(engine, "accounts",
                                  write(tmp_path / "accounts.csv", ACCOUNTS_UTF8)))


def test_cp1251_semicolons_decimal_commas_and_russian_dates(engine: DuckDBEngine,
                                                            tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", CUSTOMERS_CP1251, "cp1251")
    report = accounted(engine, import_file(engine, "customers", path))
    assert report.encoding == "cp1251"
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (11, 3, 8)
    rows = {r[0]: r[1:] for r in engine.fetch_all(
        "select customer_id, full_name, customer_type, registered_on, birth_date, city, "
        "declared_monthly_income, owns_car, car_year, owns_home from customers")}
    assert rows["C1"] == ("Иванова Мария Петровна", "retail", dt.date(2019, 3, 1),
                          dt.date(1960, 5, 2), "Казань", Decimal("85000.50"), True, 2006, False)
    # Vocabulary words in any case; no-break spaces between thousands; y for yes.
    assert rows["C2"] == ("Пётр Щукин", "retail", dt.date(2018, 1, 1), None, "Москва",
                          Decimal("1234567.00"), False, None, True)
    # Empty fields are NULL; Cyrillic and typographic quotes survive the round trip.
    assert rows["C3"] == ("ООО «Ромашка»", "business", dt.date(2018, 1, 1), None, None, None,
                          None, None, None)
    assert quarantined(engine, path) == {
        5: "required column registered_on is empty",
        6: "column declared_monthly_income: 'сто тысяч' is not a valid decimal",
        7: "customer_type 'vip' is not one of retail, business",
        8: "car_year '1812' is not a plausible year",
        9: "column declared_monthly_income: '100,125' has more than 2 decimal places",
        10: "column owns_car: 'может быть' is not a valid boolean",
        11: "required column customer_id is empty",
        12: "column registered_on: '31.02.2020' is not a valid date",
    }
    # The refused row is kept as it was written, for the bank to correct and resend.
    raw = engine.fetch_all("select raw_row from quarantine where row_number = 6")[0][0]
    assert json.loads(raw) == {
        "customer_id": "C5", "full_name": "Плохой доход", "customer_type": "retail",
        "registered_on": "2020-01-01", "birth_date": None, "city": None,
        "declared_monthly_income": "сто тысяч", "owns_car": None, "car_year": None,
        "owns_home": None, "_record": "6"}


def test_every_bad_account_row_is_quarantined_with_its_reason(engine: DuckDBEngine,
                                                              tmp_path: Path) -> None:
    load_parents(engine, tmp_path)
    path = tmp_path / "accounts.csv"
    report = engine.fetch_all("select rows_read, rows_loaded, rows_quarantined from import_log "
                              "where table_name = 'accounts'")
    assert report == [(12, 4, 8)]
    assert quarantined(engine, path) == {
        5: "unknown customer_id 'C404' (not in customers)",
        6: "closed_on '2020-01-01' is before opened_on '2021-05-02'",
        7: "subtype 'term' is not allowed for account_type 'card'",
        8: "balance_base is required when currency 'USD' is not the base currency RUB",
        10: "duplicate account_id 'A8' (also on line 9)",
        # Every reason a row fails is listed, not only the first.
        11: "currency 'RUBLES' must be a 3-letter code like RUB; balance_base is required "
            "when currency 'RUBLES' is not the base currency RUB",
        12: "account_type 'carrd' is not one of card, deposit, current, loan",
        13: "column balance: '12x' is not a valid decimal",
    }
    loaded = {r[0]: r[1:] for r in engine.fetch_all(
        "select account_id, account_type, currency, product_code, balance, balance_base "
        "from accounts")}
    assert loaded == {
        # balance_base is taken from balance for accounts in the base currency.
        "A1": ("deposit", "RUB", "Вклад «Рост»", Decimal("1120000.00"), Decimal("1120000.00")),
        "A2": ("card", "RUB", None, Decimal("15000.10"), Decimal("15000.10")),
        "A3": ("deposit", "USD", 'Сберегательный, "плюс"', Decimal("1000.00"),
               Decimal("92500.00")),
        "A8": ("card", "RUB", None, Decimal("0.00"), Decimal("0.00")),  # the first A8
    }


def test_transactions_must_belong_to_the_accounts_owner(engine: DuckDBEngine,
                                                        tmp_path: Path) -> None:
    load_parents(engine, tmp_path)
    path = write(tmp_path / "transactions.csv", TRANSACTIONS_UTF8_BOM_SEMICOLON)
    report = accounted(engine, import_file(engine, "transactions", path))
    assert report.encoding == "utf-8"
    assert quarantined(engine, path) == {
        3: "customer_id 'C2' does not own account 'A2'",
        4: "unknown account_id 'A404' (not in accounts)",
        5: "column ts: 'вчера' is not a valid timestamp",
        6: "channel 'teleport' is not one of branch, atm, internet, mobile, call_centre, ivr, "
           "pos, system",
        8: "duplicate transaction_id 'T1' (also on line 2)",
        9: "unknown customer_id 'C404' (not in customers); customer_id 'C404' does not own "
           "account 'A2'",
    }
    assert engine.fetch_all("select transaction_id, ts, amount from transactions "
                            "order by transaction_id") == [
        ("T1", dt.datetime(2026, 10, 31, 14, 5), Decimal("-1250.00")),
        ("T6", dt.datetime(2026, 11, 1, 9, 30, 15), Decimal("500000.00"))]


def test_interactions_pipe_delimited_cp1251(engine: DuckDBEngine, tmp_path: Path) -> None:
    load_parents(engine, tmp_path)
    path = write(tmp_path / "interactions.txt",
                 "interaction_id|customer_id|ts|channel|kind\n"
                 "I1|C1|30.10.2026 09:12|branch|visit\n"
                 "I2|C404|30.10.2026 09:12|branch|visit\n"
                 "I3|C1|30.10.2026 09:12|pos|жалоба\n", "cp1251")
    report = accounted(engine, import_file(engine, "interactions", path))
    assert report.rows_loaded == 1
    assert quarantined(engine, path) == {
        3: "unknown customer_id 'C404' (not in customers)",
        4: "channel 'pos' is not one of branch, atm, internet, mobile, call_centre, ivr; "
           "kind 'жалоба' is not one of visit, login, call, ivr_session, enquiry, complaint, "
           "other",
    }


def test_reasons_are_counted_by_kind_not_by_value(engine: DuckDBEngine, tmp_path: Path) -> None:
    load_parents(engine, tmp_path)
    lines = [f"X{i},Z{i},card,debit,,RUB,2020-01-01,,1.00," for i in range(500)]
    path = write(tmp_path / "accounts_orphans.csv",
                 ACCOUNTS_UTF8.splitlines()[0] + "\n" + "\n".join(lines) + "\nX1,C1,card,"
                 "debit,,RUB,2020-01-01,,1.00,\nX2,C1,card,debit,,RUB,2020-01-01,,1.00,\n"
                 "X2,C1,card,debit,,RUB,2020-01-01,,2.00,\n")
    report = accounted(engine, import_file(engine, "accounts", path))
    # X1 and X2 were refused on lines 3 and 4; their corrected re-sends on lines 502 and
    # 503 are loaded, and line 504 repeats X2 once more.
    assert report.reasons == {"unknown customer_id … (not in customers)": 500,
                              "duplicate account_id … (also on line …)": 1}
    assert report.rows_quarantined == 501
    assert engine.fetch_all("select row_number, reason from quarantine where file = ? and "
                            "reason like 'duplicate%'", [str(path)]) == [
        (504, "duplicate account_id 'X2' (also on line 503)")]
    assert engine.fetch_all("select account_id, balance from accounts where account_id in "
                            "('X1', 'X2') order by 1") == [("X1", 1), ("X2", 1)]


def test_reimporting_the_same_file_changes_nothing(engine: DuckDBEngine, tmp_path: Path
                                                   ) -> None:
    path = write(tmp_path / "customers.csv", CUSTOMERS_CP1251, "cp1251")
    first = import_file(engine, "customers", path)
    before = engine.fetch_all("select * from customers order by customer_id")
    quarantine_before = engine.fetch_all("select count(*) from quarantine")
    copy = write(tmp_path / "customers_copy.csv", CUSTOMERS_CP1251, "cp1251")
    again = import_file(engine, "customers", copy)  # same bytes under another name
    assert again.already_imported and again.sha256 == first.sha256
    assert (again.rows_read, again.rows_loaded) == (0, 0)
    assert engine.fetch_all("select * from customers order by customer_id") == before
    assert engine.fetch_all("select count(*) from quarantine") == quarantine_before
    assert engine.fetch_all("select count(*) from import_log") == [(1,)]
    # --force redoes it: every good row is now an update, refusals are not doubled.
    forced = accounted(engine, import_file(engine, "customers", path, force=True))
    assert (forced.rows_loaded, forced.rows_updated, forced.rows_quarantined) == (0, 3, 8)
    assert engine.fetch_all("select * from customers order by customer_id") == before
    assert engine.fetch_all("select count(*) from quarantine") == quarantine_before


def test_rows_arriving_again_in_another_file_update_not_duplicate(engine: DuckDBEngine,
                                                                  tmp_path: Path) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    update = write(tmp_path / "customers_2.csv",
                   "customer_id,full_name,customer_type,registered_on,city\n"
                   "C1,Иванова Мария Петровна,retail,2019-03-01,Самара\n"
                   "C11,Новый Клиент,retail,2026-10-01,Тула\n")
    report = accounted(engine, import_file(engine, "customers", update))
    assert (report.rows_loaded, report.rows_updated) == (1, 1)
    assert engine.fetch_all("select count(*) from customers") == [(4,)]
    # The row is replaced as a whole: columns missing from the new file become empty.
    assert engine.fetch_all("select city, declared_monthly_income from customers "
                            "where customer_id = 'C1'") == [("Самара", None)]


class _ConnectionProxy:
    """Forwards to a DuckDB connection, but lets a test intercept execute()."""

    def __init__(self, con: duckdb.DuckDBPyConnection, fail_on: str) -> None:
        self._con = con
        self.fail_on = fail_on
        self.failed = 0

    def execute(self, sql: str, *args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        if sql.lstrip().startswith(self.fail_on):
            self.failed += 1
            raise OSError("disk full")
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


def test_a_failure_half_way_leaves_the_warehouse_as_it_was(engine: DuckDBEngine,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    tables = ("customers", "quarantine", "import_log")
    before = {t: engine.fetch_all(f"select * from {t} order by all") for t in tables}
    # Quarantine and delete have run when the insert fails.
    proxy = _ConnectionProxy(engine.con, 'insert into "customers"')
    monkeypatch.setattr(engine, "con", proxy)
    update = write(tmp_path / "customers_2.csv",
                   "customer_id,full_name,customer_type,registered_on\n"
                   "C1,Changed,retail,2019-03-01\nC11,New,retail,2020-01-01\n"
                   "C12,Bad,retail,someday\n")
    with pytest.raises(OSError, match="disk full"):
        import_file(engine, "customers", update)
    monkeypatch.undo()
    assert proxy.failed == 1
    assert {t: engine.fetch_all(f"select * from {t} order by all") for t in tables} == before
    # Nothing was logged, so the same file imports normally afterwards.
    report = accounted(engine, import_file(engine, "customers", update))
    assert (report.rows_loaded, report.rows_updated, report.rows_quarantined) == (1, 1, 1)


def test_parquet_input_is_checked_too(engine: DuckDBEngine, tmp_path: Path) -> None:
    load_parents(engine, tmp_path)
    path = tmp_path / "accounts_p.parquet"
    duckdb.sql(f"""copy (select * from (values
        ('P1', 'C1', 'card', 'debit', null, 'RUB', date '2020-01-01', null, 10.5::decimal(18,2),
         null::decimal(18,2)),
        ('P2', 'C404', 'card', 'debit', null, 'RUB', date '2020-01-01', null, 1::decimal(18,2),
         null::decimal(18,2)),
        ('P3', 'C1', 'card', 'debit', null, 'RUB', date '2020-01-01', null,
         1.005::decimal(18,3), null::decimal(18,2))
        ) t("Account_ID", customer_id, account_type, subtype, product_code, currency, opened_on,
            closed_on, balance, balance_base)) to '{path}' (format parquet)""")
    report = accounted(engine, import_file(engine, "accounts", path))
    assert report.encoding == "parquet"
    assert (report.rows_loaded, report.rows_quarantined) == (1, 2)
    # Parquet has no header line: rows count from 1.
    assert quarantined(engine, path) == {
        2: "unknown customer_id 'C404' (not in customers)",
        3: "column balance: '1.005' has more than 2 decimal places"}
    assert engine.fetch_all("select balance_base from accounts where account_id = 'P1'") == \
        [(Decimal("10.50"),)]


def test_parquet_of_text_columns_is_parsed_like_csv(engine: DuckDBEngine, tmp_path: Path
                                                    ) -> None:
    path = tmp_path / "customers.parquet"
    duckdb.sql(f"""copy (select * from (values
        ('C1', 'Иванова Мария', 'retail', '01.03.2019', '85 000,50', 'да'),
        ('C2', 'Пётр', 'retail', 'вчера', '', 'нет')
        ) t(customer_id, full_name, customer_type, registered_on, declared_monthly_income,
            owns_car)) to '{path}' (format parquet)""")
    report = accounted(engine, import_file(engine, "customers", path, decimal_comma=True))
    assert report.rows_loaded == 1
    assert engine.fetch_all("select registered_on, declared_monthly_income, owns_car "
                            "from customers") == [(dt.date(2019, 3, 1), Decimal("85000.50"),
                                                   True)]
    assert quarantined(engine, path) == {2: "column registered_on: 'вчера' is not a valid date"}


def test_broken_lines_are_quarantined_not_lost(engine: DuckDBEngine, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv",
                 "customer_id,full_name,customer_type,registered_on\n"
                 "C1,Один,retail,2020-01-01\n"
                 "C2,Два,retail,2020-01-01,extra,fields\n"
                 "C3,Три,retail,2020-01-01\n"
                 "C4,Четыре\n"
                 "C5,Пять,retail,someday\n")
    report = accounted(engine, import_file(engine, "customers", path))
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (5, 2, 3)
    q = quarantined(engine, path)
    assert sorted(q) == [3, 5, 6]
    assert q[3].startswith("line cannot be read") and q[5].startswith("line cannot be read")
    # Rows after a broken line keep their own line numbers.
    assert q[6] == "column registered_on: 'someday' is not a valid date"
    raw = engine.fetch_all("select raw_row from quarantine where row_number = 3")[0][0]
    assert json.loads(raw) == {"_line": "C2,Два,retail,2020-01-01,extra,fields", "_record": "3"}
    assert engine.fetch_all("select customer_id from customers order by 1") == \
        [("C1",), ("C3",)]


@pytest.mark.parametrize("header, message", [
    ("customer_id,full_nam,customer_type,registered_on",
     "unknown column(s) full_nam for table customers. Did you mean 'full_name'?"),
    ("customer_id,customer_type,registered_on,full_name,segment",
     "unknown column(s) segment for table customers"),
    ("customer_id,customer_type,registered_on", "missing required column(s) full_name "
                                                "for table customers"),
    ("customer_id,full_name,customer_type,registered_on,Customer_ID",
     "column 'customer_id' appears twice"),
])
def test_header_problems_stop_the_file_with_one_message(engine: DuckDBEngine, tmp_path: Path,
                                                        header: str, message: str) -> None:
    path = write(tmp_path / "customers.csv", header + "\nC1,A,retail,2020-01-01\n")
    with pytest.raises(ImportFileError) as caught:
        import_file(engine, "customers", path)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text
    assert engine.fetch_all("select count(*) from customers") == [(0,)]
    assert engine.fetch_all("select count(*) from import_log") == [(0,)]


def test_headers_match_in_any_case_and_with_spaces(engine: DuckDBEngine, tmp_path: Path
                                                   ) -> None:
    path = write(tmp_path / "customers.csv",
                 " Customer_ID ;FULL_NAME;customer_type ;Registered_On\nC1;A;retail;2020-01-01\n")
    accounted(engine, import_file(engine, "customers", path))
    assert engine.fetch_all("select customer_id, registered_on from customers") == \
        [("C1", dt.date(2020, 1, 1))]


def test_delimiter_and_decimal_comma_can_be_forced(engine: DuckDBEngine, tmp_path: Path
                                                   ) -> None:
    tab = write(tmp_path / "customers.tsv",
                "customer_id\tfull_name\tcustomer_type\tregistered_on\tdeclared_monthly_income\n"
                "C1\tA\tretail\t2020-01-01\t1 500,25\n")
    accounted(engine, import_file(engine, "customers", tab, decimal_comma=True))
    assert engine.fetch_all("select declared_monthly_income from customers") == \
        [(Decimal("1500.25"),)]
    # A ';' file with decimal points: with --decimal-point a comma is not a decimal.
    semi = write(tmp_path / "customers_2.csv",
                 "customer_id;full_name;customer_type;registered_on;declared_monthly_income\n"
                 "C2;B;retail;2020-01-01;12,50\nC3;C;retail;2020-01-01;12.50\n")
    report = accounted(engine, import_file(engine, "customers", semi, decimal_comma=False))
    assert report.rows_loaded == 1
    assert quarantined(engine, semi) == {
        2: "column declared_monthly_income: '12,50' is not a valid decimal"}
    # A ',' header read with a forced ';' is one unknown column, said so.
    with pytest.raises(ImportFileError, match="unknown column"):
        import_file(engine, "customers", write(tmp_path / "customers_3.csv",
                                               "customer_id,full_name\nC1,A\n"),
                    delimiter=";")


def test_a_wrong_forced_encoding_quarantines_the_lines_it_spoils(engine: DuckDBEngine,
                                                                 tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv",
                 "customer_id;full_name;customer_type;registered_on\n"
                 "C1;Иван;retail;2020-01-01\nC2;Ok;retail;2020-01-01\n", "cp1251")
    report = accounted(engine, import_file(engine, "customers", path, encoding="utf-8"))
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    assert quarantined(engine, path)[2].startswith("not valid UTF-8 text (byte 0xC8 at "
                                                   "character 4:")


def test_transcoding_leaves_no_temporary_files(engine: DuckDBEngine, tmp_path: Path) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()
                  if not p.name.startswith("warehouse.duckdb")) == []


def test_empty_and_header_only_files(engine: DuckDBEngine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="empty or has no header"):
        import_file(engine, "customers", write(tmp_path / "customers.csv", ""))
    header_only = write(tmp_path / "customers_2.csv",
                        "customer_id;full_name;customer_type;registered_on\r\n")
    report = accounted(engine, import_file(engine, "customers", header_only))
    assert report.rows_read == 0


def test_file_names_choose_tables_and_folders_import_parents_first(engine: DuckDBEngine,
                                                                   tmp_path: Path) -> None:
    assert table_for_file(Path("accounts_2026-10.csv")) == "accounts"
    assert table_for_file(Path("transactions-part1.parquet")) == "transactions"
    assert table_for_file(Path("Customers.CSV")) == "customers"
    with pytest.raises(ImportFileError, match="cannot tell the table"):
        table_for_file(Path("clients.csv"))
    folder = tmp_path / "exports"
    folder.mkdir()
    write(folder / "transactions_1.csv", TRANSACTIONS_UTF8_BOM_SEMICOLON)
    write(folder / "accounts.csv", ACCOUNTS_UTF8)
    write(folder / "customers.csv", CUSTOMERS_CP1251, "cp1251")
    write(folder / "README.md", "not data")
    reports = import_directory(engine, folder)
    assert [r.table for r in reports] == ["customers", "accounts", "transactions"]
    # Each child saw its parents, imported first.
    assert [r.rows_loaded for r in reports] == [3, 4, 2]
    write(folder / "clients.csv", "x\n")
    with pytest.raises(ImportFileError, match="clients.csv: cannot tell the table"):
        import_directory(engine, folder, force=True)
    assert engine.fetch_all("select count(*) from import_log") == [(3,)]


def test_unknown_file_types_tables_and_encodings_are_refused(engine: DuckDBEngine,
                                                             tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="unknown file type"):
        import_file(engine, "customers", write(tmp_path / "customers.xlsx", "x"))
    with pytest.raises(ImportFileError, match="unknown encoding"):
        import_file(engine, "customers", write(tmp_path / "customers.csv", "a,b\n"),
                    encoding="koi8")
    with pytest.raises(ImportFileError, match="unknown table 'acounts'. Did you mean"):
        import_file(engine, "acounts", write(tmp_path / "x.csv", "a,b\n"))
    with pytest.raises(ImportFileError, match="no such file"):
        import_file(engine, "customers", tmp_path / "missing.csv")
    with pytest.raises(ImportFileError, match="not a readable Parquet file"):
        import_file(engine, "customers", write(tmp_path / "customers.parquet", "not parquet"))


@pytest.mark.parametrize("written, expected", [
    ("2026-10-31 14:05:00", dt.datetime(2026, 10, 31, 14, 5)),
    ("2026-10-31T14:05", dt.datetime(2026, 10, 31, 14, 5)),
    ("31.10.2026 14:05:00", dt.datetime(2026, 10, 31, 14, 5)),
    ("31.10.2026 14:05", dt.datetime(2026, 10, 31, 14, 5)),
    ("31.10.2026", dt.datetime(2026, 10, 31)),
    ("2026-10-31", dt.datetime(2026, 10, 31)),
])
def test_documented_timestamp_formats(engine: DuckDBEngine, tmp_path: Path, written: str,
                                      expected: dt.datetime) -> None:
    import_file(engine, "customers", write(tmp_path / "customers.csv", CUSTOMERS_CP1251,
                                           "cp1251"))
    path = write(tmp_path / "interactions.csv", "interaction_id;customer_id;ts;channel;kind\n"
                 f"I1;C1;{written};atm;other\n")
    accounted(engine, import_file(engine, "interactions", path))
    assert engine.fetch_all("select ts from interactions") == [(expected,)]


def test_duplicates_in_parquet_point_at_the_first_row(engine: DuckDBEngine, tmp_path: Path
                                                      ) -> None:
    path = tmp_path / "customers.parquet"
    duckdb.sql(f"""copy (select * from (values ('C1', 'A', 'retail', date '2020-01-01'),
        ('C2', 'B', 'retail', date '2020-01-01'), ('C1', 'C', 'retail', date '2020-01-01'))
        t(customer_id, full_name, customer_type, registered_on)) to '{path}' (format parquet)""")
    accounted(engine, import_file(engine, "customers", path))
    assert quarantined(engine, path) == {3: "duplicate customer_id 'C1' (also on row 1)"}
    assert engine.fetch_all("select full_name from customers where customer_id = 'C1'") == \
        [("A",)]


def test_the_example_in_the_data_model_doc_does_what_the_doc_says(engine: DuckDBEngine,
                                                                  tmp_path: Path) -> None:
    doc = (DOCS / "data-model.md").read_text(
        encoding="utf-8")
    example = doc.split("## Example", 1)[1].split("```\n", 2)[1]
    write(tmp_path / "customers.csv", "customer_id,full_name,customer_type,registered_on\n"
          "C00000001,Иванова Мария,retail,2019-01-01\n")
    import_file(engine, "customers", tmp_path / "customers.csv")
    path = write(tmp_path / "accounts.csv", example.replace("\n", "\r\n"), "cp1251")
    report = accounted(engine, import_file(engine, "accounts", path))
    assert report.rows_loaded == 2
    assert engine.fetch_all("select balance_base from accounts order by account_id") == \
        [(Decimal("1250000.50"),), (Decimal("92500.00"),)]
    reason = quarantined(engine, path)[4]
    assert reason.startswith("subtype 'gold' is not one of car, consumer, ")
