"""Reading a bank's export file into a staging table, whatever its encoding and dialect.

Russian bank exports are often Windows-1251 with ';' delimiters and decimal
commas. DuckDB reads UTF-8 natively; other encodings need an extension it
would download, so such files are transcoded to a temporary UTF-8 copy in
chunks (never the whole file in memory). Rows DuckDB cannot split into the
header's columns are kept by its reject tables, with their line numbers, so
they can be quarantined rather than lost.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from clientlens.model.errors import ImportFileError

CHUNK = 1 << 20
DELIMITERS = (";", ",", "\t", "|")
ENCODINGS = {"auto": "auto", "utf-8": "utf-8", "utf8": "utf-8", "cp1251": "cp1251",
             "windows-1251": "cp1251", "win1251": "cp1251"}


@dataclass
class Staged:
    """A file read into a staging table: columns as in the file, plus __row."""

    table: str
    columns: list[str]  # normalised (lower-case, trimmed) names, in file order
    rejects: list[tuple[int, str, str]]  # (line, reason, raw line) DuckDB could not parse
    encoding: str
    delimiter: str | None
    typed: bool  # Parquet keeps its own column types; CSV columns are all text


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while block := fh.read(CHUNK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


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


def _detect_delimiter(header: str, path: Path) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise ImportFileError(f"{path}: cannot tell the delimiter from the header line; "
                              "pass --delimiter")
    return best


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, *, encoding: str,
               delimiter: str | None, scratch: Path | None = None) -> Staged:
    """Read ``path`` into temp table ``stage``; raises ImportFileError if it cannot."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            # The reader's own row numbers: no window function over the whole file.
            con.execute("create or replace temp table stage as select * exclude "
                        "(file_row_number), cast(file_row_number + 1 as bigint) as __row "
                        "from read_parquet(?, file_row_number = true)", [str(path)])
        except duckdb.Error as e:
            raise ImportFileError(f"{path}: not a readable Parquet file ({_first(e)})") from None
        return Staged("stage", _normalised_columns(con, path), [], "parquet", None, True)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise ImportFileError(f"{path}: unknown file type '{suffix}'; use .csv or .parquet")
    enc = ENCODINGS.get(encoding.lower())
    if enc is None:
        raise ImportFileError(f"unknown encoding '{encoding}': use auto, utf-8 or cp1251")
    with path.open("rb") as fh:
        head = fh.read(4096)
    has_bom = head.startswith(codecs.BOM_UTF8)
    if enc == "auto":
        enc = "utf-8" if _is_utf8(path) else "cp1251"
    tmp = Path(tempfile.mkdtemp(prefix="clientlens-import-", dir=scratch))
    source = path if (enc == "utf-8" and not has_bom) else \
        _transcode(path, "utf-8-sig" if enc == "utf-8" else enc, tmp)
    with source.open(encoding="utf-8", newline="") as fh:
        header = fh.readline().rstrip("\r\n")
    if not header.strip():
        raise ImportFileError(f"{path}: the file is empty or has no header line")
    delim = delimiter or _detect_delimiter(header, path)
    # DuckDB renames a repeated header (x -> x_1); a repeated column is the user's mistake.
    names = [n.strip().lower() for n in next(csv.reader([header], delimiter=delim))]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ImportFileError(f"{path}: column '{repeated[0]}' appears twice in the header")
    try:
        con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
        con.execute(
            "create or replace temp table stage as select *, "
            "cast(row_number() over () as bigint) as __row from read_csv(?, delim = ?, "
            "header = true, all_varchar = true, quote = '\"', escape = '\"', "
            "store_rejects = true, auto_detect = true)", [str(source), delim])
    except duckdb.Error as e:
        raise ImportFileError(f"{path}: cannot read as CSV ({_first(e)})") from None
    rejects = [(int(line), f"line cannot be read: {msg}", raw or "") for line, msg, raw in
               # DuckDB logs one error per surplus column; a line is one row to quarantine.
               con.execute("select line, min(error_message), min(csv_line) from reject_errors "
                           "group by line order by line").fetchall()]
    return Staged("stage", _normalised_columns(con, path), rejects, enc, delim, False)


def _normalised_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    names = [r[0] for r in con.execute(
        "select column_name from (describe stage)").fetchall() if r[0] != "__row"]
    seen: dict[str, str] = {}
    for name in names:
        norm = name.strip().lower().lstrip("\ufeff")
        if norm in seen:
            raise ImportFileError(f"{path}: column '{norm}' appears twice in the header")
        seen[norm] = name
    for norm, name in seen.items():
        if norm != name:
            con.execute(f'alter table stage rename column "{name}" to "{norm}"')
    return list(seen)


def _first(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300]
