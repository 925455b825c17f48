"""Importing bank exports into the warehouse: validate, quarantine, upsert, once.

Every row of a file ends up either in its canonical table or in ``quarantine``
with the file, its line (CSV; the header is line 1) or row (Parquet) and every
reason it was refused. A file is applied in one transaction, so a failure
leaves the warehouse as it was. ``import_log`` remembers each file's SHA-256:
importing the same bytes into the same table again does nothing, and rows that
arrive again from another file replace the old ones by primary key.

The checks run as set-based SQL in DuckDB, so a 50-million-row file is one
pass, not a Python loop.
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
from clientlens.model.errors import ClientlensError, ImportFileError, did_you_mean
from clientlens.model.tables import ACCOUNT_SUBTYPES, TABLES, ColumnType, Table
from clientlens.services.csv_source import sha256_of, stage_file

IMPORT_ORDER = ("customers", "accounts", "transactions", "interactions")
SQL_TYPE = {ColumnType.TEXT: "varchar", ColumnType.INTEGER: "bigint",
            ColumnType.DECIMAL: "decimal(18, 2)", ColumnType.DATE: "date",
            ColumnType.TIMESTAMP: "timestamp", ColumnType.BOOLEAN: "boolean"}
TRUE_WORDS = ("true", "t", "1", "yes", "y", "да", "д")
FALSE_WORDS = ("false", "f", "0", "no", "n", "нет", "н")


@dataclass
class ImportReport:
    table: str
    file: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_updated: int = 0
    rows_quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    already_imported: bool = False
    encoding: str = ""


def table_for_file(path: Path) -> str:
    """The canonical table a file is for, from its name (accounts_2026-10.csv -> accounts)."""
    stem = path.name.lower().split(".")[0]
    for name in TABLES:
        if stem == name or stem.startswith(name + "_") or stem.startswith(name + "-"):
            return name
    raise ImportFileError(f"{path}: cannot tell the table from the file name; name it like "
                          f"{', '.join(IMPORT_ORDER)} (e.g. accounts_2026-10.csv) or pass "
                          "--table")


def import_directory(engine: DuckDBEngine, folder: Path, **options: object
                     ) -> list[ImportReport]:
    """Import every CSV/Parquet file of a folder, parents before children."""
    files = [p for p in sorted(Path(folder).iterdir())
             if p.is_file() and p.suffix.lower() in (".csv", ".parquet", ".txt", ".tsv")]
    if not files:
        raise ImportFileError(f"{folder}: no .csv or .parquet files to import")
    by_table = sorted(files, key=lambda p: (IMPORT_ORDER.index(table_for_file(p)), p.name))
    return [import_file(engine, table_for_file(p), p, **options)  # type: ignore[arg-type]
            for p in by_table]


def import_file(engine: DuckDBEngine, table: str, path: str | Path, *, encoding: str = "auto",
                delimiter: str | None = None, decimal_comma: bool | None = None,
                base_currency: str = "RUB", force: bool = False,
                progress: Callable[[str], None] | None = None) -> ImportReport:
    """Validate and load one file into one canonical table."""
    path = Path(path)
    if table not in TABLES:
        raise ImportFileError(f"unknown table '{table}'.{did_you_mean(table, TABLES)} "
                              f"Tables: {', '.join(IMPORT_ORDER)}")
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    spec = TABLES[table]
    con = engine.con
    _ensure_bookkeeping(engine)
    say = progress or (lambda _m: None)
    say(f"hashing {path.name}")
    digest = sha256_of(path)
    report = ImportReport(table=table, file=str(path), sha256=digest)
    seen = con.execute("select count(*) from import_log where table_name = ? and sha256 = ?",
                       [table, digest]).fetchone()[0]
    if seen and not force:
        report.already_imported = True
        return report

    say(f"reading {path.name}")
    staged = stage_file(con, path, encoding=encoding, delimiter=delimiter,
                        scratch=Path(engine.path).parent if engine.path != ":memory:" else None)
    report.encoding = staged.encoding
    _check_header(staged.columns, spec, path)
    if staged.rejects:
        _renumber_lines(con, [line for line, _, _ in staged.rejects])
    elif not staged.typed:
        con.execute("update stage set __row = __row + 1")  # the header is line 1
    comma = decimal_comma if decimal_comma is not None else staged.delimiter == ";"

    say(f"checking {path.name}")
    con.execute(_checked_sql(spec, staged.columns, staged.typed, comma, base_currency))
    import_id = str(uuid.uuid4())
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    pk = spec.primary_key
    say(f"loading {path.name}")
    con.execute("begin transaction")
    try:
        # The original values are kept as JSON for refused rows only.
        raw = ", ".join(f"'{c}', cast(s.\"{c}\" as varchar)" for c in staged.columns)
        con.execute(f"""insert into quarantine
            select ?, ?, ?, c.__row, c.reason, json_object({raw})
            from checked c join stage s on s.__row = c.__row where c.reason <> ''""",
                    [import_id, table, str(path)])
        for line, reason, raw in staged.rejects:
            con.execute("insert into quarantine values (?, ?, ?, ?, ?, ?)",
                        [import_id, table, str(path), line, reason, raw])
        # Keys already in the warehouse are found once; they are updates, replaced below.
        con.execute(f"""create or replace temp table replaced as
            select c."{pk}" as k from checked c semi join "{table}" t on c."{pk}" = t."{pk}"
            where c.reason = ''""")
        updated = con.execute("select count(*) from replaced").fetchone()[0]
        if updated:
            con.execute(f'delete from "{table}" where "{pk}" in (select k from replaced)')
        con.execute(f"""insert into "{table}" ({cols})
            select {cols} from checked where reason = ''""")
        counts = con.execute("""select count(*), count(*) filter (where reason = '')
            from checked""").fetchone()
        report.rows_read = counts[0] + len(staged.rejects)
        report.rows_updated = updated
        report.rows_loaded = counts[1] - updated
        report.rows_quarantined = report.rows_read - counts[1]
        for reason, n in con.execute("""select reason, count(*) from
                (select unnest(string_split(reason, '; ')) as reason from checked
                 where reason <> '') group by reason""").fetchall():
            report.reasons[_reason_kind(reason)] += n
        for _, reason, _ in staged.rejects:
            report.reasons[_reason_kind(reason)] += 1
        con.execute("insert into import_log values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [import_id, table, str(path), digest, report.rows_read, report.rows_loaded,
                     report.rows_updated, report.rows_quarantined, dt.datetime.now()])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists stage; drop table if exists checked; "
                    "drop table if exists replaced")
    return report


def _reason_kind(reason: str) -> str:
    """Group reasons for the summary: 'column amount: '12x' is not a decimal' -> as is,
    but with the quoted value left out."""
    return re.sub(r"'[^']*'", "…", reason)


def _ensure_bookkeeping(engine: DuckDBEngine) -> None:
    engine.execute("""create table if not exists quarantine (
        import_id varchar, table_name varchar, file varchar, row_number bigint,
        reason varchar, raw_row varchar)""")
    engine.execute("""create table if not exists import_log (
        import_id varchar, table_name varchar, file varchar, sha256 varchar,
        rows_read bigint, rows_loaded bigint, rows_updated bigint, rows_quarantined bigint,
        imported_at timestamp)""")


def _check_header(columns: list[str], spec: Table, path: Path) -> None:
    known = spec.column_names
    unknown = [c for c in columns if c not in known]
    if unknown:
        hints = "".join(did_you_mean(c, known) for c in unknown[:3])
        raise ImportFileError(f"{path}: unknown column(s) {', '.join(unknown)} for table "
                              f"{spec.name}.{hints}")
    missing = [c.name for c in spec.columns if c.required and c.name not in columns]
    if missing:
        raise ClientlensError(f"{path}: missing required column(s) {', '.join(missing)} "
                              f"for table {spec.name}")


def _renumber_lines(con, reject_lines: list[int]) -> None:  # noqa: ANN001
    """Accepted rows are numbered 1..n; give each its real line in the file."""
    total = con.execute("select count(*) from stage").fetchone()[0] + len(reject_lines)
    con.execute("create or replace temp table rejected_lines(l bigint)")
    con.executemany("insert into rejected_lines values (?)", [[x] for x in reject_lines])
    con.execute(f"""create or replace temp table line_map as
        select row_number() over (order by l) as k, l from range(2, {total + 2}) t(l)
        where l not in (select l from rejected_lines)""")
    con.execute("update stage set __row = line_map.l from line_map where stage.__row = "
                "line_map.k")


def _parse(col: str, ctype: ColumnType, typed: bool, comma: bool) -> str:
    """SQL turning a staged value into the canonical type (NULL when it does not parse)."""
    x = f'"{col}"'
    if typed:
        return f"try_cast({x} as {SQL_TYPE[ctype]})"
    text = f"nullif(trim({x}), '')"
    if ctype == ColumnType.DECIMAL:
        if comma:
            text = f"replace(replace(replace({text}, ' ', ''), chr(160), ''), ',', '.')"
        return f"try_cast({text} as decimal(18, 2))"
    if ctype == ColumnType.DATE:
        return f"coalesce(try_cast({text} as date), cast(try_strptime({text}, '%d.%m.%Y') as date))"
    if ctype == ColumnType.TIMESTAMP:
        return (f"coalesce(try_cast({text} as timestamp), try_strptime({text}, "
                "['%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M', '%d.%m.%Y']))")
    if ctype == ColumnType.BOOLEAN:
        words = lambda ws: ", ".join(f"'{w}'" for w in ws)  # noqa: E731
        return (f"case when lower({text}) in ({words(TRUE_WORDS)}) then true "
                f"when lower({text}) in ({words(FALSE_WORDS)}) then false end")
    return f"try_cast({text} as {SQL_TYPE[ctype]})"


def _checked_sql(spec: Table, columns: list[str], typed: bool, comma: bool,
                 base_currency: str) -> str:
    parsed, checks = [], []
    for col in spec.columns:
        name = col.name
        if name not in columns:
            parsed.append(f'cast(null as {SQL_TYPE[col.type]}) as "{name}"')
            continue
        value = _parse(name, col.type, typed, comma)
        parsed.append(f'{value} as "{name}"')
        raw = f'cast("{name}" as varchar)'
        present = f"nullif(trim({raw}), '') is not null"
        checks.append(f"case when {present} and {value} is null then 'column {name}: ''' || "
                      f"{raw} || ''' is not a valid {col.type.value}' end")
        if col.required:
            checks.append(f"case when not ({present}) then 'required column {name} is "
                          "empty' end")
        if col.allowed:
            allowed = ", ".join(f"'{a}'" for a in col.allowed)
            checks.append(f"case when {present} and trim({raw}) not in ({allowed}) then "
                          f"'{name} ''' || {raw} || ''' is not one of "
                          f"{', '.join(col.allowed)}' end")
    base = (f"select __row, {', '.join(parsed)}, "
            f"concat_ws('; ', {', '.join(checks) or 'null'}) as row_reason from stage")
    extra = _table_checks(spec, base_currency)
    pk = spec.primary_key
    return f"""create or replace temp table checked as
    with parsed as materialized ({base}),
    -- Duplicates are rare: find their keys with a hash aggregate and look them up,
    -- rather than partition every row with a window function.
    dups as (
        select "{pk}" as dup_key, min(__row) as first_row from parsed
        where "{pk}" is not null group by "{pk}" having count(*) > 1
    ),
    ranked as (
        select p.*, coalesce(d.first_row, p.__row) as first_row
        from parsed p left join dups d on p."{pk}" = d.dup_key
    )
    select ranked.* exclude (row_reason, first_row{extra['exclude']}), {extra['select']}
        concat_ws('; ', nullif(row_reason, ''),
            case when "{pk}" is not null and __row <> first_row then
                 'duplicate {pk} ' || "{pk}" || ' (also on line ' || first_row || ')' end
            {extra['checks']}) as reason
    from ranked {extra['joins']}
    """


def _table_checks(spec: Table, base_currency: str) -> dict[str, str]:
    """Checks across columns and against the warehouse, per table."""
    checks: list[str] = []
    joins: list[str] = []
    for fk in spec.foreign_keys:
        alias = f"fk_{fk.column}"
        owner = ", customer_id as owner" if fk.table == "accounts" else ""
        joins.append(f'left join (select "{fk.target}" as k{owner} from "{fk.table}") {alias} '
                     f'on ranked."{fk.column}" = {alias}.k')
        checks.append(f"case when ranked.\"{fk.column}\" is not null and {alias}.k is null "
                      f"then 'unknown {fk.column} ' || ranked.\"{fk.column}\" || ' (not in "
                      f"{fk.table})' end")
        if fk.table == "accounts":
            checks.append(f"case when {alias}.k is not null and ranked.customer_id is not null "
                          f"and {alias}.owner <> ranked.customer_id then 'customer_id ' || "
                          f"ranked.customer_id || ' does not own account ' || {alias}.k end")
    if spec.name == "accounts":
        pairs = " or ".join(
            f"(account_type = '{t}' and subtype in ({', '.join(repr(s) for s in subs)}))"
            for t, subs in ACCOUNT_SUBTYPES.items())
        checks += [
            "case when account_type in ('card', 'deposit', 'current', 'loan') and subtype in "
            f"({', '.join(repr(s) for subs in ACCOUNT_SUBTYPES.values() for s in subs)}) and not "
            f"({pairs}) then 'subtype ' || subtype || ' is not allowed for account_type ' "
            "|| account_type end",
            "case when closed_on < opened_on then 'closed_on ' || closed_on || ' is before "
            "opened_on ' || opened_on end",
            "case when currency is not null and not regexp_full_match(currency, '[A-Z]{3}') "
            "then 'currency must be a 3-letter code like RUB' end",
            f"case when ranked.balance_base is null and currency is not null and currency <> "
            f"'{base_currency}' then 'balance_base is required when currency ' || currency || "
            f"' is not the base currency {base_currency}' end",
        ]
    if spec.name == "customers":
        checks.append("case when car_year is not null and (car_year < 1900 or car_year > "
                      "year(current_date) + 1) then 'car_year ' || car_year || ' is not a "
                      "plausible year' end")
    exclude = extra = ""
    if spec.name == "accounts":
        # Fill the base-currency balance for accounts kept in the base currency.
        exclude = ", balance_base"
        extra = (f"coalesce(ranked.balance_base, case when ranked.currency = '{base_currency}' "
                 "then ranked.balance end) as balance_base,")
    return {"checks": "".join(f",\n            {c}" for c in checks),
            "joins": "\n    ".join(joins), "exclude": exclude, "select": extra}
