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

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.model.errors import ImportFileError, did_you_mean
from clientlens.model.tables import ACCOUNT_SUBTYPES, TABLES, ColumnType, Table
from clientlens.services.csv_source import (
    CSV_SUFFIXES,
    REJECTS,
    STAGE,
    SUFFIXES,
    Staged,
    drop_stage,
    fingerprint,
    stage_file,
)

IMPORT_ORDER = tuple(TABLES)  # parents first
SQL_TYPE = {ColumnType.TEXT: "varchar", ColumnType.INTEGER: "bigint",
            ColumnType.DECIMAL: "decimal(18, 2)", ColumnType.DATE: "date",
            ColumnType.TIMESTAMP: "timestamp", ColumnType.BOOLEAN: "boolean"}
TRUE_WORDS = ("true", "t", "1", "yes", "y", "да", "д")
FALSE_WORDS = ("false", "f", "0", "no", "n", "нет", "н")
CHECKED = "checked"
REPLACED = "replaced"


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
                     base_currency: str = "RUB", force: bool = False,
                     progress: Callable[[str], None] | None = None) -> list[ImportReport]:
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
                        decimal_comma=decimal_comma, base_currency=base_currency, force=force,
                        progress=progress)
            for p in ordered]


def import_file(engine: DuckDBEngine, table: str, path: str | Path, *, encoding: str = "auto",
                delimiter: str | None = None, decimal_comma: bool | None = None,
                base_currency: str = "RUB", force: bool = False,
                progress: Callable[[str], None] | None = None) -> ImportReport:
    """Validate and load one file into one canonical table.

    Raises ImportFileError when the file cannot be imported at all (unknown
    type, unreadable, header problems); bad rows never raise, they go to
    ``quarantine``.
    """
    path = Path(path)
    if table not in TABLES:
        raise ImportFileError(f"unknown table '{table}'.{did_you_mean(table, TABLES)} "
                              f"Tables: {', '.join(IMPORT_ORDER)}")
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    if path.suffix.lower() not in SUFFIXES:
        raise ImportFileError(f"{path}: unknown file type '{path.suffix}'; use .csv, .txt "
                              "or .parquet")
    if not re.fullmatch(r"[A-Z]{3}", base_currency):
        raise ImportFileError(f"base currency '{base_currency}' must be a 3-letter code like RUB")
    spec = TABLES[table]
    if spec.origin != "import":
        command = {"recovery_cases": "cases", "programme_referrals": "referrals"}.get(table,
                                                                                    table)
        raise ImportFileError(f"{path}: {table} are recorded in clientlens itself "
                              f"(clientlens {command}), not imported from files")
    con = engine.con
    _ensure_bookkeeping(engine)
    say = progress or (lambda _m: None)
    say(f"hashing {path.name}")
    fp = fingerprint(path, check_utf8=path.suffix.lower() in CSV_SUFFIXES
                     and encoding.lower() == "auto")
    report = ImportReport(table=table, file=str(path), sha256=fp.sha256)
    (seen,) = con.execute("select count(*) from import_log where table_name = ? and sha256 = ?",
                          [table, fp.sha256]).fetchone()
    if seen and not force:
        report.already_imported = True
        return report

    try:
        say(f"reading {path.name}")
        scratch = Path(engine.path).parent if engine.path != ":memory:" else None
        staged = stage_file(con, path, encoding=encoding, delimiter=delimiter,
                            fingerprint=fp, scratch=scratch)
        report.encoding = staged.encoding
        _check_header(staged, spec, path)
        comma = decimal_comma if decimal_comma is not None else staged.delimiter == ";"
        say(f"checking {path.name}")
        con.execute(_checked_sql(spec, staged, comma, base_currency))
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
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    pk = spec.primary_key
    con.execute("begin transaction")
    try:
        # A forced re-import of the same bytes supersedes the earlier refusals.
        con.execute("delete from quarantine where import_id in (select import_id from "
                    "import_log where table_name = ? and sha256 = ?)", [spec.name, report.sha256])
        # The original strings are kept for refused rows only: a bank corrects
        # and resends them, and good rows need no second copy.
        raw = ", ".join(f"'{c}', cast(s.\"{c}\" as varchar)" for c in staged.columns)
        con.execute(f"""insert into quarantine
            select ?, ?, ?, c.__row, c.reason, json_object({raw})
            from (select __row, reason from {CHECKED} where reason <> '') c
            join {STAGE} s on s.__row = c.__row""", meta)
        con.execute(f"insert into quarantine select ?, ?, ?, line, reason, raw from {REJECTS}",
                    meta)
        # Keys already in the warehouse are found once; they are updates, replaced below.
        con.execute(f"""create or replace temp table {REPLACED} as
            select c."{pk}" as k from {CHECKED} c semi join "{spec.name}" t on c."{pk}" = t."{pk}"
            where c.reason = ''""")
        (updated,) = con.execute(f"select count(*) from {REPLACED}").fetchone()
        if updated:
            con.execute(f'delete from "{spec.name}" where "{pk}" in (select k from {REPLACED})')
        con.execute(f"""insert into "{spec.name}" ({cols})
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
                select unnest(string_split(regexp_replace(regexp_replace(reason,
                    '''[^'']*''', '…', 'g'), '(line|row) [0-9]+', '\\1 …', 'g'), '; ')) as kind
                from (select reason from {CHECKED} where reason <> ''
                      union all select reason from {REJECTS}))
            group by kind""").fetchall()
        report.reasons.update(dict(kinds))
        con.execute("insert into import_log values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [*meta, report.sha256, report.rows_read, report.rows_loaded,
                     report.rows_updated, report.rows_quarantined, dt.datetime.now()])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _ensure_bookkeeping(engine: DuckDBEngine) -> None:
    engine.execute("""create table if not exists quarantine (
        import_id varchar, table_name varchar, file varchar, row_number bigint,
        reason varchar, raw_row varchar)""")
    engine.execute("""create table if not exists import_log (
        import_id varchar, table_name varchar, file varchar, sha256 varchar,
        rows_read bigint, rows_loaded bigint, rows_updated bigint, rows_quarantined bigint,
        imported_at timestamp)""")


def _check_header(staged: Staged, spec: Table, path: Path) -> None:
    known = spec.column_names
    unknown = [c for c in staged.columns if c not in known]
    if unknown:
        hints = "".join(did_you_mean(c, known) for c in unknown[:3])
        raise ImportFileError(f"{path}: unknown column(s) {', '.join(unknown)} for table "
                              f"{spec.name}.{hints}")
    missing = [c.name for c in spec.columns if c.required and c.name not in staged.columns]
    if missing:
        raise ImportFileError(f"{path}: missing required column(s) {', '.join(missing)} "
                              f"for table {spec.name}")


def _words(words: tuple[str, ...]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _text_value(text: str, ctype: ColumnType, comma: bool) -> str:
    """SQL turning trimmed text (NULL when empty) into the canonical type; NULL when it
    does not parse."""
    if ctype == ColumnType.DECIMAL:
        if comma:
            # 1 234,56 and 1 234,56 (no-break space) as written by Russian systems.
            text = f"replace(replace(replace({text}, ' ', ''), chr(160), ''), ',', '.')"
        return f"try_cast({text} as decimal(18, 2))"
    # A failed cast costs more than a pattern test, so each value goes to the
    # one parser its shape calls for.
    russian = f"{text} like '__.__.____%'"
    if ctype == ColumnType.DATE:
        return (f"case when {russian} then cast(try_strptime({text}, '%d.%m.%Y') as date) "
                f"else try_cast({text} as date) end")
    if ctype == ColumnType.TIMESTAMP:
        return (f"case when {russian} then try_strptime({text}, "
                "['%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M', '%d.%m.%Y']) "
                f"else try_cast({text} as timestamp) end")
    if ctype == ColumnType.BOOLEAN:
        return (f"case when lower({text}) in ({_words(TRUE_WORDS)}) then true "
                f"when lower({text}) in ({_words(FALSE_WORDS)}) then false end")
    return f"try_cast({text} as {SQL_TYPE[ctype]})"


def _checked_sql(spec: Table, staged: Staged, comma: bool, base_currency: str) -> str:
    """The staged rows parsed to canonical types, each with ``reason`` ('' when good).

    Every failing check is listed, not only the first: a bank fixes a row once.
    The query is layered (trimmed text, then parsed values, then reasons) so
    each value is trimmed and parsed once, however many checks read it.
    """
    trimmed, parsed, checks = [], [], []
    for col in spec.columns:
        name, t = col.name, f'"{col.name}__t"'
        if name not in staged.columns:
            parsed.append(f'cast(null as {SQL_TYPE[col.type]}) as "{name}"')
            continue
        is_text = name in staged.text_columns
        trimmed.append(f"nullif(trim(\"{name}\"), '') as {t}" if is_text else f'"{name}" as {t}')
        raw = f"cast({t} as varchar)"
        if col.allowed:
            # Vocabularies are lower-case; 'Card' and ' card' mean card.
            value = f"lower({raw})"
        elif name == "currency":
            value = f"upper({raw})"
        elif is_text:
            value = _text_value(t, col.type, comma)
        else:
            # Parquet's own types: cast, and refuse what does not fit.
            value = f"try_cast({t} as {SQL_TYPE[col.type]})"
        parsed.append(f'{value} as "{name}"')
        checks.append(f"case when {t} is not null and \"{name}\" is null then 'column {name}: "
                      f"''' || {raw} || ''' is not a valid {col.type.value}' end")
        if col.type == ColumnType.DECIMAL and (is_text or "DECIMAL" in staged.columns[name]):
            # DECIMAL(18, 2) would round 12.345 silently; money must not change.
            exact = value.replace("decimal(18, 2)", "decimal(38, 10)")
            checks.append(f"case when {exact} <> \"{name}\" then 'column {name}: ''' || {raw} "
                          "|| ''' has more than 2 decimal places' end")
        if col.required:
            checks.append(f"case when {t} is null then 'required column {name} is empty' end")
        if col.range:
            lo, hi = col.range
            checks.append(f"case when \"{name}\" < {lo} or \"{name}\" > {hi} then '{name} "
                          f"''' || {raw} || ''' is outside {lo}..{hi}' end")
        if col.allowed:
            checks.append(f"case when \"{name}\" not in ({_words(col.allowed)}) then "
                          f"'{name} ''' || {raw} || ''' is not one of "
                          f"{', '.join(col.allowed)}' end")
    extra = _table_checks(spec, base_currency)
    pk = spec.primary_key
    unit = "line" if staged.delimiter else "row"
    helpers = ", ".join(f'"{c}__t"' for c in spec.column_names if c in staged.columns)
    # Duplicates within the file: a group-by over the key keeps only repeated
    # keys (few), joined back by hash; far cheaper than a window over 50 million
    # partitions. The first occurrence is loaded, later ones are quarantined
    # pointing at it.
    return f"""create or replace temp table {CHECKED} as
    with trimmed as not materialized (select __row, {', '.join(trimmed)} from {STAGE}),
    parsed as not materialized (select *, {', '.join(parsed)} from trimmed),
    reasoned as (
        select * exclude ({helpers}), concat_ws('; ', {', '.join(checks)}) as row_reason
        from parsed
    ),
    repeated as (
        select "{pk}" as k, min(__row) as first_row from parsed
        group by k having count(*) > 1
    ),
    ranked as (
        select r.*, repeated.first_row
        from reasoned r left join repeated on r."{pk}" = repeated.k
    )
    select ranked.* exclude (row_reason, first_row{extra['exclude']}), {extra['select']}
        concat_ws('; ', nullif(row_reason, ''),
            case when __row <> first_row then
                 'duplicate {pk} ''' || "{pk}" || ''' (also on {unit} ' || first_row || ')' end
            {extra['checks']}) as reason
    from ranked {extra['joins']}
    """


def _table_checks(spec: Table, base_currency: str) -> dict[str, str]:
    """Checks across columns and against the warehouse, per table."""
    checks: list[str] = []
    owner_checks: list[str] = []  # after the unknown-key reasons, which explain them
    joins: list[str] = []
    for fk in spec.foreign_keys:
        # Parents are checked against the warehouse only: a folder is imported
        # parents first, so a child never needs its parent's file.
        alias = f"fk_{fk.column}"
        owner = ", customer_id as owner" if fk.table == "accounts" else ""
        joins.append(f'left join (select "{fk.target}" as k{owner} from "{fk.table}") {alias} '
                     f'on ranked."{fk.column}" = {alias}.k')
        checks.append(f"case when ranked.\"{fk.column}\" is not null and {alias}.k is null "
                      f"then 'unknown {fk.column} ''' || ranked.\"{fk.column}\" || ''' (not in "
                      f"{fk.table})' end")
        if fk.table == "accounts":
            owner_checks.append(
                f"case when {alias}.owner <> ranked.customer_id then 'customer_id ''' || "
                f"ranked.customer_id || ''' does not own account ''' || {alias}.k || '''' end")
    checks += owner_checks
    if spec.name == "accounts":
        pairs = " or ".join(f"(account_type = '{t}' and subtype in ({_words(subs)}))"
                            for t, subs in ACCOUNT_SUBTYPES.items())
        every_subtype = tuple(s for subs in ACCOUNT_SUBTYPES.values() for s in subs)
        checks += [
            # Only when both are known words; an unknown one has its own reason.
            f"case when account_type in ({_words(tuple(ACCOUNT_SUBTYPES))}) and subtype in "
            f"({_words(every_subtype)}) and not ({pairs}) then 'subtype ''' || subtype || "
            "''' is not allowed for account_type ''' || account_type || '''' end",
            "case when closed_on < opened_on then 'closed_on ''' || closed_on || ''' is before "
            "opened_on ''' || opened_on || '''' end",
            "case when currency is not null and not regexp_full_match(currency, '[A-Z]{3}') "
            "then 'currency ''' || currency || ''' must be a 3-letter code like RUB' end",
            # Only the bank knows the rate it used; the base currency needs none.
            f"case when ranked.balance_base is null and currency is not null and currency <> "
            f"'{base_currency}' then 'balance_base is required when currency ''' || currency || "
            f"''' is not the base currency {base_currency}' end",
        ]
    if spec.name == "customers":
        checks.append("case when car_year < 1900 or car_year > year(current_date) + 1 then "
                      "'car_year ''' || car_year || ''' is not a plausible year' end")
    exclude = extra = ""
    if spec.name == "accounts":
        # Fill the base-currency balance for accounts kept in the base currency.
        exclude = ", balance_base"
        extra = (f"coalesce(ranked.balance_base, case when ranked.currency = '{base_currency}' "
                 "then ranked.balance end) as balance_base,")
    return {"checks": "".join(f",\n            {c}" for c in checks),
            "joins": "\n    ".join(joins), "exclude": exclude, "select": extra}
