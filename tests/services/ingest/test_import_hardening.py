"""The importer never changes a value to fit, and leaves no readable copy behind.

docs/data-model.md promises that values are never rounded. DuckDB's casts would
round or reinterpret many spellings on the way in (``1.5`` as the whole number 2,
``1e-400`` as 0.00, ``0x10`` as 16, a date with a time as the date, a Parquet double
``1.005`` as 1.00); each of those rows must be quarantined with a reason instead.
A Windows-1251 file is transcoded to a plaintext UTF-8 copy: it must be private
to its owner and gone after a kill, at the next import.
"""

from __future__ import annotations

import datetime as dt
import signal
import stat
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.services.ingest.importer import import_file
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import init_workspace


@pytest.fixture
def engine(tmp_path: Path):  # noqa: ANN201
    (tmp_path / "ws").mkdir()
    eng = DuckDBEngine(tmp_path / "ws" / "warehouse.duckdb")
    yield eng
    eng.close()


def quarantined(engine: DuckDBEngine, path: Path) -> dict[int, str]:
    return dict(engine.fetch_all("select row_number, reason from quarantine where file = ?",
                                 [str(path)]))


def test_numbers_and_dates_written_otherwise_are_refused_not_rounded(engine: DuckDBEngine,
                                                                     tmp_path: Path) -> None:
    head = "customer_id,full_name,customer_type,registered_on,declared_monthly_income,car_year\n"
    rows = [
        ("1e-400", "", "2020-01-01"),               # line 2
        ("0.000000000001", "", "2020-01-01"),       # 3
        ("12.345", "", "2020-01-01"),               # 4
        ("1e3", "", "2020-01-01"),                  # 5
        ("0x10", "", "2020-01-01"),                 # 6
        ("1_000", "", "2020-01-01"),                # 7
        ("１２", "", "2020-01-01"),                  # 8 fullwidth digits
        ("", "2009.5", "2020-01-01"),               # 9
        ("", "2e3", "2020-01-01"),                  # 10
        ("", "0x7d9", "2020-01-01"),                # 11
        ("", "", "2020-01-01 10:00"),               # 12
        ("", "", "2020-01-01T00:00:00+05"),         # 13
        ("12.3400000", " 2009 ", "2020-01-02"),     # 14 fine
        ("-0.10", "+2009", "01.02.2020"),           # 15 fine
    ]
    path = tmp_path / "customers.csv"
    path.write_text(head + "".join(f"C{i},N,retail,{r},{m},{y}\n"
                                   for i, (m, y, r) in enumerate(rows, start=2)),
                    encoding="utf-8")
    report = import_file(engine, "customers", path)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 12)
    m, y, r = "declared_monthly_income", "car_year", "registered_on"
    assert quarantined(engine, path) == {
        2: f"column {m}: '1e-400' is not a valid decimal",
        3: f"column {m}: '0.000000000001' has more than 2 decimal places",
        4: f"column {m}: '12.345' has more than 2 decimal places",
        5: f"column {m}: '1e3' is not a valid decimal",
        6: f"column {m}: '0x10' is not a valid decimal",
        7: f"column {m}: '1_000' is not a valid decimal",
        8: f"column {m}: '１２' is not a valid decimal",
        9: f"column {y}: '2009.5' is not a valid integer",
        10: f"column {y}: '2e3' is not a valid integer",
        11: f"column {y}: '0x7d9' is not a valid integer",
        12: f"column {r}: '2020-01-01 10:00' is not a valid date",
        13: f"column {r}: '2020-01-01T00:00:00+05' is not a valid date",
    }
    assert engine.fetch_all("select customer_id, registered_on, declared_monthly_income, "
                            "car_year from customers order by 1") == [
        ("C14", dt.date(2020, 1, 2), Decimal("12.34"), 2009),
        ("C15", dt.date(2020, 2, 1), Decimal("-0.10"), 2009)]


def test_timestamps_with_a_zone_are_converted_past_microseconds_refused(
        engine: DuckDBEngine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,full_name,customer_type,registered_on\n"
                    "C1,A,retail,2020-01-01\n", encoding="utf-8")
    import_file(engine, "customers", path)
    path = tmp_path / "interactions.csv"
    path.write_text("interaction_id,customer_id,ts,channel,kind\n"
                    "I1,C1,2026-10-31T14:05:00+03:00,atm,other\n"
                    "I2,C1,2026-10-31 14:05:00Z,atm,other\n"
                    "I3,C1,2026-10-31 14:05:00.1234567,atm,other\n"
                    "I4,C1,2026-10-31 14:05:00.123456,atm,other\n", encoding="utf-8")
    # The default workspace zone is Europe/Moscow (UTC+3 all year).
    report = import_file(engine, "interactions", path)
    assert (report.rows_loaded, report.rows_quarantined) == (3, 1)
    assert sorted(quarantined(engine, path)) == [4]
    assert engine.fetch_all("select interaction_id, ts from interactions order by 1") == [
        ("I1", dt.datetime(2026, 10, 31, 14, 5)), ("I2", dt.datetime(2026, 10, 31, 17, 5)),
        ("I4", dt.datetime(2026, 10, 31, 14, 5, 0, 123456))]


def test_parquet_numbers_that_do_not_fit_are_refused_not_rounded(engine: DuckDBEngine,
                                                                 tmp_path: Path) -> None:
    customers = tmp_path / "customers.parquet"
    pq.write_table(pa.table({
        "customer_id": ["C1", "C2", "C3", "C4"],
        "full_name": ["A", "B", "C", "D"],
        "customer_type": ["retail"] * 4,
        "registered_on": pa.array([dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 1, 10),
                                   dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 1)],
                                  pa.timestamp("us")),
        "car_year": pa.array([2009.0, 2009.0, 2009.5, None], pa.float64()),
    }), customers)
    report = import_file(engine, "customers", customers)
    assert report.rows_loaded == 2
    assert quarantined(engine, customers) == {
        2: "column registered_on: '2020-01-01 10:00:00' has a time of day; the column holds "
           "dates",
        3: "column car_year: '2009.5' is not a whole number"}
    accounts = tmp_path / "accounts.parquet"
    n = 6
    pq.write_table(pa.table({
        "account_id": [f"A{i}" for i in range(1, n + 1)],
        "customer_id": ["C1"] * n,
        "account_type": ["card"] * n, "subtype": ["debit"] * n, "currency": ["RUB"] * n,
        "opened_on": [dt.date(2020, 1, 1)] * n,
        "balance": pa.array([0.1, 1.005, 1e-300, 12.25, 1e20, -3.0], pa.float64()),
        "balance_base": pa.array([Decimal("1.005"), None, None, Decimal("2.50"), None, None],
                                 pa.decimal128(38, 20)),
    }), accounts)
    report = import_file(engine, "accounts", accounts)
    assert report.rows_loaded == 2
    reasons = quarantined(engine, accounts)
    assert reasons[1] == "column balance_base: '1.00500000000000000000' has more than 2 " \
                         "decimal places"
    assert reasons[2] == "column balance: '1.005' has more than 2 decimal places"
    assert reasons[3] == "column balance: '1e-300' has more than 2 decimal places"
    assert reasons[5] == "column balance: '1e+20' is not a valid decimal"
    assert engine.fetch_all("select account_id, balance, balance_base from accounts "
                            "order by 1") == [("A4", Decimal("12.25"), Decimal("2.50")),
                                              ("A6", Decimal("-3.00"), Decimal("-3.00"))]


def _scratch(root: Path) -> list[Path]:
    return sorted(root.glob("clientlens-import-*"))


def test_a_killed_cp1251_import_leaves_no_readable_copy(tmp_path: Path) -> None:
    """A real import in a child process, stopped while its UTF-8 copy is being written:
    the copy is readable by its owner only, in a folder only the owner can open; a
    cleanup while that import lives keeps it; after a kill -9 the next import removes
    it."""
    root = tmp_path / "bank"
    init_workspace(root)
    big = tmp_path / "customers.csv"
    line = "C{};Иванова Мария Петровна;retail;01.03.2019;;Казань;85 000,50;да;2006;нет\r\n"
    with big.open("wb") as fh:
        fh.write("customer_id;full_name;customer_type;registered_on;birth_date;city;"
                 "declared_monthly_income;owns_car;car_year;owns_home\r\n".encode("cp1251"))
        block = "".join(line.format(i) for i in range(20_000)).encode("cp1251")
        for _ in range(60):  # about 80 MB
            fh.write(block)
    child = subprocess.Popen([sys.executable, "-m", "clientlens.faces.cli", "import", "-w",
                              str(root), str(big)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        copies: list[Path] = []
        while not copies and time.monotonic() < deadline and child.poll() is None:
            copies = [p for d in _scratch(root) for p in d.iterdir()
                      if p.name != ".lock" and p.stat().st_size > 0]
            time.sleep(0.005)
        assert copies, "the import ended before its copy was seen"
        child.send_signal(signal.SIGSTOP)
        (folder,) = _scratch(root)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for p in folder.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        from clientlens.services.ingest.reader import remove_stale_scratch

        assert remove_stale_scratch(root) == [] and folder.exists()  # still in use
    finally:
        child.kill()
        child.wait()
    assert _scratch(root), "the kill left the copy (as a crash would)"
    small = tmp_path / "customers_2.csv"
    small.write_bytes("customer_id;full_name;customer_type;registered_on\r\n"
                      "C1;Иван;retail;01.03.2019\r\n".encode("cp1251"))
    jobs.import_files(root, [small])
    assert _scratch(root) == []
    assert not any(p.suffix == ".csv" for p in root.rglob("*") if "utf8" in p.name)
