"""Entitlements: which services and benefits each customer holds, and what changed.

A customer holds a service on date D when they qualified on some run date L
(its ``granted_when`` held in the profile of L) with D - L within the service's
grace period. So a benefit survives a short dip out of a segment, and is
revoked on the first run after the grace period runs out.

Each run for D writes, from the profile of D and the entitlements of the
previous run date P:

- ``entitlements``: one row per customer and service held on D, with when it
  was granted, when the customer last qualified and until when it is kept;
- ``entitlement_events``: what changed since P, for downstream systems:
  ``granted``, ``grace_started`` (stopped qualifying, kept until a date) and
  ``revoked`` (grace over, or the service left the catalogue).

Both are replaced for D in the same transaction as the profiles, so re-running
a date gives the same rows, and a failed run leaves the previous ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import reduce

import pyarrow as pa
from sqlglot import exp

from clientlens.definitions.rulebook import Definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import col, fill, lit, parse, set_cte, set_rows

ENTITLEMENTS = "entitlements"
EVENTS = "entitlement_events"
PROFILES = "profiles"
# One customer's entitlements on a date.
HELD = ("select service, kind, granted_on, last_qualified_on, kept_until, qualified "
        "from entitlements where customer_id = $customer_id and as_of = $as_of "
        "order by service")


@dataclass(frozen=True)
class EntitlementChanges:
    previous: dt.date | None
    granted: int
    grace_started: int
    revoked: int
    later_dates: list[dt.date]  # runs after this date, now computed from older data


def previous_date(engine: Engine, as_of: dt.date) -> dt.date | None:
    if engine.table_columns(ENTITLEMENTS) is None:
        return None
    rows = engine.fetch_all(parse("select max(as_of) from entitlements where as_of < $as_of"),
                            {"as_of": as_of})
    return rows[0][0]


def later_dates(engine: Engine, as_of: dt.date) -> list[dt.date]:
    if engine.table_columns(ENTITLEMENTS) is None:
        return []
    rows = engine.fetch_all(parse("select distinct as_of from entitlements "
                                  "where as_of > $as_of order by 1"), {"as_of": as_of})
    return [r[0] for r in rows]


# The steps are constant text of the code parsed into trees (``engines/query.py``); the
# services of the catalogue go in as nodes: ids, kinds and days as literals, columns as
# quoted names. No parameters: ``replace_many`` writes them into statements of its own.
_QUALIFIED = "select customer_id, $service as service from profiles where as_of = $as_of and $holds"
_PREVIOUS = ("select customer_id, service, granted_on, last_qualified_on from entitlements "
             "where as_of = $previous")
_NO_PREVIOUS = ("select cast(null as varchar) as customer_id, cast(null as varchar) as service, "
                "cast(null as date) as granted_on, cast(null as date) as last_qualified_on "
                "where false")
_HELD = """
    with q as (select 1), prev as (select 1),
    g(service, grace_days, kind) as (values (null, null, null)),
    merged as (
        select coalesce(q.customer_id, prev.customer_id) as customer_id,
            coalesce(q.service, prev.service) as service,
            q.customer_id is not null as qualified,
            case when q.customer_id is not null then $as_of else prev.last_qualified_on end
                as last_qualified_on,
            prev.granted_on as previously_granted
        from q full outer join prev
            on q.customer_id = prev.customer_id and q.service = prev.service
    )
    select $as_of as as_of, m.customer_id, m.service, g.kind,
        coalesce(m.previously_granted, $as_of) as granted_on, m.last_qualified_on,
        m.qualified,
        m.last_qualified_on + g.grace_days as kept_until,
        $version as rulebook_version
    from merged m join g on g.service = m.service
    where date_diff('day', m.last_qualified_on, $as_of) <= g.grace_days
"""
_EVENTS = """
    with now_held as (select * from entitlements where as_of = $as_of),
    before as (select 1),
    g(service, grace_days) as (values (null, null))
    select $as_of as as_of, n.customer_id, n.service, 'granted' as event,
        cast(null as date) as kept_until,
        $reason as reason, $version as rulebook_version
    from now_held n left join before b on b.customer_id = n.customer_id
        and b.service = n.service
    where b.customer_id is null
    union all
    select $as_of, n.customer_id, n.service, 'grace_started', n.kept_until,
        'no longer qualifies; kept for the grace period of ' || cast(g.grace_days as varchar)
            || ' days', $version
    from now_held n join before b on b.customer_id = n.customer_id and b.service = n.service
        join g on g.service = n.service
    where not n.qualified and b.last_qualified_on = $previous
    union all
    select $as_of, b.customer_id, b.service, 'revoked', cast(null as date),
        case when g.service is null then 'the service is no longer in the catalogue'
             else 'no longer qualifies and the grace period is over' end,
        $version
    from before b left join now_held n on b.customer_id = n.customer_id
        and b.service = n.service
        left join g on g.service = b.service
    where n.customer_id is null
"""


def entitlement_steps(engine: Engine, defs: Definitions, as_of: dt.date,
                      previous: dt.date | None
                      ) -> list[tuple[str, exp.Expression, exp.Expression]]:
    """(table, where, select) steps that replace D's entitlements and events."""
    d = lit(as_of)
    qualified = reduce(lambda a, b: exp.union(a, b, distinct=False), (
        fill(parse(_QUALIFIED), service=lit(s.id), as_of=d, holds=col(s.column))
        for s in defs.services))
    has_prev = previous is not None and engine.table_columns(ENTITLEMENTS) is not None
    prev = fill(parse(_PREVIOUS), previous=lit(previous)) if has_prev and previous else \
        parse(_NO_PREVIOUS)
    version = lit(defs.version)
    held = fill(parse(_HELD), as_of=d, version=version)
    set_cte(held, "q", qualified)
    set_cte(held, "prev", prev)
    set_rows(held, "g", [(s.id, int(s.grace_days), s.kind) for s in defs.services])
    reason = exp.Case(this=exp.column("service", table="n"), ifs=[
        exp.If(this=lit(s.id), true=lit("qualifies: " + _conditions(s.granted_when)))
        for s in defs.services])
    events = fill(parse(_EVENTS), as_of=d, version=version, reason=reason,
                  previous=lit(previous) if previous else d)
    set_cte(events, "before", prev.copy())
    set_rows(events, "g", [(s.id, int(s.grace_days)) for s in defs.services])
    where = exp.column("as_of").eq(d)
    return [(ENTITLEMENTS, where, held), (EVENTS, where.copy(), events)]


def _conditions(conds: tuple) -> str:
    return " and ".join(c.text for c in conds)


def count_changes(engine: Engine, as_of: dt.date, previous: dt.date | None
                  ) -> EntitlementChanges:
    rows = dict(engine.fetch_all(parse("select event, count(*) from entitlement_events "
                                       "where as_of = $as_of group by event"),
                                 {"as_of": as_of}))
    return EntitlementChanges(previous=previous, granted=rows.get("granted", 0),
                              grace_started=rows.get("grace_started", 0),
                              revoked=rows.get("revoked", 0),
                              later_dates=later_dates(engine, as_of))


def entitlements_on(engine: Engine, as_of: dt.date) -> pa.Table:
    """Every customer's entitlements in the snapshot of ``as_of``, by customer and
    service (none when no run has written entitlements)."""
    if engine.table_columns(ENTITLEMENTS) is None:
        return pa.table({})
    return engine.fetch_arrow(parse(
        "select customer_id, service, kind, granted_on, last_qualified_on, kept_until, "
        "qualified from entitlements where as_of = $as_of order by customer_id, service"),
        {"as_of": as_of})


def held_entitlements(engine: Engine, customer_id: str, as_of: dt.date) -> list[dict]:
    """One customer's entitlements in the snapshot of ``as_of``."""
    if engine.table_columns(ENTITLEMENTS) is None:
        return []
    rows = engine.fetch_all(parse(HELD), {"customer_id": customer_id, "as_of": as_of})
    keys = ("service", "kind", "granted_on", "last_qualified_on", "kept_until", "qualified")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def next_held(defs: Definitions, values: dict, held: list[dict], as_of: dt.date
              ) -> tuple[list[dict], list[dict]]:
    """The nightly run's rule for one customer, in Python: from the services ``held``
    (rows like ``held_entitlements``) and a new evaluation ``values`` on ``as_of``, the
    services held afterwards and the events that change made, with the run's vocabulary
    and reasons (``granted``, ``grace_started``, ``revoked``). The same evaluation
    applied to its own result makes no events."""
    by_service = {h["service"]: h for h in held}
    after: list[dict] = []
    events: list[dict] = []
    for svc in defs.services:
        qualifies = values.get(svc.column) is True
        h = by_service.pop(svc.id, None)
        if qualifies:
            after.append({"service": svc.id, "kind": svc.kind,
                          "granted_on": h["granted_on"] if h and h.get("granted_on")
                          else as_of,
                          "last_qualified_on": as_of,
                          "kept_until": as_of + dt.timedelta(days=svc.grace_days),
                          "qualified": True})
            if h is None:
                events.append({"service": svc.id, "event": "granted", "kept_until": None,
                               "reason": "qualifies: " + _conditions(svc.granted_when)})
            continue
        if h is None:
            continue
        last = h.get("last_qualified_on")
        if last is not None and (as_of - last).days <= svc.grace_days:
            until = last + dt.timedelta(days=svc.grace_days)
            after.append({"service": svc.id, "kind": svc.kind, "granted_on": h["granted_on"],
                          "last_qualified_on": last, "kept_until": until, "qualified": False})
            if h.get("qualified"):
                events.append({"service": svc.id, "event": "grace_started",
                               "kept_until": until,
                               "reason": "no longer qualifies; kept for the grace period of "
                                         f"{svc.grace_days} days"})
        else:
            events.append({"service": svc.id, "event": "revoked", "kept_until": None,
                           "reason": "no longer qualifies and the grace period is over"})
    for service in by_service:
        events.append({"service": service, "event": "revoked", "kept_until": None,
                       "reason": "the service is no longer in the catalogue"})
    after.sort(key=lambda h: h["service"])
    return after, events
