"""Importing bank exports into the warehouse: validate, quarantine, upsert, once.

Every row of a file ends up either in its canonical table or in ``quarantine``
with the file, its line (CSV; the header is line 1) or row (Parquet) and every
reason it was refused. A file is applied in one transaction, so a failure
leaves the warehouse as it was. ``import_log`` remembers each file's SHA-256:
importing the same bytes into the same table again does nothing, and rows that
arrive again from another file replace the old ones by primary key.

The checks run as set-based SQL in DuckDB, so a 50-million-row file is a few
scans and hash joins, not a Python loop.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clientlens.engines import sqltext
from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.errors import ImportFileError, did_you_mean
from clientlens.model.tables import TABLES, Table
from clientlens.services.ingest.checks import CHECKED, checked_sql, header_columns
from clientlens.services.ingest.reader import (
    CSV_SUFFIXES,
    REJECTS,
    STAGE,
    SUFFIXES,
    Staged,
    drop_stage,
    fingerprint,
    read_header,
    remove_stale_scratch,
    shown,
    stage_file,
)

IMPORT_ORDER = tuple(TABLES)  # parents first
D = "duckdb"  # files are checked and staged in the embedded DuckDB
REPLACED = "replaced"
DEFAULT_TIME_ZONE = "Europe/Moscow"  # the Settings default; see grammar.py


@dataclass
class ImportReport:
    table: str
    file: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0  # new primary keys
    rows_updated: int = 0  # primary keys already in the warehouse, replaced
    rows_quarantined: int = 0
    # Reason -> rows, with the rows' values left out ("unknown customer_id … (not in
    # customers)"), so a file with a million bad rows gives a handful of lines.
    reasons: Counter[str] = field(default_factory=Counter)
    already_imported: bool = False
    encoding: str = ""
    # Loaded rows worth a look, by kind (not refusals): "dated before its account opened".
    notes: Counter[str] = field(default_factory=Counter)


def table_for_file(path: Path) -> str:
    """The canonical table a file is for, from its name (accounts_2026-10.csv -> accounts)."""
    stem = Path(path).name.lower().split(".")[0]
    for name in TABLES:
        if stem == name or stem.startswith(name + "_") or stem.startswith(name + "-"):
            return name
    raise ImportFileError(f"{path}: cannot tell the table from the file name; name it like "
                          f"{', '.join(IMPORT_ORDER)} (e.g. accounts_2026-10.csv) or pass "
                          "--table")


def import_directory(engine: DuckDBEngine, folder: str | Path, *, encoding: str = "auto",
                     delimiter: str | None = None, decimal_comma: bool | None = None,
                     base_currency: str = "RUB", time_zone: str = DEFAULT_TIME_ZONE,
                     force: bool = False, progress: Callable[[str], None] | None = None
                     ) -> list[ImportReport]:
    """Import every CSV/Parquet file of a folder, parents before children.

    Every file must be named after its table; a stray file stops the folder
    before anything is imported rather than being skipped unnoticed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImportFileError(f"{folder}: no such folder")
    files = [p for p in sorted(folder.iterdir())
             if p.is_file() and p.suffix.lower() in SUFFIXES]
    if not files:
        raise ImportFileError(f"{folder}: no .csv or .parquet files to import")
    tables = {p: table_for_file(p) for p in files}
    ordered = sorted(files, key=lambda p: (IMPORT_ORDER.index(tables[p]), p.name))
    return [import_file(engine, tables[p], p, encoding=encoding, delimiter=delimiter,
                        decimal_comma=decimal_comma, base_currency=base_currency,
                        time_zone=time_zone, force=force, progress=progress)
            for p in ordered]


def import_file(engine: DuckDBEngine, table: str, path: str | Path, *, encoding: str = "auto",
                delimiter: str | None = None, decimal_comma: bool | None = None,
                base_currency: str = "RUB", time_zone: str = DEFAULT_TIME_ZONE,
                force: bool = False, progress: Callable[[str], None] | None = None) -> ImportReport:
    """Validate and load one file into one canonical table.

    Raises ImportFileError when the file cannot be imported at all (unknown
    type, unreadable, header problems); bad rows never raise, they go to
    ``quarantine``.
    """
    path = Path(path)
    if table not in TABLES:
        raise ImportFileError(f"unknown table '{shown(table)}'.{did_you_mean(table, TABLES)} "
                              f"Tables: {', '.join(IMPORT_ORDER)}")
    if "\x00" in str(path):
        raise ImportFileError(f"{shown(str(path))}: a file name cannot hold a NUL character")
    if not path.is_file():
        raise ImportFileError(f"{shown(str(path))}: no such file")
    if path.suffix.lower() not in SUFFIXES:
        raise ImportFileError(f"{shown(str(path))}: unknown file type '{shown(path.suffix)}'; "
                              "use .csv, .txt or .parquet")
    if not re.fullmatch(r"[A-Z]{3}", base_currency):
        raise ImportFileError(f"base currency '{shown(base_currency)}' must be a 3-letter code "
                              "like RUB")
    spec = TABLES[table]
    if spec.origin != "import":
        command = {"recovery_cases": "cases", "programme_referrals": "referrals"}.get(table,
                                                                                    table)
        raise ImportFileError(f"{path}: {table} are recorded in clientlens itself "
                              f"(clientlens {command}), not imported from files")
    con = engine.con
    scratch = Path(engine.path).parent if engine.path != ":memory:" else None
    # A copy a killed import left holds plaintext personal data: gone before anything else.
    remove_stale_scratch(scratch)
    _ensure_bookkeeping(engine)
    say = progress or (lambda _m: None)
    say(f"hashing {path.name}")
    fp = fingerprint(path, check_utf8=path.suffix.lower() in CSV_SUFFIXES)
    report = ImportReport(table=table, file=str(path), sha256=fp.sha256)
    (seen,) = con.execute("select count(*) from import_log where table_name = ? and sha256 = ?",
                          [table, fp.sha256]).fetchone()
    if seen and not force:
        report.already_imported = True
        return report

    # The header is checked against the data model before any SQL is built from it.
    header = read_header(con, path, encoding=encoding, delimiter=delimiter, fingerprint=fp)
    columns = header_columns(header, spec, path)
    if header.note:
        report.notes[header.note] = 1
    try:
        say(f"reading {path.name}")
        staged = stage_file(con, path, header, columns, scratch=scratch)
        report.encoding = staged.encoding
        comma = decimal_comma if decimal_comma is not None else staged.delimiter == ";"
        say(f"checking {path.name}")
        con.execute(checked_sql(spec, staged, comma, base_currency, time_zone))
        say(f"loading {path.name}")
        _apply(engine, spec, staged, report)
    finally:
        drop_stage(con)
        con.execute(f"drop table if exists {CHECKED}; drop table if exists {REPLACED}")
    return report


def _apply(engine: DuckDBEngine, spec: Table, staged: Staged, report: ImportReport) -> None:
    """Quarantine, upsert and log in one transaction: all of it or none of it."""
    con = engine.con
    import_id = str(uuid.uuid4())
    meta = [import_id, spec.name, report.file]
    cols = sqltext.idents(spec.column_names, D)
    pk, target = sqltext.ident(spec.primary_key, D), sqltext.ident(spec.name, D)
    con.execute("begin transaction")
    try:
        # A forced re-import of the same bytes supersedes the earlier refusals.
        con.execute("delete from quarantine where import_id in (select import_id from "
                    "import_log where table_name = ? and sha256 = ?)", [spec.name, report.sha256])
        # The original strings are kept for refused rows only: a bank corrects
        # and resends them, and good rows need no second copy.
        raw = ", ".join(f"{sqltext.literal(c, D)}, cast({sqltext.column(c, D, 's')} as varchar)"
                        for c in staged.columns)
        if staged.delimiter is not None:
            # The record's place counting the header as 1: the row a spreadsheet shows.
            raw += ", '_record', cast(s.__record as varchar)"
        con.execute(f"""insert into quarantine
            select ?, ?, ?, c.__row, c.reason, json_object({raw})
            from (select __row, reason from {CHECKED} where reason <> '') c
            join {STAGE} s on s.__row = c.__row""", meta)
        con.execute(f"insert into quarantine select ?, ?, ?, line, reason, raw from {REJECTS}",
                    meta)
        # Keys already in the warehouse are found once; they are updates, replaced below.
        con.execute(f"""create or replace temp table {REPLACED} as
            select c.{pk} as k from {CHECKED} c semi join {target} t on c.{pk} = t.{pk}
            where c.reason = ''""")
        (updated,) = con.execute(f"select count(*) from {REPLACED}").fetchone()
        if updated:
            con.execute(f"delete from {target} where {pk} in (select k from {REPLACED})")
        con.execute(f"""insert into {target} ({cols})
            select {cols} from {CHECKED} where reason = ''""")
        read, good = con.execute(f"""select count(*), count(*) filter (where reason = '')
            from {CHECKED}""").fetchone()
        report.rows_read = read + staged.rejects
        report.rows_updated = updated
        report.rows_loaded = good - updated
        report.rows_quarantined = report.rows_read - good
        # Values are quoted in reasons; leaving them out groups the reasons by kind
        # in SQL, however many distinct bad values there are.
        kinds = con.execute(f"""select kind, count(*) from (
                select unnest(string_split(regexp_replace(regexp_replace(regexp_replace(
                    reason, '''[^'']*''', '…', 'g'), '(line|row|character) [0-9,]+', '\\1 …',
                    'g'), '0x[0-9A-F]{{2}}', '…', 'g'), '; ')) as kind
                from (select reason from {CHECKED} where reason <> ''
                      union all select reason from {REJECTS}))
            group by kind""").fetchall()
        report.reasons.update(dict(kinds))
        _notes(con, spec, report)
        con.execute("insert into import_log values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [*meta, report.sha256, report.rows_read, report.rows_loaded,
                     report.rows_updated, report.rows_quarantined, dt.datetime.now()])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _notes(con, spec: Table, report: ImportReport) -> None:  # noqa: ANN001
    """Loaded rows that are legal but a data team wants to hear about.

    A movement dated before its account's ``opened_on`` is loaded as written: core
    systems reset ``opened_on`` when they migrate an account, and the movement still
    happened (data-model.md). It is counted, not refused."""
    if spec.event_time is None or not any(fk.table == "accounts" for fk in spec.foreign_keys):
        return
    when = sqltext.ident(spec.event_time, D)
    (early,) = con.execute(f"""select count(*) from {CHECKED} c join accounts a
        on a.account_id = c.account_id
        where c.reason = '' and cast(c.{when} as date) < a.opened_on""").fetchone()
    if early:
        report.notes[f"{spec.name} dated before their account's opened_on (loaded as "
                     "written)"] = int(early)


def _ensure_bookkeeping(engine: DuckDBEngine) -> None:
    engine.execute("""create table if not exists quarantine (
        import_id varchar, table_name varchar, file varchar, row_number bigint,
        reason varchar, raw_row varchar)""")
    engine.execute("""create table if not exists import_log (
        import_id varchar, table_name varchar, file varchar, sha256 varchar,
        rows_read bigint, rows_loaded bigint, rows_updated bigint, rows_quarantined bigint,
        imported_at timestamp)""")
