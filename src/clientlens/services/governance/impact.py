"""What-if impact of a draft on the latest snapshot, before anyone approves it.

Current is what the snapshot stored; draft is what a run of the draft on the same date
would store. When the draft's terms are the snapshot's (only rules, ratings, needs,
phases or the catalogue's eligibility changed), its decisions are computed over the
stored terms (``compiler/whatif.py``): no pass over transactions. Otherwise the draft's
whole plan is run as a query, without storing anything.

One query joins both sides per customer; the rest is counted in Arrow: the migration
matrix (customers and ``balance_total``), every decision column's moves (need, grades,
phase, next-best product, leads), entitlements granted and revoked (a service flag that
turns on or off), and a sample of moved customers explained under each version.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from clientlens.compiler.decisions import decision_columns
from clientlens.compiler.plan import compile_plan
from clientlens.compiler.whatif import decisions_over_snapshot, reusable_terms
from clientlens.definitions.rulebook import Definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import lit, parse
from clientlens.model.errors import ClientlensError
from clientlens.model.tables import ENTITY_KEY
from clientlens.services.analytics.matrices import BALANCE
from clientlens.services.profiling.explain import Explanation, explain_customer
from clientlens.services.profiling.segmentation import PROFILES

GONE = "(not in population)"
# Columns whose moves are not decisions a reader weighs one by one.
QUIET = ("next_best_reason",)


@dataclass(frozen=True)
class Moved:
    customer_id: str
    before: str
    after: str
    why_before: str
    why_after: str


@dataclass
class Impact:
    as_of: dt.date
    current_version: str
    draft_version: str
    reused_terms: bool
    recomputed: list[str]        # terms that differ (recomputed from the warehouse)
    customers: int
    moved: int                   # customers whose segment changes
    segments: list[str]          # matrix rows and columns, in the draft's rule order
    counts: list[list[int]]      # counts[i][j]: current segments[i] -> draft segments[j]
    balances: list[list[float]] | None
    moves: dict[str, list[tuple[Any, Any, int]]]  # column -> (before, after, customers)
    entitlements: list[tuple[str, int, int]]      # (service column, granted, revoked)
    sample: list[Moved] = field(default_factory=list)
    seconds: float = 0.0  # the counts, without explaining the sample

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def snapshot_version(engine: Engine, as_of: dt.date) -> str | None:
    """The rulebook version the snapshot of ``as_of`` was made with (None: several)."""
    rows = engine.fetch_all(parse("select min(rulebook_version), max(rulebook_version) "
                                  "from profiles where as_of = $as_of"), {"as_of": as_of})
    low, high = rows[0]
    return low if low == high else None


def _draft_query(engine: Engine, stored: Definitions, draft: Definitions, as_of: dt.date
                 ) -> tuple[exp.Select, list[str]]:
    differ = reusable_terms(stored, draft)
    if not differ:
        # Built once per draft and date while the draft is loaded (building the tree
        # costs most of a second).
        query = draft.derived.get("whatif", as_of,
                                  lambda: decisions_over_snapshot(draft, as_of))
        return query, []  # only rendered, never changed: shared as it is
    plan = compile_plan(draft, as_of, capabilities=engine.capabilities, engine=engine.name)
    inner = plan.query.subquery("draft_plan")
    return (exp.select(exp.column(ENTITY_KEY), exp.column("segment"),
                       *(exp.column(c) for c in decision_columns(draft))).from_(inner), differ)


def impact(engine: Engine, stored: Definitions, draft: Definitions, as_of: dt.date, *,
           sample: int = 5) -> Impact:
    """The draft against the snapshot of ``as_of`` (made with ``stored``)."""
    started = time.perf_counter()
    columns = set(engine.table_columns(PROFILES) or [])
    draft_q, differ = _draft_query(engine, stored, draft, as_of)
    draft_cols = decision_columns(draft)
    compared = [c for c in dict.fromkeys([*decision_columns(stored), *draft_cols])
                if c not in QUIET]
    cur = exp.select(exp.column(ENTITY_KEY), exp.column("segment"),
                     *(exp.column(c) if c in columns else exp.alias_(exp.null(), c)
                       for c in compared),
                     exp.column(BALANCE) if BALANCE in columns
                     else exp.alias_(exp.null(), BALANCE)) \
        .from_(PROFILES).where(exp.column("as_of").eq(lit(as_of)))

    def side(alias: str, name: str) -> exp.Expression:
        return exp.column(name, table=alias)

    select = exp.select(
        exp.alias_(exp.Coalesce(this=side("c", ENTITY_KEY), expressions=[side("d", ENTITY_KEY)]),
                   "customer_id"),
        exp.alias_(side("c", BALANCE), "balance"),
        exp.alias_(side("c", "segment"), "cur_segment"),
        exp.alias_(side("d", "segment"), "new_segment"),
        *(exp.alias_(side("c", c), f"cur__{c}") for c in compared),
        *(exp.alias_(side("d", c) if c in draft_cols else exp.null(), f"new__{c}")
          for c in compared),
    ).from_(exp.alias_(exp.to_table("cur"), "c", table=True)).join(
        exp.alias_(exp.to_table("dft"), "d", table=True), join_type="full outer",
        on=side("c", ENTITY_KEY).eq(side("d", ENTITY_KEY)))
    select = select.with_("cur", as_=cur, copy=False).with_("dft", as_=draft_q, copy=False)
    table = engine.fetch_arrow(select)
    if table.num_rows == 0:
        raise ClientlensError(f"no profiles on {as_of} to compare the draft with")
    # pc.coalesce, not fill_null: fill_null imports pandas (a second, once per process).
    for name in ("cur_segment", "new_segment"):
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pc.coalesce(table[name], pa.scalar(GONE)))
    counts, balances, segments = _matrix(table, stored, draft)
    moves: dict[str, list[tuple[Any, Any, int]]] = {}
    entitlements: list[tuple[str, int, int]] = []
    for c in compared:
        a, b = table[f"cur__{c}"], table[f"new__{c}"]
        if c.startswith("svc_"):
            a_on, b_on = pc.coalesce(a, pa.scalar(False)), pc.coalesce(b, pa.scalar(False))
            granted = pc.sum(pc.and_(pc.invert(a_on), b_on)).as_py() or 0
            revoked = pc.sum(pc.and_(a_on, pc.invert(b_on))).as_py() or 0
            if granted or revoked:
                entitlements.append((c, granted, revoked))
            continue
        differs = pc.invert(pc.coalesce(pc.equal(a, b), pa.scalar(False)))
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        changed = table.filter(pc.and_(differs, pc.invert(both_null)))
        if changed.num_rows:
            grouped = changed.group_by([f"cur__{c}", f"new__{c}"]).aggregate(
                [("customer_id", "count")]).to_pylist()
            moves[c] = sorted(((g[f"cur__{c}"], g[f"new__{c}"], g["customer_id_count"])
                               for g in grouped), key=lambda m: -m[2])
    moved_rows = table.filter(pc.not_equal(table["cur_segment"], table["new_segment"]))
    out = Impact(as_of=as_of, current_version=stored.version, draft_version=draft.version,
                 reused_terms=not differ, recomputed=differ, customers=table.num_rows,
                 moved=moved_rows.num_rows, segments=segments, counts=counts,
                 balances=balances, moves=moves, entitlements=entitlements)
    out.seconds = time.perf_counter() - started  # the impact itself; the sample follows
    if sample and moved_rows.num_rows:
        ids = sorted(moved_rows["customer_id"].to_pylist())[:sample]
        segs = dict(zip(moved_rows["customer_id"].to_pylist(),
                        zip(moved_rows["cur_segment"].to_pylist(),
                            moved_rows["new_segment"].to_pylist(), strict=True), strict=True))
        for cid in ids:
            before, after = segs[cid]
            out.sample.append(Moved(cid, before, after,
                                    _why(engine, stored, cid, as_of, stored_row=True),
                                    _why(engine, draft, cid, as_of, stored_row=False)))
    return out


def _matrix(table: pa.Table, stored: Definitions, draft: Definitions
            ) -> tuple[list[list[int]], list[list[float]] | None, list[str]]:
    grouped = table.group_by(["cur_segment", "new_segment"]).aggregate(
        [("customer_id", "count"), ("balance", "sum")]).to_pylist()
    order = [s.id for s in draft.segments]
    order += [s.id for s in stored.segments if s.id not in order]
    seen = {g["cur_segment"] for g in grouped} | {g["new_segment"] for g in grouped}
    order = [s for s in order if s in seen] + sorted(seen - set(order))
    index = {s: i for i, s in enumerate(order)}
    counts = [[0] * len(order) for _ in order]
    balances: list[list[float]] | None = [[0.0] * len(order) for _ in order]
    for g in grouped:
        i, j = index[g["cur_segment"]], index[g["new_segment"]]
        counts[i][j] = g["customer_id_count"]
        if balances is not None:
            balances[i][j] = float(g["balance_sum"] or 0)
    return counts, balances, order


def _why(engine: Engine, defs: Definitions, customer_id: str, as_of: dt.date, *,
         stored_row: bool) -> str:
    """The rule that placed the customer, with the values it read."""
    try:
        x: Explanation = explain_customer(engine, defs, customer_id, as_of,
                                          use_stored=stored_row)
    except ClientlensError as e:
        return str(e)
    matched = x.matched
    if matched is None:
        return f"{x.segment}: no rule matched (default)"
    if not matched.conditions:
        return f"{x.segment}: the default, no rule matched"
    parts = []
    for cond in matched.conditions:
        values = ", ".join(f"{k} = {_fmt(v)}" for k, v in cond.values.items())
        parts.append(f"{cond.text} ({values})" if values else cond.text)
    return f"{x.segment}: " + "; ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
