"""Customer lists over a stored run: sales leads per department, customers due for a
survey, look-alikes of a product's holders, and entitlement events.

Each list is one query over ``profiles`` (and the entitlement tables), shown by
the CLI and written to CSV or Parquet for the department that works it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from clientlens.definitions.rulebook import Definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import READ, col, fill, limit_rows, lit, parse, set_rows
from clientlens.engines.query import name as name_node
from clientlens.model.errors import ClientlensError, NotFoundError, did_you_mean
from clientlens.platform.exports import format_of, write_table
from clientlens.services.profiling.entitlements import ENTITLEMENTS, EVENTS
from clientlens.services.profiling.segmentation import PROFILES, _check_as_of


@dataclass(frozen=True)
class CustomerList:
    title: str
    query: exp.Select  # rendered by the engine
    note: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # the query's named parameters

    def fetch(self, engine: Engine, limit: int | None = None) -> pa.Table:
        return engine.fetch_arrow(limit_rows(self.query, limit or None), self.params)

    def count(self, engine: Engine) -> int:
        query = exp.select(exp.Count(this=exp.Star())).from_(self.query.subquery("q"))
        return int(engine.fetch_all(query, self.params)[0][0])

    def write(self, engine: Engine, path: Path, dialect: str | None = None) -> Path:
        """The whole list to a .csv, .xlsx or .parquet file (``platform/exports.py``:
        atomic, private, formula-leading text neutralised), streamed from the engine."""
        format_of(path)  # an unsupported suffix fails before the query runs
        return write_table(path, engine.fetch_batches(self.query, params=self.params),
                           dialect=dialect, sheet=self.title)


def profiles(engine: Engine, as_of: dt.date) -> CustomerList:
    """One date's whole snapshot (segment, rulebook version, every term): what
    ``clientlens export`` writes."""
    _check_as_of(engine, as_of)
    return CustomerList(f"Profiles on {as_of}", parse(
        "select * from profiles where as_of = $as_of order by customer_id"), params={
        "as_of": as_of})


def _require(engine: Engine, defs: Definitions, columns: list[str], what: str) -> None:
    have = engine.table_columns(PROFILES) or []
    missing = [c for c in columns if c not in have]
    if missing:
        raise NotFoundError(f"{what} needs column '{missing[0]}' in the stored profiles: "
                            "check the catalogue and ratings, then `clientlens run` again")
    del defs


def leads(engine: Engine, defs: Definitions, as_of: dt.date, department: str | None = None
          ) -> CustomerList:
    """Sales leads: customers whose lead rules hold for a product they may have and do not
    hold, routed to the product's department, best prospects first."""
    _require(engine, defs, ["lead_product", "lead_department", "prospect_score"], "leads")
    departments = sorted({p.department for p in defs.products if p.lead})
    query = parse("select customer_id, lead_department as department, lead_product as product, "
                  "prospect_score, prospect_grade, prospect_reason_1, segment, need "
                  "from profiles where as_of = $as_of and lead_product is not null "
                  "order by department, prospect_score desc, customer_id")
    params: dict[str, Any] = {"as_of": as_of}
    if department is not None:
        if department not in departments:
            raise ClientlensError(f"no lead products belong to department '{department}'."
                                  f"{did_you_mean(department, departments)} Departments: "
                                  f"{', '.join(departments)}")
        query = query.where(parse("lead_department = $department"))
        params["department"] = department
    title = f"Leads on {as_of}" + (f" for {department}" if department else " by department")
    return CustomerList(title, query, params=params)


def reads_source(defs: Definitions, names: frozenset[str] | set[str], source: str) -> bool:
    """Whether terms read rows of ``source``, directly or through the terms they use."""
    seen: set[str] = set()
    todo = [n for n in names if n in defs.terms]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        term = defs.terms[name]
        if term.aggregate is not None and term.aggregate.source == source:
            return True
        todo.extend(d for d in term.depends_on if d in defs.terms)
    return False


def survey_due(engine: Engine, defs: Definitions, as_of: dt.date) -> CustomerList:
    """Customers whose ratings lack survey data, most valuable first.

    Only ratings whose requirement reads the surveys count: a rating that cannot be
    given for another reason (the win-back rating of a customer who still holds
    products) is not helped by a survey, so it does not make anyone due for one."""
    needing = [r for r in defs.ratings if r.requires is not None
               and reads_source(defs, r.requires.condition.names, "surveys")]
    if not needing:
        raise ClientlensError("no rating in the rulebook requires survey data")
    grade_cols = [f"{r.id}_grade" for r in needing]
    _require(engine, defs, grade_cols, "survey-due")
    why = exp.or_(*(col(c).eq(lit("insufficient data")) for c in grade_cols))
    scored = "current_score" in (engine.table_columns(PROFILES) or [])
    query = exp.select("customer_id", "segment").from_(PROFILES)
    if "last_survey_on" in defs.terms:
        query = query.select("last_survey_on")
    query = query.select(*(col(c) for c in grade_cols))
    if scored:
        query = query.select("current_score").order_by("current_score desc nulls last",
                                                        dialect=READ)
    query = query.where(parse("as_of = $as_of")).where(exp.paren(why)).order_by(
        "customer_id", dialect=READ)
    note = "; ".join(f"{r.id}: {r.requires.otherwise}" for r in needing if r.requires)
    return CustomerList(f"Due for a survey on {as_of}", query, note, params={"as_of": as_of})


def lookalikes(engine: Engine, defs: Definitions, as_of: dt.date, product: str, *,
               min_lift: float = 2.0, min_holders: int = 20) -> CustomerList:
    """Non-holders who look like the product's holders.

    Customers are grouped by need, segment and current and solvency grades (the
    profile a relationship manager sees). In a group where the share of holders is at
    least ``min_lift`` times the bank-wide share, with at least ``min_holders``
    holders, every non-holder is a look-alike; the groups richest in holders first.
    """
    ids = [p.id for p in defs.products]
    if product not in ids:
        raise ClientlensError(f"unknown product '{product}'.{did_you_mean(product, ids)} "
                              f"Products: {', '.join(ids)}")
    holds_column = f"holds_{product}"
    cells = [c for c in ("need", "segment", "current_grade", "solvency_grade")
             if c in (engine.table_columns(PROFILES) or [])]
    _require(engine, defs, [holds_column, *cells], "lookalike")
    holds = col(holds_column)
    query = fill(parse("""
    with p as (select * from profiles where as_of = $as_of),
    overall as (select avg(case when $holds then 1.0 else 0.0 end) as share from p),
    cell as (
        select count(*) as customers,
            sum(case when $holds then 1 else 0 end) as holders,
            avg(case when $holds then 1.0 else 0.0 end) as holder_share
        from p
    )
    select p.customer_id, cell.holders,
        cell.customers as group_size, round(cell.holder_share, 4) as holder_share,
        round(cell.holder_share / nullif(overall.share, 0), 2) as lift
    from p join cell using (customer_id) cross join overall
    where not $p_holds and cell.holders >= $min_holders
        and cell.holder_share >= $min_lift * overall.share
    order by cell.holder_share desc, p.customer_id
    """), holds=holds, p_holds=col(holds_column, "p"), min_holders=lit(int(min_holders)),
        min_lift=lit(float(min_lift)))
    # The groups' columns: first in ``cell`` and its group by, after the customer id in
    # the select, and what ``p`` and ``cell`` are joined by.
    cell = next(cte for cte in query.find_all(exp.CTE) if cte.alias == "cell")
    cell.this.set("expressions", [*(col(c) for c in cells), *cell.this.expressions])
    cell.this.group_by(*(col(c) for c in cells), copy=False)
    query.set("expressions", [query.expressions[0], *(col(c, "p") for c in cells),
                              *query.expressions[1:]])
    query.find(exp.Join).set("using", [name_node(c) for c in cells])
    return CustomerList(f"Look-alikes of {product} holders on {as_of}", query,
                        f"groups by {', '.join(cells)}; holder share at least {min_lift}x the "
                        f"bank's, at least {min_holders} holders", params={"as_of": as_of})


def entitlement_events(engine: Engine, as_of: dt.date, service: str | None = None
                       ) -> CustomerList:
    if engine.table_columns(EVENTS) is None:
        raise NotFoundError("no entitlement events yet: the catalogue needs services and a "
                            "`clientlens run`")
    query = parse("select as_of, customer_id, service, event, kept_until, reason, "
                  "rulebook_version from entitlement_events where as_of = $as_of "
                  "order by service, event, customer_id")
    params: dict[str, Any] = {"as_of": as_of}
    if service:
        query = query.where(parse("service = $service"))
        params["service"] = service
    return CustomerList(f"Entitlement events on {as_of}", query, params=params)


def entitlement_counts(engine: Engine, as_of: dt.date) -> list[tuple]:
    """Per service: customers holding it, of them in grace, and the day's events."""
    if engine.table_columns(ENTITLEMENTS) is None:
        raise NotFoundError("no entitlements yet: the catalogue needs services and a "
                            "`clientlens run`")
    return engine.fetch_all(parse("""
        with h as (select service, count(*) as holders,
                       sum(case when qualified then 0 else 1 end) as in_grace
                   from entitlements where as_of = $as_of group by service),
        e as (select service, sum(case when event = 'granted' then 1 else 0 end) as granted,
                  sum(case when event = 'grace_started' then 1 else 0 end) as grace_started,
                  sum(case when event = 'revoked' then 1 else 0 end) as revoked
              from entitlement_events where as_of = $as_of group by service)
        select coalesce(h.service, e.service) as service, coalesce(holders, 0),
            coalesce(in_grace, 0), coalesce(granted, 0), coalesce(grace_started, 0),
            coalesce(revoked, 0)
        from h full outer join e on h.service = e.service order by 1"""), {"as_of": as_of})


def phase_actions(engine: Engine, defs: Definitions, as_of: dt.date, *,
                  department: str | None = None, phase: str | None = None,
                  overdue_only: bool = False) -> CustomerList:
    """The bank's recommended actions for each customer's current phase, due the given
    days after the customer entered the phase (the first snapshot of the current run
    of that phase), soonest first. Customers who asked not to be contacted are left out
    of every action but the recording of an exit reason."""
    _require(engine, defs, ["phase"], "actions")
    rows = [(p, a) for p, acts in defs.phase_actions.items() for a in acts]
    if phase is not None and phase not in defs.phase_actions:
        raise ClientlensError(f"unknown phase '{phase}'."
                              f"{did_you_mean(phase, defs.phase_actions)} "
                              f"Phases: {', '.join(defs.phase_actions)}")
    departments = sorted({a.department for _, a in rows if a.department})
    if department is not None and department not in departments:
        raise ClientlensError(f"no action belongs to department '{department}'."
                              f"{did_you_mean(department, departments)} Departments: "
                              f"{', '.join(departments)}")
    rows = [(p, a) for p, a in rows if (phase is None or p == phase)
            and (department is None or a.department == department)]
    if not rows:
        raise ClientlensError("no recommended actions match")

    contact = "no_contact_requested" in defs.terms
    query = parse("""
        with runs as (
            select customer_id, as_of, phase,
                   lag(phase) over (partition by customer_id order by as_of) as previous
            from profiles where as_of <= $as_of
        ), cur as (
            select customer_id, phase, segment
            from profiles where as_of = $as_of
        ), entered as (
            select r.customer_id, max(r.as_of) as entered_on
            from runs r join cur c on r.customer_id = c.customer_id and r.phase = c.phase
            where r.previous is null or r.previous <> r.phase
            group by r.customer_id
        ), a (phase, action, label, department, within_days) as (
            values (null, null, null, null, null))
        select c.customer_id, c.phase, e.entered_on, a.action, a.label, a.department,
               case when a.within_days is null then null
                    else e.entered_on + cast(a.within_days as integer) end as due_on,
               c.segment
        from cur c join entered e on e.customer_id = c.customer_id
        join a on a.phase = c.phase
        where true
        order by due_on nulls last, c.customer_id, a.action""")
    set_rows(query, "a", [(p, a.id, a.labels.en, a.department, a.within_days) for p, a in rows])
    if contact:
        cur = next(cte for cte in query.find_all(exp.CTE) if cte.alias == "cur")
        cur.this.select("no_contact_requested", copy=False)
        query = query.where(parse(
            "not c.no_contact_requested or a.action = 'record_exit_reason'"))
    if overdue_only:
        query = query.where(parse("a.within_days is not null "
                                  "and e.entered_on + cast(a.within_days as integer) < $as_of"))
    title = f"Recommended actions on {as_of}" + (f" for {department}" if department else "") \
        + (f" in phase {phase}" if phase else "") + (" (overdue)" if overdue_only else "")
    note = ("due = the day the customer entered the phase (first snapshot of it) plus the "
            "action's days; snapshots are as frequent as the runs")
    return CustomerList(title, query, note, params={"as_of": as_of})
