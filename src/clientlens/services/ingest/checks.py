"""What the importer checks: the header against the data model, then every row.

The header is checked first, in Python, before any SQL: every problem at once
(repeated, unknown and missing columns), in one line naming the file. Only then is
the file staged, under the model's column names.

The rows are checked by one set-based query over the staged text (``checked_sql``):
trimmed text, then parsed values, then every reason a row is refused. Every name in
it is a column of the data model and every literal a constant of the code or the
data model, rendered by ``engines.sqltext``; the file's values are only ever data.
A value is never changed to fit: a number with more decimals than the column keeps,
in any spelling (``12.345``, ``0.000000000001``, ``1e-400``, a Parquet double
``1.005``), a whole-number column given ``1.5``, a date column given a time of day,
are refused with a reason, not rounded. Text holding a NUL character is refused
too: PostgreSQL cannot store it, and one such row would otherwise block every later
copy of the table there.
"""

from __future__ import annotations

from pathlib import Path

from clientlens.engines import sqltext
from clientlens.model.errors import ImportFileError, did_you_mean
from clientlens.model.tables import ACCOUNT_SUBTYPES, ColumnType, Table
from clientlens.services.ingest import grammar
from clientlens.services.ingest.reader import Header, Staged, normalised, shown

D = "duckdb"  # files are checked in the embedded DuckDB, whatever the engine
SQL_TYPE = {ColumnType.TEXT: "varchar", ColumnType.INTEGER: "bigint",
            ColumnType.DECIMAL: "decimal(18, 2)", ColumnType.DATE: "date",
            ColumnType.TIMESTAMP: "timestamp", ColumnType.BOOLEAN: "boolean"}
TRUE_WORDS = ("true", "t", "1", "yes", "y", "да", "д")
FALSE_WORDS = ("false", "f", "0", "no", "n", "нет", "н")
NUMERIC_SOURCES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                   "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
                   "DECIMAL")
CHECKED = "checked"
AMBIGUOUS = (" has three decimal places: a thousands separator? Money has at most 2 "
             "(write 12,34 or 12340)")


def q(name: str) -> str:
    return sqltext.ident(name, D)


def lit(value: object) -> str:
    return sqltext.literal(value, D)


def header_columns(header: Header, spec: Table, path: Path) -> dict[str, str]:
    """Model column -> the name as the file writes it; every problem of the header in
    one ImportFileError (repeated, unknown and missing required columns)."""
    known = spec.column_names
    columns: dict[str, str] = {}
    repeated: list[str] = []
    unknown: list[str] = []
    for name in header.names:
        norm = normalised(name)
        if norm not in known:
            unknown.append(name)
        elif norm in columns:
            repeated.append(norm)
        else:
            columns[norm] = name
    problems = [f"column '{c}' appears twice in the header" for c in dict.fromkeys(repeated)]
    if unknown:
        shown_names = ", ".join(_name(n) for n in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        hints = "".join(did_you_mean(normalised(n), known) for n in unknown[:3]
                        if len(n) < 100)
        problems.append(f"unknown column(s) {shown_names}{more} for table {spec.name}.{hints}"
                        .rstrip("."))
    missing = [c.name for c in spec.columns if c.required and c.name not in columns]
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)} for table "
                        f"{spec.name}")
    if problems:
        raise ImportFileError(f"{shown(str(path), 300)}: " + "; ".join(problems))
    return columns


def _name(name: str) -> str:
    """A header name in a message: as it is when plain, else quoted and escaped."""
    norm = normalised(name)
    if norm and sqltext.is_plain_name(norm) and len(name) <= 63 and name.isprintable():
        return norm
    return "'" + shown(name, 60).replace("'", "\\'") + "'" if name else "'' (an empty name)"


def _text_value(text: str, ctype: ColumnType, comma: bool, time_zone: str) -> str:
    """SQL turning trimmed text (NULL when empty) into the canonical type; NULL when it
    is not written as the type is (``grammar``: the table of data-model.md)."""
    if ctype == ColumnType.DECIMAL:
        return grammar.decimal_value(text, comma)
    if ctype == ColumnType.INTEGER:
        return grammar.integer_value(text)
    if ctype == ColumnType.DATE:
        return grammar.date_value(text)
    if ctype == ColumnType.TIMESTAMP:
        return grammar.timestamp_value(text, time_zone)
    if ctype == ColumnType.BOOLEAN:
        return (f"case when lower({text}) in ({sqltext.literals(TRUE_WORDS, D)}) then true "
                f"when lower({text}) in ({sqltext.literals(FALSE_WORDS, D)}) then false end")
    return f"try_cast({text} as {SQL_TYPE[ctype]})"


def _reason(*parts: str) -> str:
    """A reason built in SQL: literal text and SQL values, joined with ||."""
    return " || ".join(parts)


def checked_sql(spec: Table, staged: Staged, comma: bool, base_currency: str,
                time_zone: str) -> str:
    """The staged rows parsed to canonical types, each with ``reason`` ('' when good).

    Every failing check is listed, not only the first: a bank fixes a row once.
    The query is layered (trimmed text, then parsed values, then reasons) so
    each value is trimmed and parsed once, however many checks read it.
    """
    trimmed, parsed, checks = [], [], []
    for col in spec.columns:
        name = col.name
        t = q(name + "__t")
        if name not in staged.columns:
            parsed.append(f"cast(null as {SQL_TYPE[col.type]}) as {q(name)}")
            continue
        is_text = name in staged.text_columns
        source = staged.columns[name]
        trimmed.append(f"nullif(trim({q(name)}), '') as {t}" if is_text
                       else f"{q(name)} as {t}")
        raw = f"cast({t} as varchar)"
        # Values are quoted in reasons, a NUL shown as \0 (a reason is shown as text).
        quoted = f"'''' || replace({raw}, chr(0), '\\0') || ''''"
        if col.allowed:
            # Vocabularies are lower-case; 'Card' and ' card' mean card.
            value = f"lower({raw})"
        elif name == "currency":
            value = f"upper({raw})"
        elif is_text:
            value = _text_value(t, col.type, comma, time_zone)
        elif col.type == ColumnType.TIMESTAMP and "TIME ZONE" in source.upper():
            # A Parquet instant (timestamp with a zone): the wall-clock time it stands
            # for in the workspace's zone, not in the DuckDB session's (that one follows
            # the machine the import runs on).
            value = f"timezone({lit(time_zone)}, {t})"
        else:
            # Parquet's own types: cast, and refuse what does not fit.
            value = f"try_cast({t} as {SQL_TYPE[col.type]})"
        parsed.append(f"{value} as {q(name)}")
        where = lit(f"column {name}: ")
        checks.append(f"case when {t} is not null and {q(name)} is null then "
                      f"{_reason(where, quoted, lit(f' is not a valid {col.type.value}'))} end")
        if is_text:
            nul = lit(f"column {name}: holds a NUL character (" + "\\0)")
            checks.append(f"case when contains({t}, chr(0)) then {nul} end")
        checks += _exactness(col.type, name, t, is_text, source, where, quoted, comma)
        if col.required:
            checks.append(f"case when {t} is null then "
                          f"{lit(f'required column {name} is empty')} end")
        if col.range:
            lo, hi = col.range
            checks.append(f"case when {q(name)} < {lit(lo)} or {q(name)} > {lit(hi)} then "
                          f"{_reason(lit(f'{name} '), quoted, lit(f' is outside {lo}..{hi}'))}"
                          " end")
        if col.allowed:
            checks.append(f"case when {q(name)} not in ({sqltext.literals(col.allowed, D)}) "
                          f"then {_reason(lit(f'{name} '), quoted, lit(' is not one of '))}"
                          f" || {lit(', '.join(col.allowed))} end")
    extra = _table_checks(spec, base_currency)
    pk = q(spec.primary_key)
    unit = "line" if staged.delimiter else "row"
    helpers = ", ".join(q(c + "__t") for c in spec.column_names if c in staged.columns)
    duplicate = _reason(lit(f"duplicate {spec.primary_key} '"), f"judged.{pk}",
                        lit(f"' (also on {unit} "), "first_row", "')'")
    # Duplicates within the file: a group-by over the key keeps only repeated
    # keys (few), joined back by hash; far cheaper than a window over 50 million
    # partitions. Only rows with no reason of their own count: the first of them is
    # loaded, later ones are quarantined pointing at it, so a corrected re-send
    # later in the file of a row refused earlier is loaded (data-model.md).
    return f"""create or replace temp table {CHECKED} as
    with trimmed as not materialized (select __row, {', '.join(trimmed)} from stage),
    parsed as not materialized (select *, {', '.join(parsed)} from trimmed),
    reasoned as (
        select * exclude ({helpers}), concat_ws('; ', {', '.join(checks)}) as row_reason
        from parsed
    ),
    judged as materialized (
        select reasoned.* exclude (row_reason{extra['exclude']}), {extra['select']}
            concat_ws('; ', nullif(row_reason, '') {extra['checks']}) as own_reason
        from reasoned {extra['joins']}
    ),
    repeated as (
        select {pk} as k, min(__row) as first_row from judged where own_reason = ''
        group by k having count(*) > 1
    )
    select judged.* exclude (own_reason),
        concat_ws('; ', nullif(own_reason, ''),
            case when own_reason = '' and __row <> first_row then {duplicate} end) as reason
    from judged left join repeated on judged.{pk} = repeated.k
    """


def _exactness(ctype: ColumnType, name: str, t: str, is_text: bool, source: str,
               where: str, quoted: str, comma: bool) -> list[str]:
    """Checks that the stored value is the value written, not a rounded one."""
    parsed = q(name)
    if ctype == ColumnType.DECIMAL and is_text:
        three, inexact = grammar.decimal_exactness(t, comma)
        return [f"case when {parsed} is not null and {three} then "
                f"{_reason(where, quoted, lit(AMBIGUOUS))} end",
                f"case when {parsed} is not null and {inexact} then "
                f"{_reason(where, quoted, lit(' has more than 2 decimal places'))} end"]
    if is_text:
        return []
    numeric = source.upper().startswith(NUMERIC_SOURCES)
    if ctype in (ColumnType.DECIMAL, ColumnType.INTEGER) and numeric:
        # Parquet's numbers: the stored value must compare equal to the file's (a
        # double 1.005 is not 1.00, nor 1e-300 0.00, nor 1.5 the whole number 2).
        what = " has more than 2 decimal places" if ctype == ColumnType.DECIMAL \
            else " is not a whole number"
        return [f"case when {parsed} is not null and {parsed} <> {t} then "
                f"{_reason(where, quoted, lit(what))} end"]
    if ctype == ColumnType.DATE and source.upper() == "TIMESTAMP":
        return [f"case when {parsed} is not null and cast({parsed} as timestamp) <> {t} "
                f"then {_reason(where, quoted, lit(' has a time of day; the column holds dates'))}"
                " end"]
    return []


def _table_checks(spec: Table, base_currency: str) -> dict[str, str]:
    """Checks across columns and against the warehouse, per table."""
    checks: list[str] = []
    owner_checks: list[str] = []  # after the unknown-key reasons, which explain them
    joins: list[str] = []
    for fk in spec.foreign_keys:
        # Parents are checked against the warehouse only: a folder is imported
        # parents first, so a child never needs its parent's file.
        alias = q(f"fk_{fk.column}")
        owner = ", customer_id as owner" if fk.table == "accounts" else ""
        column = f"reasoned.{q(fk.column)}"
        joins.append(f"left join (select {q(fk.target)} as k{owner} from {q(fk.table)}) "
                     f"{alias} on {column} = {alias}.k")
        checks.append(f"case when {column} is not null and {alias}.k is null then "
                      + _reason(lit(f"unknown {fk.column} '"), column,
                                lit(f"' (not in {fk.table})")) + " end")
        if fk.table == "accounts":
            owner_checks.append(
                f"case when {alias}.owner <> reasoned.customer_id then 'customer_id ''' || "
                f"reasoned.customer_id || ''' does not own account ''' || {alias}.k || '''' end")
    checks += owner_checks
    base = lit(base_currency)
    if spec.name == "accounts":
        pairs = " or ".join(f"(account_type = {lit(t)} and subtype in "
                            f"({sqltext.literals(subs, D)}))"
                            for t, subs in ACCOUNT_SUBTYPES.items())
        every_subtype = tuple(s for subs in ACCOUNT_SUBTYPES.values() for s in subs)
        checks += [
            # Only when both are known words; an unknown one has its own reason.
            f"case when account_type in ({sqltext.literals(ACCOUNT_SUBTYPES, D)}) and "
            f"subtype in ({sqltext.literals(every_subtype, D)}) and not ({pairs}) then "
            "'subtype ''' || subtype || ''' is not allowed for account_type ''' || "
            "account_type || '''' end",
            "case when closed_on < opened_on then 'closed_on ''' || closed_on || ''' is before "
            "opened_on ''' || opened_on || '''' end",
            "case when currency is not null and not regexp_full_match(currency, '[A-Z]{3}') "
            "then 'currency ''' || currency || ''' must be a 3-letter code like RUB' end",
            # Only the bank knows the rate it used; the base currency needs none.
            f"case when reasoned.balance_base is null and currency is not null and currency <> "
            f"{base} then 'balance_base is required when currency ''' || currency || "
            f"''' is not the base currency ' || {base} end",
        ]
    if spec.name == "customers":
        checks.append("case when car_year < 1900 or car_year > year(current_date) + 1 then "
                      "'car_year ''' || car_year || ''' is not a plausible year' end")
    exclude = extra = ""
    if spec.name == "accounts":
        # Fill the base-currency balance for accounts kept in the base currency.
        exclude = ", balance_base"
        extra = (f"coalesce(reasoned.balance_base, case when reasoned.currency = {base} "
                 "then reasoned.balance end) as balance_base,")
    return {"checks": "".join(f",\n            {c}" for c in checks),
            "joins": "\n    ".join(joins), "exclude": exclude, "select": extra}
