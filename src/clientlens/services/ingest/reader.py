"""Reading a bank's export file into a staging relation, whatever its encoding and dialect.

Russian bank exports are often Windows-1251 with ';' delimiters and decimal
commas. DuckDB reads UTF-8 natively; other encodings need an extension it
would download, so such files are transcoded to a temporary UTF-8 copy in
chunks (never the whole file in memory) and the copy is deleted as soon as it
is read. Records DuckDB cannot split into the header's columns are kept by its
reject tables with their line numbers, so they can be quarantined rather than
lost.

Nothing a file says reaches SQL text. The header is read here, in Python (a
Parquet file's column names come back from DuckDB as data), and the importer
checks it against the data model (``header_columns``) before any SQL runs; DuckDB
is then told the model's names (``names = ?``) instead of reading them, and a
Parquet column is selected by a name that is a model column up to case and spaces,
quoted by sqlglot. File paths are bound parameters or Python values, and a path
with DuckDB's glob characters (``* ? [``) is read through a link with a plain name,
so ``customers[1].csv`` is never read as ``customers1.csv``.

The transcoded copy is plaintext personal data: it is written in a folder only the
owner can open (0700, the file 0600), removed when the import ends, and left-overs of
a killed import are removed by the next one (``remove_stale_scratch``).

Rows are numbered as a user finds them in a text editor or a spreadsheet: for
CSV the header is line 1 and the first record line 2; Parquet has no header,
so its first row is 1.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from clientlens.engines import sqltext
from clientlens.model.errors import ImportFileError

CHUNK = 1 << 20
MAX_HEADER = 1 << 16  # bytes; a real header line is a few hundred
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
SUFFIXES = (*CSV_SUFFIXES, ".parquet")
DELIMITERS = (";", ",", "\t", "|")
ENCODINGS = {"auto": "auto", "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8",
             "cp1251": "cp1251", "windows-1251": "cp1251", "win1251": "cp1251"}
# Names of the temp relations the importer reads.
STAGE = "stage"
REJECTS = "stage_rejects"
SCRATCH_PREFIX = "clientlens-import-"
LOCK = ".lock"
GLOB_CHARS = frozenset("*?[")  # what DuckDB's file readers expand


@dataclass(frozen=True)
class Header:
    """What a file's header says, read without SQL."""

    names: list[str]  # as written, in file order
    encoding: str  # utf-8, cp1251 or parquet
    delimiter: str | None  # None for Parquet
    types: list[str] | None = None  # Parquet's own type of each column
    bom: bool = False  # UTF-8 with a byte-order mark
    note: str | None = None  # about the encoding chosen, for the import's summary
    fingerprint: Fingerprint | None = None

    @property
    def unit(self) -> str:
        return "row" if self.delimiter is None else "line"


@dataclass(frozen=True)
class Staged:
    """A file behind the temp relation ``stage``: its columns, plus ``__row``."""

    columns: dict[str, str]  # model column name -> DuckDB type, file order
    rejects: int  # records DuckDB could not split; they are in ``stage_rejects``
    encoding: str
    delimiter: str | None

    @property
    def text_columns(self) -> set[str]:
        return {name for name, kind in self.columns.items() if kind == "VARCHAR"}


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    utf8: bool  # the bytes are valid UTF-8 (a BOM included)
    bom: bool
    # Whether each record is one line DuckDB can number as a text editor does: no
    # quote (so no value holding a line break), no blank line, no lone carriage return.
    plain_lines: bool = True


def shown(text: str, limit: int = 80) -> str:
    """Text from a file made safe for a one-line message: control and invisible
    characters escaped (a newline in a name cannot forge a second line), cut at
    ``limit``."""
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return out if len(out) <= limit else out[:limit] + f"… ({len(text):,} characters)"


def normalised(name: str) -> str:
    """How a header name is matched: case and surrounding spaces (and a BOM) ignored."""
    return name.strip().lstrip("\ufeff").strip().lower()


def fingerprint(path: Path, *, check_utf8: bool) -> Fingerprint:
    """SHA-256 of the file and, in the same pass, whether it is valid UTF-8 and whether
    its lines are plain (``Fingerprint.plain_lines``)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
    utf8 = check_utf8
    plain = check_utf8
    first = b""
    last = b"\n"  # a file starting with a line break starts with a blank line
    crs = lfs = crlfs = 0
    try:
        with path.open("rb") as fh:
            while block := fh.read(CHUNK):
                if not first:
                    first = block[:3]
                digest.update(block)
                if decoder is not None and utf8:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError:
                        utf8 = False
                if plain:
                    joined = last + block
                    plain = b'"' not in block and b"\n\n" not in joined \
                        and b"\n\r\n" not in joined
                    crs += block.count(b"\r")
                    lfs += block.count(b"\n")
                    crlfs += block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
                    last = block[-1:]
            if decoder is not None and utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = False
    except OSError as e:
        raise ImportFileError(f"{shown(str(path))}: cannot read the file ({e.strerror})") \
            from None
    # DuckDB reads lines ended all by \n or all by \r\n; any other carriage return
    # stops its parser, so such a file is read through a copy (``_numbered_copy``).
    plain = plain and (crs == 0 or crs == crlfs == lfs)
    return Fingerprint(digest.hexdigest(), utf8, first == codecs.BOM_UTF8, plain)


def _choose_encoding(path: Path, fp: Fingerprint) -> tuple[str, str | None]:
    """``--encoding auto``: UTF-8 when the file has a UTF-8 BOM or is valid UTF-8;
    otherwise the one of UTF-8 and Windows-1251 that more of its non-ASCII lines are
    valid in. A UTF-8 export with a stray byte stays UTF-8 (the line holding it is
    quarantined) instead of turning every Cyrillic name into mojibake; a Windows-1251
    file with lines that are valid UTF-8 is read as Windows-1251 with a note naming
    the first such line, since those lines are the ones likely to read wrong."""
    if fp.bom or fp.utf8:
        return "utf-8", None
    good, bad, first_good = 0, 0, 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad += 1
                continue
            good += 1
            first_good = first_good or number
    if good > bad:
        return "utf-8", (f"read as UTF-8: {bad:,} line(s) that are not valid UTF-8 are "
                         "quarantined")
    if good:
        return "cp1251", (f"read as Windows-1251, but {good:,} line(s) are valid UTF-8 (the "
                          f"first is line {first_good:,}); check them, or pass --encoding")
    return "cp1251", None


def read_header(con: duckdb.DuckDBPyConnection, path: Path, *, encoding: str,
                delimiter: str | None, fingerprint: Fingerprint) -> Header:
    """The file's column names, for checking before anything is staged."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_header(con, path)
    if suffix not in CSV_SUFFIXES:
        raise ImportFileError(f"{shown(str(path))}: unknown file type '{shown(suffix)}'; use "
                              ".csv, .txt or .parquet")
    enc = ENCODINGS.get(encoding.lower())
    if enc is None:
        raise ImportFileError(f"unknown encoding '{shown(encoding)}': use auto, utf-8 or "
                              "cp1251")
    note = None
    if enc == "auto":
        enc, note = _choose_encoding(path, fingerprint)
    elif enc != "utf-8" and fingerprint.bom:
        # The mark is three bytes no Windows-1251 text starts with: it settles it.
        enc, note = "utf-8", (f"read as UTF-8, not {encoding}: the file starts with a "
                              "UTF-8 byte-order mark")
    with path.open("rb") as fh:
        raw = fh.readline(MAX_HEADER + 1)
    if len(raw) > MAX_HEADER:
        raise ImportFileError(f"{shown(str(path))}: the header line is longer than "
                              f"{MAX_HEADER:,} bytes; is this a bank export?")
    try:
        line = raw.decode("utf-8-sig" if enc == "utf-8" else enc).rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise ImportFileError(f"{shown(str(path))}: the header line is not valid {enc} text "
                              f"at byte {e.start}; pass --encoding") from None
    if not line.strip():
        raise ImportFileError(f"{shown(str(path))}: the file is empty or has no header line")
    if delimiter is None:
        counts = {d: line.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            raise ImportFileError(f"{shown(str(path))}: cannot tell the delimiter from the "
                                  "header line (tried ; , tab |); pass --delimiter")
    if len(delimiter) != 1 or delimiter in "\"\r\n" or delimiter.isdigit():
        raise ImportFileError(f"delimiter '{shown(delimiter)}' must be one character, not a "
                              "quote, a digit or a line break")
    try:
        names = next(csv.reader([line], delimiter=delimiter, quotechar='"',
                                doublequote=True, strict=True))
    except csv.Error as e:
        # e.g. a quote left open: a name holding a line break, which no column has.
        raise ImportFileError(f"{shown(str(path))}: the header line cannot be read as CSV "
                              f"({e}); a column name cannot hold a quote left open or a line "
                              "break") from None
    return Header(names, enc, delimiter, bom=raw.startswith(codecs.BOM_UTF8), note=note,
                  fingerprint=fingerprint)


def _parquet_header(con: duckdb.DuckDBPyConnection, path: Path) -> Header:
    # The names come back as data; the path is a bound parameter.
    with readable_path(path) as source:
        try:
            described = con.execute("describe select * from read_parquet(?)",
                                    [str(source)]).fetchall()
        except duckdb.Error as e:
            raise ImportFileError(f"{shown(str(path))}: not a readable Parquet file "
                                  f"({_first(e)})") from None
    return Header([r[0] for r in described], "parquet", None, [str(r[1]) for r in described])


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, header: Header,
               columns: dict[str, str], *, scratch: Path | None = None) -> Staged:
    """Put ``path`` behind temp relation ``stage``, its columns named as the model does;
    raises ImportFileError if it cannot.

    ``columns`` maps each model column the header names to the name as written
    (``header_columns`` in the importer); only model names reach SQL. ``drop_stage``
    removes what this creates.
    """
    if header.delimiter is None:
        return _stage_parquet(con, path, header, columns)
    tmp, lock = _scratch_folder(scratch)
    try:
        fp = header.fingerprint
        if (header.encoding == "utf-8" and not header.bom and fp is not None and fp.utf8
                and fp.plain_lines):
            # One record a line, valid UTF-8: DuckDB reads it as it is (no copy), and its
            # record numbers are the lines.
            with readable_path(path) as readable:
                rejects = _stage_csv(con, readable, path, header, list(columns), [])
        else:
            copy = _numbered_copy(path, header, tmp)
            rejects = _stage_csv(con, copy.path, path, header, list(columns), copy.refused)
            if copy.carriage_returns:
                _put_back_carriage_returns(con, list(columns))
    finally:
        # The stage is materialised: the UTF-8 copy is not needed any more.
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(lock)
    return Staged(dict.fromkeys(columns, "VARCHAR"), rejects, header.encoding,
                  header.delimiter)


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    # A statement first: it completes any result still open on the connection, which
    # unregister would refuse.
    con.execute(f"drop table if exists temp.{REJECTS}")
    con.unregister(STAGE)  # the Parquet view; nothing when there is none
    con.execute(f"drop table if exists temp.{STAGE}")


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, header: Header,
                   columns: dict[str, str]) -> Staged:
    # A view, not a copy: Parquet is columnar and cheap to scan twice (once to
    # check, once more only for refused rows), and a 50-million-row file is not
    # duplicated in memory. file_row_number is the row's place in the file.
    # DuckDB cannot bind a parameter in CREATE VIEW, so the view is a relation made
    # from the path as a Python value, registered on the connection (a temp view).
    drop_stage(con)
    d = "duckdb"
    select = ", ".join(f"{sqltext.ident(orig, d)} as {sqltext.ident(norm, d)}"
                       for norm, orig in columns.items())
    with readable_path(path) as source:
        if source == path:
            relation = con.read_parquet(str(path), file_row_number=True)
            con.register(STAGE, relation.project(f"{select}, file_row_number + 1 as __row"))
        else:
            # Read through a link that is gone after this block: copied while it exists
            # (only paths with * ? [ in them).
            con.execute(f"create temp table {STAGE} as select {select}, file_row_number + 1 "
                        "as __row from read_parquet(?, file_row_number = true)", [str(source)])
    con.execute(f"create or replace temp table {REJECTS} "
                "(line bigint, reason varchar, raw varchar)")
    kinds = dict(zip(header.names, header.types or [], strict=True))
    return Staged({norm: kinds[orig] for norm, orig in columns.items()}, 0, "parquet", None)


@contextmanager
def readable_path(path: Path) -> Iterator[Path]:
    """``path`` as DuckDB may be given it: the path itself, or, when it holds one of
    DuckDB's glob characters, a link with a plain name in a private temporary folder
    (removed on leaving)."""
    if not GLOB_CHARS.intersection(str(path)):
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX + "link-"))
    try:
        link = folder / ("source" + path.suffix.lower())
        if GLOB_CHARS.intersection(str(link)):
            raise ImportFileError(f"{shown(str(path))}: cannot read a file whose path holds "
                                  "* ? or [ here; rename it")
        try:
            link.symlink_to(path.resolve())
        except OSError as e:
            raise ImportFileError(f"{shown(str(path))}: cannot read a file whose path holds "
                                  f"* ? or [ ({e.strerror}); rename it") from None
        yield link
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _scratch_folder(scratch: Path | None) -> tuple[Path, int]:
    """A new private folder (0700, as mkdtemp makes it) holding a lock that marks it in
    use for as long as this process lives."""
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=scratch))
    lock = os.open(folder / LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
    _try_lock(lock)
    return folder, lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:
        # Windows: no flock. The cleanup runs in the import, which holds the warehouse
        # open for writing, so no other import of this workspace can be running.
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def remove_stale_scratch(folder: Path | None) -> list[Path]:
    """Remove what imports killed half-way left in ``folder`` (a transcoded copy is
    plaintext personal data); folders of imports still running are kept."""
    if folder is None or not folder.is_dir():
        return []
    removed = []
    for candidate in folder.glob(SCRATCH_PREFIX + "*"):
        if not candidate.is_dir() or candidate.is_symlink():
            continue
        try:
            fd = os.open(candidate / LOCK, os.O_WRONLY)
        except FileNotFoundError:
            # Killed before the lock was made, or being made right now: give a
            # running import a minute to create it.
            if time.time() - candidate.stat().st_mtime < 60:
                continue
            fd = None
        except OSError:
            continue
        try:
            if fd is None or _try_lock(fd):
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


LABEL = {"utf-8": "UTF-8", "cp1251": "Windows-1251"}
CR_STAND_IN = "\ue00d"


@dataclass
class Copy:
    """A numbered copy of a CSV file (``_numbered_copy``)."""

    path: Path
    refused: list[tuple[int, str, str]]  # (line, reason, raw_row) of records refused
    carriage_returns: bool = False  # some value holds CR_STAND_IN for a carriage return
# The rest of a quoted value on a line: anything but a quote, or a doubled quote,
# up to the closing quote (unrolled, so a value never closed costs linear time).
QUOTED_REST = re.compile(rb'[^"]*(?:""[^"]*)*"(?!")')


def _ends_in_quote(line: bytes, in_quote: bool, delimiter: int) -> bool:
    """Whether a record is still inside a quoted value at the end of ``line``.

    As RFC 4180 and DuckDB read CSV: a quote opens a value only at the start of a
    field (``ООО "Ромашка"`` unquoted is text), ``""`` inside one is a quote. The
    delimiter and the quote are ASCII, never part of a UTF-8 or Windows-1251 letter,
    so the bytes are scanned as they are."""
    pos, end = 0, len(line)
    while True:
        if in_quote:
            m = QUOTED_REST.match(line, pos)
            if m is None:
                return True
            in_quote = False
            pos = m.end()
        elif pos < end and line[pos] == 0x22:
            in_quote = True
            pos += 1
            continue
        nxt = line.find(delimiter, pos)
        if nxt < 0:
            return False
        pos = nxt + 1


def _numbered_copy(path: Path, header: Header, folder: Path) -> Copy:
    """A UTF-8 copy of the records of ``path`` after the header, each led by two fields:
    the line it starts on, as a text editor numbers them, and its place counting the
    header as 1 (the row a spreadsheet shows); plus the records refused on the way:
    (line, reason, text).

    Records are split and read here, as RFC 4180 says (a quote opens a value only at
    the start of a field), and written with every field quoted. Refused here, each
    alone: a record whose bytes are not valid in the file's encoding, one that is not
    well-formed CSV (text after a closing quote, a bare carriage return) or has the
    wrong number of fields, and every line from a quote never closed to the end of the
    file. Blank lines hold nothing and are skipped. Written in one pass, readable by
    its owner only."""
    target = folder / "source.utf8.csv"
    encoding, label = header.encoding, LABEL.get(header.encoding, header.encoding)
    delimiter = header.delimiter or ","
    d = ord(delimiter)
    refused: list[tuple[int, str, str]] = []
    copy = Copy(target, refused)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    width = len(header.names)
    with path.open("rb") as src, open(fd, "w", encoding="utf-8", newline="") as dst:
        out = csv.writer(dst, delimiter=delimiter, quotechar='"', doublequote=True,
                         quoting=csv.QUOTE_ALL, lineterminator="\n")
        src.readline()  # the header, checked already
        number, record, start, in_quote, lines = 1, [], 0, False, 1
        for line in src:
            lines += 1
            if not record:
                start = lines
            record.append(line)
            if b'"' in line or in_quote:
                in_quote = _ends_in_quote(line, in_quote, d)
            if in_quote:
                continue
            number += 1
            data = record[0] if len(record) == 1 else b"".join(record)
            record = []
            if not data.strip(b"\r\n"):
                continue
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as e:
                at = start + data.count(b"\n", 0, e.start)
                column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
                where = f"line {at:,}, " if at != start else ""
                refused.append((start, f"not valid {label} text ({where}byte "
                                       f"0x{data[e.start]:02X} at character {column:,}: a "
                                       "file in two encodings? see --encoding)",
                                _raw(data, encoding, number)))
                continue
            text = text[:-2] if text.endswith("\r\n") else text.rstrip("\n")
            if "\r" not in text and (plain := _plain_fields(text, delimiter)):
                # One line whose every field is bare or wholly quoted: DuckDB reads it as
                # written, with the same edges (the common case, kept fast).
                if plain == width:
                    dst.write(f"{start}{delimiter}{number}{delimiter}{text}\n")
                else:
                    refused.append((start, f"line cannot be read: the line has {plain} "
                                           f"fields, the header {width}",
                                    _raw(data, encoding, number)))
                continue
            # Otherwise the record's fields are read here, so that DuckDB gets one
            # unambiguous spelling (every field quoted) and can never draw a record's
            # edges differently (it would, say, take ' "q' as a quote opened after a
            # space).
            try:
                fields = next(csv.reader([text], delimiter=delimiter, quotechar='"',
                                         doublequote=True, strict=True))
            except csv.Error as e:
                refused.append((start, f"line cannot be read: {e}", _raw(data, encoding,
                                                                        number)))
                continue
            if len(fields) != width:
                refused.append((start, f"line cannot be read: the line has {len(fields)} "
                                       f"fields, the header {width}",
                                _raw(data, encoding, number)))
                continue
            if "\r" in text:
                if CR_STAND_IN in text:
                    refused.append((start, "holds both a carriage return and the character "
                                           "U+E00D, which the reader uses to stand in for "
                                           "one", _raw(data, encoding, number)))
                    continue
                # DuckDB's parser stops at a carriage return, even quoted: it stands in
                # as a private-use character, put back once staged.
                fields = [f.replace("\r", CR_STAND_IN) for f in fields]
                copy.carriage_returns = True
            out.writerow([start, number, *fields])
        for k, line in enumerate(record):
            refused.append((start + k, f"a quote opened on line {start:,} is never closed "
                                       "(the file ends inside a quoted value)",
                            _raw(line, encoding, number + 1)))
    return copy


_PLAIN_LINES: dict[str, re.Pattern[str]] = {}


def _plain_fields(text: str, delimiter: str) -> int:
    """How many fields ``text`` has when each is either free of quotes and line breaks
    or wholly quoted, doubled quotes inside (``"a;b"``); 0 for any other line."""
    pattern = _PLAIN_LINES.get(delimiter)
    if pattern is None:
        d = re.escape(delimiter)
        field = f'(?:"[^"]*(?:""[^"]*)*"|[^"{d}\n]*)'
        pattern = _PLAIN_LINES[delimiter] = re.compile(f"{field}(?:{d}{field})*")
    if '"' not in text:
        return text.count(delimiter) + 1 if "\n" not in text else 0
    if pattern.fullmatch(text) is None:
        return 0
    return re.sub('"[^"]*(?:""[^"]*)*"', "", text).count(delimiter) + 1


def _put_back_carriage_returns(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    stand_in = sqltext.literal(CR_STAND_IN, "duckdb")
    sets = ", ".join(f"{sqltext.ident(n, 'duckdb')} = replace({sqltext.ident(n, 'duckdb')}, "
                     f"{stand_in}, chr(13))" for n in names)
    con.execute(f"update {STAGE} set {sets}")
    # In raw_row's JSON a carriage return is written \r.
    con.execute(f"update {REJECTS} set raw = replace(raw, {stand_in}, "
                f"{sqltext.literal(chr(92) + 'r', 'duckdb')})")


def _raw(data: bytes, encoding: str, record: int) -> str:
    """A refused record's text for ``raw_row``: undecodable bytes shown as \\xNN."""
    text = data.decode(encoding, errors="backslashreplace").rstrip("\r\n")
    return json.dumps({"_line": text, "_record": str(record)}, ensure_ascii=False,
                      separators=(",", ":"))


def _stage_csv(con: duckdb.DuckDBPyConnection, source: Path, path: Path, header: Header,
               names: list[str], refused: list[tuple[int, str, str]]) -> int:
    """Stage ``source``: the file itself (its records one a line) or a numbered copy
    (``_numbered_copy``), whose first two fields are each record's line and place."""
    drop_stage(con)
    con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
    numbered = source.name == "source.utf8.csv"
    lead = ["__line", "__record"] if numbered else []
    columns = dict.fromkeys([*lead, *names], "VARCHAR")
    try:
        # Every value as text: the importer parses it, so a bad value refuses
        # one row instead of failing the file or being guessed. The columns get the
        # model's names (checked in Python); nothing is sniffed, so a file whose last
        # quote is never closed cannot stop the read.
        row = ("cast(__line as bigint) as __row, cast(__record as bigint) as __record"
               if numbered else
               "cast(row_number() over () as bigint) + 1 as __row, "
               "cast(row_number() over () as bigint) + 1 as __record")
        exclude = "exclude (__line, __record)" if numbered else ""
        con.execute(
            f"create temp table {STAGE} as select * {exclude}, {row} from read_csv(?, "
            "delim = ?, header = ?, columns = ?, quote = '\"', escape = '\"', "
            "store_rejects = true, auto_detect = false)",
            [str(source), header.delimiter, not numbered, columns])
    except duckdb.Error as e:
        raise ImportFileError(f"{shown(str(path))}: cannot read as CSV ({_first(e)})") \
            from None
    # DuckDB logs one error per surplus column; a record is one row to quarantine. In a
    # numbered copy the record's own line leads its text.
    if numbered:
        where = ("coalesce(try_cast(regexp_extract(min(csv_line), '^([0-9]+)', 1) as bigint), "
                 "line)")
        # The two leading fields are digits, each followed by the delimiter (never a digit).
        text = "regexp_replace(min(csv_line), '^[0-9]+[^0-9][0-9]+[^0-9]', '')"
        record = "regexp_extract(min(csv_line), '^[0-9]+[^0-9]([0-9]+)', 1)"
    else:
        where, text, record = "line", "min(csv_line)", "cast(line as varchar)"
    # DuckDB's counts of fields include the two leading ones of a numbered copy.
    lead_n = len(lead)
    message = ("case when min(error_type) in ('TOO MANY COLUMNS', 'TOO FEW COLUMNS') then "
               "'the line has ' || (try_cast(regexp_extract(min(error_message), "
               f"'Found: ([0-9]+)', 1) as int) - {lead_n}) || ' fields, the header ' || "
               "(try_cast(regexp_extract(min(error_message), 'Columns: ([0-9]+)', 1) as int)"
               f" - {lead_n}) else min(error_message) end")
    con.execute(f"""create temp table {REJECTS} as
        select {where} as line, 'line cannot be read: ' || {message} as reason,
               json_object('_line', {text}, '_record', {record}) as raw
        from reject_errors group by line""")
    con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
    if refused:
        con.executemany(f"insert into {REJECTS} values (?, ?, ?)",
                        [list(r) for r in refused])
    (rejects,) = con.execute(f"select count(*) from {REJECTS}").fetchone()
    if rejects and not numbered:
        # Accepted records were numbered 1, 2, ... in file order, skipping the
        # rejected ones; give each its own line (the k-th line not rejected).
        con.execute(f"""update {STAGE} set __row = m.line, __record = m.line from (
                select row_number() over (order by l) + 1 as k, l as line
                from range(2, (select count(*) from {STAGE}) + ? + 2) t(l)
                anti join {REJECTS} r on r.line = t.l) m
            where {STAGE}.__row = m.k""", [int(rejects)])
    return int(rejects)


def _first(e: Exception) -> str:
    return shown(str(e).strip().splitlines()[0], 300)
