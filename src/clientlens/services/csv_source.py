"""Reading a bank's export file into a staging relation, whatever its encoding and dialect.

Russian bank exports are often Windows-1251 with ';' delimiters and decimal
commas. DuckDB reads UTF-8 natively; other encodings need an extension it
would download, so such files are transcoded to a temporary UTF-8 copy in
chunks (never the whole file in memory) and the copy is deleted as soon as it
is read. Records DuckDB cannot split into the header's columns are kept by its
reject tables with their line numbers, so they can be quarantined rather than
lost.

Rows are numbered as a user finds them in a text editor or a spreadsheet: for
CSV the header is line 1 and the first record line 2; Parquet has no header,
so its first row is 1.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from clientlens.model.errors import ImportFileError

CHUNK = 1 << 20
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
SUFFIXES = (*CSV_SUFFIXES, ".parquet")
DELIMITERS = (";", ",", "\t", "|")
ENCODINGS = {"auto": "auto", "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8",
             "cp1251": "cp1251", "windows-1251": "cp1251", "win1251": "cp1251"}
# Names of the temp relations the importer reads.
STAGE = "stage"
REJECTS = "stage_rejects"


@dataclass(frozen=True)
class Staged:
    """A file behind the temp relation ``stage``: its columns, plus ``__row``."""

    columns: dict[str, str]  # normalised (lower-case, trimmed) name -> DuckDB type, file order
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
        raise ImportFileError(f"{path}: cannot read the file ({e.strerror})") from None
    return Fingerprint(digest.hexdigest(), utf8, first == codecs.BOM_UTF8)


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, *, encoding: str,
               delimiter: str | None, fingerprint: Fingerprint,
               scratch: Path | None = None) -> Staged:
    """Put ``path`` behind temp relation ``stage``; raises ImportFileError if it cannot.

    ``drop_stage`` removes what this creates.
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _stage_parquet(con, path)
    if suffix not in CSV_SUFFIXES:
        raise ImportFileError(f"{path}: unknown file type '{suffix}'; use .csv, .txt or "
                              ".parquet")
    enc = ENCODINGS.get(encoding.lower())
    if enc is None:
        raise ImportFileError(f"unknown encoding '{encoding}': use auto, utf-8 or cp1251")
    if enc == "auto":
        enc = "utf-8" if fingerprint.utf8 else "cp1251"
    tmp = Path(tempfile.mkdtemp(prefix="clientlens-import-", dir=scratch))
    try:
        if enc == "utf-8" and not fingerprint.bom:
            source = path  # DuckDB reads it as it is; no copy
        else:
            source = _transcode(path, "utf-8-sig" if enc == "utf-8" else enc, tmp)
        delim = _read_header(source, path, delimiter)
        rejects = _stage_csv(con, source, path, delim)
    finally:
        # The stage is materialised: the UTF-8 copy is not needed any more.
        shutil.rmtree(tmp, ignore_errors=True)
    return Staged(_normalise_columns(con, path), rejects, enc, delim)


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    kinds = con.execute("select table_type from information_schema.tables "
                        "where table_name = ? and table_schema = 'main' "
                        "and table_catalog = 'temp'", [STAGE]).fetchall()
    for (kind,) in kinds:
        con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} temp.{STAGE}")
    con.execute(f"drop table if exists temp.{REJECTS}")


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    # A view, not a copy: Parquet is columnar and cheap to scan twice (once to
    # check, once more only for refused rows), and a 50-million-row file is not
    # duplicated in memory. file_row_number is the row's place in the file.
    quoted = str(path).replace("'", "''")
    try:
        described = con.execute(f"describe select * from read_parquet('{quoted}')").fetchall()
    except duckdb.Error as e:
        raise ImportFileError(f"{path}: not a readable Parquet file ({_first(e)})") from None
    names = _unique_names([r[0] for r in described], path)
    select = ", ".join(f'"{orig}" as "{norm}"' for norm, orig in names.items())
    drop_stage(con)
    con.execute(f"""create temp view {STAGE} as
        select {select}, file_row_number + 1 as __row
        from read_parquet('{quoted}', file_row_number = true)""")
    con.execute(f"create or replace temp table {REJECTS} "
                "(line bigint, reason varchar, raw varchar)")
    types = {norm: str(kind) for (_, kind, *_), norm in zip(described, names, strict=True)}
    return Staged(types, 0, "parquet", None)


def _transcode(path: Path, encoding: str, folder: Path) -> Path:
    """A UTF-8 copy of ``path`` (without a BOM), written in chunks."""
    target = folder / (path.stem + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
            while block := src.read(CHUNK):
                dst.write(decoder.decode(block))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as e:
        raise ImportFileError(f"{path}: not valid {encoding} text at byte {e.start}; "
                              "pass --encoding") from None
    return target


def _read_header(source: Path, path: Path, delimiter: str | None) -> str:
    with source.open(encoding="utf-8", newline="", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n")
    if not header.strip():
        raise ImportFileError(f"{path}: the file is empty or has no header line")
    if delimiter is None:
        counts = {d: header.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            raise ImportFileError(f"{path}: cannot tell the delimiter from the header line "
                                  "(tried ; , tab |); pass --delimiter")
    # DuckDB renames a repeated header (x -> x_1); a repeated column is the user's mistake.
    names = next(csv.reader([header], delimiter=delimiter))
    _unique_names(names, path)
    return delimiter


def _stage_csv(con: duckdb.DuckDBPyConnection, source: Path, path: Path, delim: str) -> int:
    drop_stage(con)
    con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
    try:
        # Every value as text: the importer parses it, so a bad value refuses
        # one row instead of failing the file or being guessed.
        con.execute(
            f"create temp table {STAGE} as select *, "
            "cast(row_number() over () as bigint) + 1 as __row from read_csv(?, delim = ?, "
            "header = true, all_varchar = true, quote = '\"', escape = '\"', "
            "store_rejects = true, auto_detect = true)", [str(source), delim])
    except duckdb.Error as e:
        raise ImportFileError(f"{path}: cannot read as CSV ({_first(e)})") from None
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
                from range(2, (select count(*) from {STAGE}) + {rejects} + 2) t(l)
                anti join {REJECTS} r on r.line = t.l) m
            where {STAGE}.__row = m.k""")
    return int(rejects)


def _unique_names(names: list[str], path: Path) -> dict[str, str]:
    """normalised -> original header names; a repeated column stops the file."""
    seen: dict[str, str] = {}
    for name in names:
        norm = name.strip().lstrip("\ufeff").strip().lower()
        if norm in seen:
            raise ImportFileError(f"{path}: column '{norm}' appears twice in the header")
        seen[norm] = name
    return seen


def _normalise_columns(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    described = con.execute(f"describe {STAGE}").fetchall()
    names = _unique_names([r[0] for r in described if r[0] != "__row"], path)
    for norm, name in names.items():
        if norm != name:
            con.execute(f'alter table {STAGE} rename column "{name}" to "{norm}"')
    return dict.fromkeys(names, "VARCHAR")


def _first(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300]
