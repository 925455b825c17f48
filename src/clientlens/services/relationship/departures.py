"""Departures: why a customer left, recorded when they leave, and the win-back list.

The exit reason is recorded in the application database (``record_departure``):
situational (moved, changed job) or dissatisfaction, and whether the customer
asked not to be contacted again. Before each run the records are copied into the
warehouse table ``departures`` (``services.ingest.operational``), where the glossary
turns them into terms (``left_situational``, ``left_dissatisfied``,
``no_contact_requested``) for the phase rules and the ``win_back`` rating.

``win_back_list`` names the divorced customers past the cooling-off period who
may be contacted, ranked by the ``win_back`` rating (likelihood of returning).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy import select
from sqlglot import exp

from clientlens.appdb import AppDB, Departure
from clientlens.appdb.schema import EXIT_KINDS
from clientlens.definitions.rulebook import Definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import READ, col, limit_rows, parse
from clientlens.model.errors import ClientlensError
from clientlens.services.profiling.segmentation import PROFILES, _check_as_of

ROWS_SCHEMA = pa.schema([("departure_id", pa.string()), ("customer_id", pa.string()),
                         ("left_on", pa.date32()), ("exit_kind", pa.string()),
                         ("do_not_contact", pa.bool_())])


class DepartureError(ClientlensError):
    """A departure record that cannot be stored as given."""

    code = "departure_error"


@dataclass(frozen=True)
class DepartureRecord:
    departure_id: int
    customer_id: str
    left_on: dt.date
    exit_kind: str
    reason: str
    do_not_contact: bool
    recorded_by: str


def record_departure(db: AppDB, customer_id: str, left_on: dt.date, exit_kind: str,
                     reason: str, recorded_by: str, *, do_not_contact: bool = False
                     ) -> DepartureRecord:
    """Store why a customer left. A customer may leave (and come back) more than once."""
    customer_id = (customer_id or "").strip()
    if not customer_id:
        raise DepartureError("departure: customer id must not be empty")
    if exit_kind not in EXIT_KINDS:
        raise DepartureError(f"departure of {customer_id}: exit kind '{exit_kind}' is not one "
                             f"of {', '.join(EXIT_KINDS)}")
    if not (recorded_by or "").strip():
        raise DepartureError(f"departure of {customer_id}: say who recorded it (--by)")
    if left_on > dt.date.today():
        raise DepartureError(f"departure of {customer_id}: {left_on} is in the future")
    with db.transaction() as s:
        row = Departure(customer_id=customer_id, left_on=left_on, exit_kind=exit_kind,
                        reason=(reason or "").strip(), do_not_contact=do_not_contact,
                        recorded_by=recorded_by.strip())
        s.add(row)
        s.flush()
        return _record(row)


def list_departures(db: AppDB, customer_id: str | None = None) -> list[DepartureRecord]:
    query = select(Departure).order_by(Departure.left_on, Departure.departure_id)
    if customer_id:
        query = query.where(Departure.customer_id == customer_id)
    with db.transaction() as s:
        return [_record(r) for r in s.scalars(query)]


def departure_rows(db: AppDB) -> pa.Table:
    """Every departure, in the warehouse table's columns."""
    rows = list_departures(db)
    return pa.table({"departure_id": [str(r.departure_id) for r in rows],
                     "customer_id": [r.customer_id for r in rows],
                     "left_on": [r.left_on for r in rows],
                     "exit_kind": [r.exit_kind for r in rows],
                     "do_not_contact": [r.do_not_contact for r in rows]}, schema=ROWS_SCHEMA)


def _record(row: Departure) -> DepartureRecord:
    return DepartureRecord(departure_id=row.departure_id, customer_id=row.customer_id,
                           left_on=row.left_on, exit_kind=row.exit_kind, reason=row.reason,
                           do_not_contact=bool(row.do_not_contact),
                           recorded_by=row.recorded_by)


@dataclass(frozen=True)
class WinBackList:
    as_of: dt.date
    cooling_off_days: int
    columns: list[str]
    rows: list[tuple]
    excluded_no_contact: int
    cooling_off: int  # divorced customers still inside the cooling-off period


def win_back_list(engine: Engine, defs: Definitions, as_of: dt.date, *,
                  limit: int | None = None) -> WinBackList:
    """Divorced customers past the cooling-off period who may be contacted, most likely
    to return first (the ``win_back`` rating), with the rating's reasons."""
    if defs.phase_default is None or "divorce" not in {r.id for r in defs.all_phases}:
        raise ClientlensError("the rulebook has no 'divorce' phase, so there is nobody to win "
                              "back")
    if "win_back" not in {r.id for r in defs.ratings}:
        raise ClientlensError("ratings.yaml has no 'win_back' rating to rank customers by")
    param = defs.parameters.get("win_back_cooling_off_days")
    if param is None or param.value is None:
        raise ClientlensError("the rulebook needs the parameter win_back_cooling_off_days")
    cooling = int(param.value)
    _check_as_of(engine, as_of)
    since = as_of - dt.timedelta(days=cooling)
    excluded, inside = engine.fetch_all(parse(
        "select count(*) filter (where no_contact_requested), "
        "count(*) filter (where not no_contact_requested and last_closed_on > $since) "
        "from profiles where as_of = $as_of and phase = 'divorce'"),
        {"since": since, "as_of": as_of})[0]
    columns = ["customer_id", "segment", "last_closed_on", "left_situational",
               "left_dissatisfied", "win_back_score", "win_back_grade", "win_back_reason_1",
               "win_back_reason_2", "win_back_reason_3"]
    query = exp.select(*(col(c) for c in columns)).from_(PROFILES).where(parse(
        "as_of = $as_of and phase = 'divorce' and not no_contact_requested "
        "and last_closed_on <= $since")).order_by(
        "win_back_score desc", "customer_id", dialect=READ)
    rows = engine.fetch_all(limit_rows(query, limit), {"as_of": as_of, "since": since})
    return WinBackList(as_of=as_of, cooling_off_days=cooling, columns=columns, rows=rows,
                       excluded_no_contact=int(excluded or 0), cooling_off=int(inside or 0))
