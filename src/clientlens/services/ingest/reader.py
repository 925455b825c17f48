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
import os
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
    """SHA-256 of the file and, in the same pass, whether it is valid UTF-8."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
    utf8 = check_utf8
    first = b""
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
            if decoder is not None and utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = False
    except OSError as e:
        raise ImportFileError(f"{shown(str(path))}: cannot read the file ({e.strerror})") \
            from None
    return Fingerprint(digest.hexdigest(), utf8, first == codecs.BOM_UTF8)


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
    if enc == "auto":
        enc = "utf-8" if fingerprint.utf8 else "cp1251"
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
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ImportFileError(f"delimiter '{shown(delimiter)}' must be one character, not a "
                              "quote or a line break")
    try:
        names = next(csv.reader([line], delimiter=delimiter, quotechar='"',
                                doublequote=True, strict=True))
    except csv.Error as e:
        # e.g. a quote left open: a name holding a line break, which no column has.
        raise ImportFileError(f"{shown(str(path))}: the header line cannot be read as CSV "
                              f"({e}); a column name cannot hold a quote left open or a line "
                              "break") from None
    return Header(names, enc, delimiter, bom=raw.startswith(codecs.BOM_UTF8))


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
        if header.encoding == "utf-8" and not header.bom:
            source = path  # DuckDB reads it as it is; no copy
        else:
            source = _transcode(path, "utf-8-sig" if header.encoding == "utf-8"
                                else header.encoding, tmp)
        with readable_path(source) as readable:
            rejects = _stage_csv(con, readable, path, header, list(columns))
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


def _transcode(path: Path, encoding: str, folder: Path) -> Path:
    """A UTF-8 copy of ``path`` (without a BOM), written in chunks, readable by its
    owner only."""
    target = folder / "source.utf8.csv"
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with path.open("rb") as src, open(fd, "w", encoding="utf-8", newline="") as dst:
            while block := src.read(CHUNK):
                dst.write(decoder.decode(block))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as e:
        raise ImportFileError(f"{shown(str(path))}: not valid {encoding} text at byte "
                              f"{e.start}; pass --encoding") from None
    return target


def _stage_csv(con: duckdb.DuckDBPyConnection, source: Path, path: Path, header: Header,
               names: list[str]) -> int:
    drop_stage(con)
    con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
    try:
        # Every value as text: the importer parses it, so a bad value refuses
        # one row instead of failing the file or being guessed. The header line is
        # skipped and the columns get the model's names (checked in Python).
        con.execute(
            f"create temp table {STAGE} as select *, "
            "cast(row_number() over () as bigint) + 1 as __row from read_csv(?, delim = ?, "
            "header = true, names = ?, all_varchar = true, quote = '\"', escape = '\"', "
            "store_rejects = true, auto_detect = true)", [str(source), header.delimiter, names])
    except duckdb.Error as e:
        raise ImportFileError(f"{shown(str(path))}: cannot read as CSV ({_first(e)})") \
            from None
    got = [r[0] for r in con.execute(f"describe {STAGE}").fetchall()]
    if got != [*names, "__row"]:
        raise ImportFileError(f"{shown(str(path))}: the header has {len(names)} columns but "
                              f"the lines have {len(got) - 1}; check the delimiter and quotes "
                              "of the header line")
    # DuckDB logs one error per surplus column; a record is one row to quarantine.
    con.execute(f"""create temp table {REJECTS} as
        select line, 'line cannot be read: ' || min(error_message) as reason,
               json_object('_line', min(csv_line)) as raw
        from reject_errors group by line""")
    con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
    (rejects,) = con.execute(f"select count(*) from {REJECTS}").fetchone()
    if rejects:
        # Accepted records were numbered 1, 2, ... in file order, skipping the
        # rejected ones; give each its own line (the k-th line not rejected).
        con.execute(f"""update {STAGE} set __row = m.line from (
                select row_number() over (order by l) + 1 as k, l as line
                from range(2, (select count(*) from {STAGE}) + ? + 2) t(l)
                anti join {REJECTS} r on r.line = t.l) m
            where {STAGE}.__row = m.k""", [int(rejects)])
    return int(rejects)


def _first(e: Exception) -> str:
    return shown(str(e).strip().splitlines()[0], 300)
