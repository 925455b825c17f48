"""Byte-level fuzz of the CSV reader: every record of a file is loaded or quarantined
at the line a text editor shows for it, whatever bytes it holds; nothing is dropped.

Files are built from fragments chosen to break readers: quotes opened and never
closed, doubled quotes, quotes inside unquoted text, delimiters inside quotes, line
breaks inside quotes, carriage returns, blank lines, bytes that are not UTF-8
(``\\xc8``: И in Windows-1251), the one byte Windows-1251 leaves undefined (``\\x98``),
UTF-8 Cyrillic, a BOM. Each line starts with ``K<its line number>;``, so a loaded row
tells which line its record started on. Where records start is worked out here by a
character-by-character reading of RFC 4180 (a quote opens a value only at the start
of a field), independently of the importer's scanner.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.services.ingest.importer import import_file

HEADER = b"customer_id;full_name;customer_type;registered_on"
FRAGMENTS = [b"a", b"Ok", b"\xd0\x98\xd0\xb2", b"\xc8\xe2\xe0\xed", b"\xc8", b"\x98", b'"',
             b'""', b";", b" ", b"\r", b"retail", b"2020-01-01", b'"x;y"', b'"q\n', b"\t"]


def record_starts(lines: list[bytes]) -> tuple[list[int], list[int]]:
    """(lines that start a record holding something, lines of a record never closed),
    by RFC 4180 read one character at a time; the header is line 1."""
    starts, open_tail = [], []
    in_quote, after_quote, field_start = False, False, True
    start, blank = None, True
    for number, line in enumerate(lines, start=2):
        if start is None:
            start, blank = number, True
        for c in line.decode("latin-1"):
            blank = blank and c == "\r"
            if in_quote:
                if c == '"':
                    in_quote, after_quote = False, True  # a doubled quote reopens below
                continue
            if after_quote and c == '"':
                in_quote, after_quote = True, False
                continue
            after_quote = False
            if c == ";":
                field_start = True
            elif c == '"' and field_start:
                in_quote, field_start = True, False
            else:
                field_start = False
        if in_quote:
            continue
        if not blank:
            starts.append(start)
        start, field_start, after_quote = None, True, False
    if in_quote and start is not None:
        open_tail = list(range(start, len(lines) + 2))
    return starts, open_tail


@st.composite
def files(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(1, 25))
    pieces = []
    for _ in range(n):
        if draw(st.integers(0, 12)) == 0:
            pieces.append(b"")
            continue
        body = b"".join(draw(st.lists(st.sampled_from(FRAGMENTS), max_size=8)))
        tail = draw(st.sampled_from([b";retail;2020-01-01", b";retail;2020-01-01",
                                     b";retail", b";retail;2020-01-01;x", b""]))
        pieces.append(body + tail)
    # A fragment may hold a line break: split there, and start every physical line but a
    # blank one with its own number (inside a quoted value it is just text).
    lines = b"\n".join(pieces).split(b"\n")
    keyed = [b"K%d;" % number + line if line else line
             for number, line in enumerate(lines, start=2)]
    bom = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf"]))
    end = draw(st.sampled_from([b"\n", b"\r\n", b""]))
    return bom + HEADER + b"\n" + b"\n".join(keyed) + end


@pytest.fixture
def engine(tmp_path: Path):  # noqa: ANN201
    eng = DuckDBEngine(tmp_path / "warehouse.duckdb")
    yield eng
    eng.close()


_names = iter(range(10**9))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=files(), encoding=st.sampled_from(["auto", "utf-8", "cp1251"]))
def test_every_record_is_loaded_or_quarantined_at_its_line(
        engine: DuckDBEngine, tmp_path: Path, data: bytes,
        encoding: str) -> None:
    path = tmp_path / f"customers_{next(_names)}.csv"
    path.write_bytes(data)
    if engine.table_columns("customers"):
        engine.execute("delete from customers")
    report = import_file(engine, "customers", path, encoding=encoding, force=True)
    # The physical lines after the header, as a text editor shows them.
    lines = data.split(b"\n")[1:]
    if lines and lines[-1] == b"":
        lines.pop()  # "a\n" ends the file: no empty line after it
    starts, open_tail = record_starts(lines)
    loaded = {int(k[1:]) for (k,) in engine.fetch_all("select customer_id from customers")}
    refused = [n for (n,) in engine.fetch_all(
        "select row_number from quarantine where file = ?", [str(path)])]
    assert len(refused) == len(set(refused)), "a line quarantined twice"
    assert not loaded & set(refused), "a line both loaded and quarantined"
    assert sorted(loaded | set(refused)) == sorted(set(starts) | set(open_tail)), (
        data, encoding)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined == \
        len(starts) + len(open_tail)
