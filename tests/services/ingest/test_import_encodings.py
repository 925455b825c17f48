"""Encodings, broken quotes and line numbers: a bad line is quarantined alone, at the
line a text editor shows, and the rest of the file is loaded (docs/data-model.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.errors import ImportFileError
from clientlens.services.ingest.importer import import_file

HEAD = "customer_id;full_name;customer_type;registered_on\n"


@pytest.fixture
def engine(tmp_path: Path):  # noqa: ANN201
    eng = DuckDBEngine(tmp_path / "warehouse.duckdb")
    yield eng
    eng.close()


def quarantined(engine: DuckDBEngine, path: Path) -> dict[int, tuple[str, dict]]:
    return {n: (reason, json.loads(raw)) for n, reason, raw in engine.fetch_all(
        "select row_number, reason, raw_row from quarantine where file = ?", [str(path)])}


def names(engine: DuckDBEngine) -> dict[str, str]:
    return dict(engine.fetch_all("select customer_id, full_name from customers"))


@pytest.mark.parametrize("encoding", ["auto", "cp1251"])
def test_one_undecodable_byte_quarantines_its_line_only(engine: DuckDBEngine, tmp_path: Path,
                                                        encoding: str) -> None:
    # 0x98 is the one byte Windows-1251 leaves undefined.
    body = (HEAD + "C1;Иван;retail;2020-01-01\n").encode("cp1251") + \
        b"C2;Bad\x98;retail;2020-01-01\n" + "C3;Пётр;retail;2020-01-01\n".encode("cp1251")
    path = tmp_path / "customers.csv"
    path.write_bytes(body)
    report = import_file(engine, "customers", path, encoding=encoding)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 1)
    assert names(engine) == {"C1": "Иван", "C3": "Пётр"}
    reason, raw = quarantined(engine, path)[3]
    assert reason.startswith("not valid Windows-1251 text (byte 0x98 at character 7")
    assert raw == {"_line": "C2;Bad\\x98;retail;2020-01-01", "_record": "3"}


def test_a_utf8_bom_settles_the_encoding(engine: DuckDBEngine, tmp_path: Path) -> None:
    # Valid UTF-8 but for one byte, with a BOM: UTF-8, even when cp1251 is asked for.
    body = b"\xef\xbb\xbf" + (HEAD + "C1;Иван;retail;2020-01-01\n").encode() + \
        b"C2;\xc8;retail;2020-01-01\n"
    path = tmp_path / "customers.csv"
    path.write_bytes(body)
    report = import_file(engine, "customers", path, encoding="cp1251")
    assert report.encoding == "utf-8"
    assert names(engine) == {"C1": "Иван"}
    assert list(quarantined(engine, path)) == [3]
    assert report.notes == {"read as UTF-8, not cp1251: the file starts with a UTF-8 "
                            "byte-order mark": 1}


def test_utf8_with_a_stray_byte_is_not_read_as_mojibake(engine: DuckDBEngine,
                                                        tmp_path: Path) -> None:
    body = (HEAD + "C1;Иван;retail;2020-01-01\nC2;Пётр;retail;2020-01-01\n").encode() + \
        b"C3;\xc8\xe2\xe0\xed;retail;2020-01-01\n"  # one line in Windows-1251
    path = tmp_path / "customers.csv"
    path.write_bytes(body)
    report = import_file(engine, "customers", path)
    assert report.encoding == "utf-8"
    assert names(engine) == {"C1": "Иван", "C2": "Пётр"}
    assert quarantined(engine, path)[4][0].startswith("not valid UTF-8 text (byte 0xC8")
    assert report.notes == {"read as UTF-8: 1 line(s) that are not valid UTF-8 are "
                            "quarantined": 1}


def test_windows_1251_with_a_utf8_line_gets_a_note(engine: DuckDBEngine,
                                                   tmp_path: Path) -> None:
    body = (HEAD + "C1;Иван;retail;2020-01-01\nC2;Пётр;retail;2020-01-01\n").encode(
        "cp1251") + "C3;Юрий;retail;2020-01-01\n".encode()
    path = tmp_path / "customers.csv"
    path.write_bytes(body)
    report = import_file(engine, "customers", path)
    assert report.encoding == "cp1251"
    assert report.notes == {"read as Windows-1251, but 1 line(s) are valid UTF-8 (the first "
                            "is line 4); check them, or pass --encoding": 1}


def test_a_quote_never_closed_on_the_last_line_quarantines_that_line(
        engine: DuckDBEngine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(HEAD + "C1;A;retail;2020-01-01\nC2;\"B;retail;2020-01-01", "utf-8")
    report = import_file(engine, "customers", path)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    reason, raw = quarantined(engine, path)[3]
    assert reason == ("a quote opened on line 3 is never closed (the file ends inside a "
                      "quoted value)")
    assert raw["_line"] == 'C2;"B;retail;2020-01-01'


def test_rows_are_numbered_by_physical_line_after_a_value_with_line_breaks(
        engine: DuckDBEngine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(HEAD + 'C1;"Иван\nИванович\nИванов";retail;2020-01-01\n'
                    "C2;B;retail;someday\n"
                    "\n"
                    'C3;ООО "Ромашка";retail;2020-01-01\n'
                    "C4;D;retail;2020-01-01;extra\n"
                    'C5;"E";retail;2020-01-01\r\n', "utf-8")
    report = import_file(engine, "customers", path)
    assert (report.rows_loaded, report.rows_quarantined) == (3, 2)
    assert names(engine) == {"C1": "Иван\nИванович\nИванов", "C3": 'ООО "Ромашка"',
                             "C5": "E"}
    got = quarantined(engine, path)
    # Line 5 in an editor; the 3rd record, row 3 in a spreadsheet.
    assert got[5][0] == "column registered_on: 'someday' is not a valid date"
    assert got[5][1]["_record"] == "3"
    assert got[8] == ("line cannot be read: the line has 5 fields, the header 4",
                      {"_line": "C4;D;retail;2020-01-01;extra", "_record": "6"})


def test_a_header_with_several_problems_names_every_one(engine: DuckDBEngine,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id;customer_id;fool_name;customer_type\nC1;C1;x;retail\n",
                    "utf-8")
    with pytest.raises(ImportFileError) as e:
        import_file(engine, "customers", path)
    message = str(e.value)
    assert "column 'customer_id' appears twice" in message
    assert "unknown column(s) fool_name" in message and "Did you mean 'full_name'?" in message
    assert "missing required column(s) full_name, registered_on" in message
