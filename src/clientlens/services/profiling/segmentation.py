"""The nightly job: one profile row per customer per as-of date, stored and summarised.

Profiles live in the warehouse table ``profiles`` (as_of, customer_id, segment,
rulebook_version, then every glossary term). A run replaces its as-of date's
rows in one transaction: readers see the previous snapshot or the new one.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from clientlens.compiler.decisions import decision_columns
from clientlens.compiler.plan import DECIMAL_RESULT, compile_plan
from clientlens.definitions.expressions import T
from clientlens.definitions.rulebook import Definitions
from clientlens.engines import sqltext
from clientlens.engines.base import Engine
from clientlens.engines.query import col as column
from clientlens.engines.query import lit, parse
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.services.profiling.entitlements import (
    EntitlementChanges,
    count_changes,
    entitlement_steps,
    previous_date,
)

PROFILES = "profiles"


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    label: str
    customers: int
    share: float
    means: dict[str, float | None]  # mean of each money term


@dataclass(frozen=True)
class RunResult:
    as_of: dt.date
    rulebook_version: str
    customers: int
    seconds: float
    summary: list[SegmentRow]
    entitlements: EntitlementChanges | None = None
    phases: list[tuple[str, int]] | None = None  # (phase, customers), in rulebook order
    # The governed definitions version the run used (None: an ungoverned workspace's files).
    definitions_version: int | None = None


def run_segmentation(engine: Engine, defs: Definitions, as_of: dt.date, *,
                     money_unit: str = "RUB") -> RunResult:
    """Compute and store the profile snapshot for ``as_of``."""
    started = time.perf_counter()
    if not engine.fetch_all(parse("select count(*) from customers"))[0][0]:
        raise ClientlensError("the warehouse has no customers yet: import the bank's exports "
                              "first (clientlens import)")
    sync_columns(engine, defs)
    where = exp.column("as_of").eq(lit(as_of))
    steps: list[tuple[str, exp.Expression, exp.Expression | str]] = [
        (PROFILES, where, plan_sql(defs, as_of, engine))]
    previous = None
    if defs.services:
        previous = previous_date(engine, as_of)
        steps += entitlement_steps(engine, defs, as_of, previous)
    # Profiles, entitlements and their events for the date: all or nothing.
    count = engine.replace_many(steps)[0]
    changes = count_changes(engine, as_of, previous) if defs.services else None
    seconds = time.perf_counter() - started
    # A run may segment nobody (e.g. everyone registered after the as-of date).
    summary = segment_summary(engine, defs, as_of, money_unit=money_unit, require=False)
    return RunResult(as_of=as_of, rulebook_version=defs.version, customers=count,
                     seconds=seconds, summary=summary, entitlements=changes,
                     phases=phase_counts(engine, defs, as_of))


def phase_counts(engine: Engine, defs: Definitions, as_of: dt.date
                 ) -> list[tuple[str, int]] | None:
    """Customers per relationship phase on ``as_of``, in the rulebook's order."""
    if defs.phase_default is None:
        return None
    found = dict(engine.fetch_all(parse("select phase, count(*) from profiles "
                                        "where as_of = $as_of group by phase"),
                                  {"as_of": as_of}))
    return [(r.id, int(found.get(r.id, 0))) for r in defs.all_phases]


def plan_sql(defs: Definitions, as_of: dt.date, engine: Engine) -> str:
    """The compiled profile query, rendered for the engine; kept with the definitions
    (``Definitions.derived``), so the same date and engine compile once while they
    are loaded."""
    def make() -> str:
        plan = compile_plan(defs, as_of, capabilities=engine.capabilities, engine=engine.name)
        return plan.sql(engine.dialect, fence_stages=engine.fence_stages)

    key = (as_of, engine.name, engine.dialect, engine.capabilities, engine.fence_stages)
    return defs.derived.get("profile_plan", key, make, keep=64)


# The stored type of a term's column; rendered per dialect (DOUBLE is DOUBLE PRECISION
# on PostgreSQL, VARCHAR is STRING on Spark).
TERM_TYPES: dict[T, exp.DataType] = {
    T.INTEGER: exp.DataType.build("BIGINT"), T.DECIMAL: DECIMAL_RESULT,
    T.NUMBER: exp.DataType.build("DOUBLE"), T.BOOLEAN: exp.DataType.build("BOOLEAN"),
    T.DATE: exp.DataType.build("DATE"), T.TIMESTAMP: exp.DataType.build("TIMESTAMP"),
    T.TEXT: exp.DataType.build("VARCHAR")}


def sync_columns(engine: Engine, defs: Definitions) -> list[str]:
    """Make the stored profiles fit the glossary before a run writes to them.

    A glossary that gained terms adds columns; older snapshots keep NULL there. A
    term whose type changed (``open_products`` an integer, now ``open_products / 3`` a
    number) gets its column re-typed, or its new values would be cast to the old type
    (4/3 stored as 1): older snapshots keep their values when the change widens
    (integer to decimal or number, decimal to number), else they are emptied, as they
    came from a definition of another type (their ``rulebook_version`` says which).
    Returns the columns re-typed.
    """
    existing = engine.table_columns(PROFILES)
    if existing is None:
        return []
    wanted = {name: TERM_TYPES[term.type] for name, term in defs.terms.items()
              if term.type in TERM_TYPES}
    for col in decision_columns(defs):
        wanted[col] = DECIMAL_RESULT if col.endswith("_score") else \
            exp.DataType.build("BOOLEAN" if col.startswith("svc_") else "VARCHAR")
    for name, kind in wanted.items():
        if name not in existing:
            engine.add_column(PROFILES, name, kind)
    stored = engine.column_types(PROFILES) or {}
    changed = []
    for name, term in defs.terms.items():
        if name not in stored or term.type not in TERM_TYPES:
            continue
        old, new = sqltext.type_kind(stored[name]), sqltext.type_kind(TERM_TYPES[term.type])
        if old != new and old != "other":
            engine.change_column_type(PROFILES, name, TERM_TYPES[term.type],
                                      keep=(old, new) in sqltext.WIDENING)
            changed.append(name)
    return changed


def latest_as_of(engine: Engine) -> dt.date:
    if engine.table_columns(PROFILES) is None:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    (value,) = engine.fetch_all(parse("select max(as_of) from profiles"))[0]
    if value is None:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    return value


def _check_as_of(engine: Engine, as_of: dt.date) -> None:
    if engine.table_columns(PROFILES) is None:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    rows = engine.fetch_all(parse("select count(*) from profiles where as_of = $as_of"),
                            {"as_of": as_of})
    if rows[0][0] == 0:
        dates = engine.fetch_all(parse("select distinct as_of from profiles "
                                       "order by 1 desc limit 5"))
        known = ", ".join(str(d[0]) for d in dates) or "none"
        raise NotFoundError(f"no profiles for {as_of}; dates run: {known}")


def money_terms(defs: Definitions, unit: str) -> list[str]:
    return [n for n, t in defs.terms.items() if t.type == T.DECIMAL and t.unit == unit]


def segment_summary(engine: Engine, defs: Definitions, as_of: dt.date, *,
                    money_unit: str = "RUB", require: bool = True) -> list[SegmentRow]:
    """Customers, share and mean balances per segment, in rulebook order."""
    if require:
        _check_as_of(engine, as_of)
    money = [m for m in money_terms(defs, money_unit)
             if m in (engine.table_columns(PROFILES) or [])]
    query = parse("select segment, count(*) from profiles where as_of = $as_of "
                  "group by segment").select(*(exp.Avg(this=column(m)) for m in money))
    rows = engine.fetch_all(query, {"as_of": as_of})
    total = sum(r[1] for r in rows) or 1
    by_id = {r[0]: r for r in rows}
    labels = {s.id: s.labels.en for s in defs.segments}
    order = [s.id for s in defs.segments] + sorted(set(by_id) - set(labels))
    out = []
    for seg in order:
        row = by_id.get(seg)
        count = row[1] if row else 0
        out.append(SegmentRow(
            segment=seg, label=labels.get(seg, seg + " (not in current rulebook)"),
            customers=count, share=count / total,
            means={m: (float(row[2 + i]) if row and row[2 + i] is not None else None)
                   for i, m in enumerate(money)}))
    return out


def snapshot_table(engine: Engine, as_of: dt.date) -> pa.Table:
    """Every profile row of the snapshot of ``as_of`` (for a face that keeps one in
    memory)."""
    return engine.fetch_arrow(parse("select * from profiles where as_of = $as_of"),
                              {"as_of": as_of})


def profile_row(engine: Engine, customer_id: str, as_of: dt.date) -> dict | None:
    if engine.table_columns(PROFILES) is None:
        return None
    table = engine.fetch_arrow(
        parse("select * from profiles where customer_id = $customer_id and as_of = $as_of"),
        {"customer_id": customer_id, "as_of": as_of})
    rows = table.to_pylist()
    return rows[0] if rows else None
