"""What a bank's staff look at first: how the customer base splits on a date (by
segment, phase, need or a rating's grade, with mean balances), how the split moved
over the stored runs, the last imports with their quarantine, and which customers
moved between two values from one date to another.

Each function is one query over ``profiles`` (or the import bookkeeping) with the
column named by a checked identifier and dates as parameters.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from clientlens.engines.base import Engine
from clientlens.engines.query import col, fill, parse
from clientlens.services.analytics.matrices import (
    ABSENT,
    BALANCE,
    NONE,
    check_group_column,
    snapshot_dates,
)
from clientlens.services.profiling.segmentation import PROFILES


@dataclass(frozen=True)
class Share:
    value: str | None
    customers: int
    mean_balance: float | None


def breakdown(engine: Engine, as_of: dt.date, by: str) -> list[Share]:
    """Customers and mean ``balance_total`` per value of ``by`` on ``as_of``, largest
    first (``None``: no value, e.g. a rating without data)."""
    check_group_column(engine, by)
    has_balance = BALANCE in (engine.table_columns(PROFILES) or [])
    query = fill(parse("select $by as v, count(*) as n, avg($bal) as m from profiles "
                       "where as_of = $as_of group by 1 order by 2 desc, 1"),
                 by=col(by), bal=col(BALANCE) if has_balance else parse("null"))
    return [Share(None if v is None else str(v), int(n), None if m is None else float(m))
            for v, n, m in engine.fetch_all(query, {"as_of": as_of})]


@dataclass(frozen=True)
class Trend:
    dates: list[dt.date]
    series: dict[str, list[int]]  # value -> customers on each date


def trend(engine: Engine, by: str, last: int = 24) -> Trend:
    """Customers per value of ``by`` on each of the ``last`` stored dates."""
    check_group_column(engine, by)
    dates = snapshot_dates(engine)[-last:]
    if not dates:
        return Trend([], {})
    query = fill(parse("select as_of, $by as v, count(*) from profiles "
                       "where as_of >= $first group by 1, 2"), by=col(by))
    series: dict[str, list[int]] = {}
    index = {d: i for i, d in enumerate(dates)}
    for day, value, n in engine.fetch_all(query, {"first": dates[0]}):
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        if day in index:
            key = NONE if value is None else str(value)
            series.setdefault(key, [0] * len(dates))[index[day]] = int(n)
    return Trend(dates, series)


@dataclass(frozen=True)
class ImportRow:
    import_id: str
    table: str
    file: str
    rows_read: int
    rows_loaded: int
    rows_updated: int
    rows_quarantined: int
    imported_at: Any


def recent_imports(engine: Engine, limit: int = 10) -> list[ImportRow]:
    """The last imports, newest first (empty before the first import)."""
    if engine.table_columns("import_log") is None:
        return []
    rows = engine.fetch_all(parse(
        "select import_id, table_name, file, rows_read, rows_loaded, rows_updated, "
        "rows_quarantined, imported_at from import_log order by imported_at desc "
        "limit $n"), {"n": limit})
    return [ImportRow(str(r[0]), r[1], r[2], int(r[3] or 0), int(r[4] or 0),
                      int(r[5] or 0), int(r[6] or 0), r[7]) for r in rows]


_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"\b\d+\b")


def reason_kind(reason: str) -> str:
    """A quarantine reason without its values: the kind of problem
    (``column balance: '12x,5' is not a valid decimal`` -> ``column balance: '…' is not
    a valid decimal``), so a thousand bad rows of one kind are one line."""
    return _NUMBER.sub("N", _QUOTED.sub("'…'", reason))


def quarantine_kinds(engine: Engine, import_id: str) -> list[tuple[str, int, str]]:
    """The import's quarantined rows by kind of reason: (kind, rows, one example)."""
    if engine.table_columns("quarantine") is None:
        return []
    rows = engine.fetch_all(parse(
        "select reason, count(*) from quarantine where import_id = $id group by 1"),
        {"id": import_id})
    kinds: dict[str, list[Any]] = {}
    for reason, n in rows:
        kind = reason_kind(str(reason))
        found = kinds.setdefault(kind, [0, str(reason)])
        found[0] += int(n)
    return sorted(((k, v[0], v[1]) for k, v in kinds.items()), key=lambda x: -x[1])


@dataclass(frozen=True)
class Moved:
    customer_id: str
    value_from: str
    value_to: str
    balance_from: Any
    balance_to: Any


def moved_customers(engine: Engine, date_from: dt.date, date_to: dt.date, by: str,
                    value_from: str, value_to: str, *, limit: int = 20, offset: int = 0
                    ) -> tuple[int, list[Moved]]:
    """The customers in one cell of the migration matrix (``matrices.migration_matrix``):
    ``value_from`` on ``date_from`` and ``value_to`` on ``date_to``, where ``(none)`` is
    no value and ``(absent)`` not in that snapshot. (total, one page by customer id)."""
    check_group_column(engine, by)
    has_balance = BALANCE in (engine.table_columns(PROFILES) or [])

    # which rows of each side: absent from the snapshot, present without a value, or
    # with the value (a parameter)
    when = {"a": _side("a", value_from), "b": _side("b", value_to)}
    base = fill(parse("""
        select coalesce(a.customer_id, b.customer_id) as customer_id, a.bal, b.bal
        from (select customer_id, cast($by as varchar) as v, $bal as bal from profiles
              where as_of = $date_from) a
        full outer join (select customer_id, cast($by as varchar) as v, $bal as bal
                         from profiles where as_of = $date_to) b
          on a.customer_id = b.customer_id
        where $when_a and $when_b"""),
        by=col(by), bal=col(BALANCE) if has_balance else parse("null"),
        when_a=when["a"], when_b=when["b"])
    params: dict[str, Any] = {"date_from": date_from, "date_to": date_to}
    if value_from not in (ABSENT, NONE):
        params["a_value"] = value_from
    if value_to not in (ABSENT, NONE):
        params["b_value"] = value_to
    counted = exp.select(exp.Count(this=exp.Star())).from_(base.subquery("q"))
    total = int(engine.fetch_all(counted, params)[0][0])
    page = base.order_by("1").limit(limit).offset(offset)
    rows = engine.fetch_all(page, params)
    return total, [Moved(str(r[0]), value_from, value_to, r[1], r[2]) for r in rows]


_SIDES = {
    ("a", ABSENT): "a.customer_id is null",
    ("a", NONE): "a.customer_id is not null and a.v is null",
    ("a", None): "a.v = $a_value",
    ("b", ABSENT): "b.customer_id is null",
    ("b", NONE): "b.customer_id is not null and b.v is null",
    ("b", None): "b.v = $b_value",
}


def _side(side: str, value: str) -> exp.Expression:
    key = (side, value if value in (ABSENT, NONE) else None)
    return parse("select 1 where " + _SIDES[key]).args["where"].this
