"""Re-evaluating one customer on demand, recorded like a nightly change.

When the bank's systems report a change (a product opened or closed, money moved, a
complaint), ``reevaluate`` computes the customer's terms from the warehouse now,
applies the current rulebook in-process, and compares the result with the latest
*recorded* state of the customer:

- the nightly snapshot on or before the as-of date (its profile and entitlements),
- or, if the customer was re-evaluated since that snapshot, the latest such
  re-evaluation (its segment, phase, need and the services it left held).

It records, in the application database, one ``reevaluations`` row every time (who,
how, when, as-of, rulebook version, segment/phase/need before and after, the cause
reported by the bank's system, the services held afterwards) and one
``reevaluation_events`` row per entitlement change, in the nightly run's vocabulary
(granted, grace_started, revoked) and with its grace rule
(``entitlements.next_held``). Because the comparison is with the latest recorded
state, re-evaluating again with nothing changed records a row and no event.

Relation to the nightly run: the warehouse snapshot of a run date is immutable, and
the nightly run stays authoritative. It computes entitlements from the previous
nightly run's, not from re-evaluations, so its events may repeat a change a
re-evaluation already announced (a service granted at noon by a re-evaluation is
granted again by that night's run). Re-evaluations are listed separately, marked
source "reevaluation" (``clientlens reevaluations``, ``clientlens history``,
``GET /customers/{id}/reevaluations``); a downstream system that acts on them early
can ignore the nightly event that repeats one. After the next run, re-evaluations
compare with the new snapshot, and the older ones show ``superseded_by``.

Concurrency: a customer's re-evaluations are numbered (``seq``, unique per
customer); two writers that compared with the same state take the same number, the
database refuses the second, and it compares again with what the first recorded.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlglot import exp

from clientlens.appdb import AppDB
from clientlens.appdb.schema import REEVALUATION_REASONS, REEVALUATION_VIAS
from clientlens.appdb.schema import Reevaluation as Row
from clientlens.appdb.schema import ReevaluationEvent as EventRow
from clientlens.compiler.customer_plan import BaseTerms
from clientlens.compiler.pyplan import CompiledRulebook
from clientlens.definitions.rulebook import Definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import col, parse
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform import idempotency
from clientlens.services.profiling.entitlements import ENTITLEMENTS, HELD, next_held
from clientlens.services.profiling.explain import Explanation, explain_customer
from clientlens.services.profiling.history import SNAPSHOT_ON, snapshot_dates
from clientlens.services.profiling.segmentation import PROFILES

REASONS = REEVALUATION_REASONS
SOURCE = "reevaluation"
ATTRIBUTES = ("segment", "phase", "need")
_HELD_DATES = ("granted_on", "last_qualified_on", "kept_until")
_HELD_KEYS = ("service", "kind", "granted_on", "last_qualified_on", "kept_until", "qualified")
MAX_NOTE = 2000
# Read-then-write transactions of this process go one at a time: on SQLite, of two that
# read before either wrote, the second cannot write (it would fail at once, not wait).
_WRITE = threading.Lock()


class ReevaluationError(ClientlensError):
    """A re-evaluation refused: ``invalid`` input, ``idempotency_conflict``, or
    ``busy`` (others are re-evaluating the customer right now)."""

    code = "invalid"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Recorded:
    """One recorded re-evaluation."""

    reevaluation_id: int
    customer_id: str
    as_of: dt.date
    compared_with: dt.date | None  # the nightly snapshot compared with
    basis_id: int | None  # the re-evaluation since that snapshot compared with, if any
    rulebook_version: str
    requested_by: str
    role: str | None
    via: str
    requested_at: dt.datetime
    reason: str | None
    note: str
    before: dict[str, str | None]  # segment, phase, need; None: no recorded state
    after: dict[str, str | None]
    held: list[dict]  # the services held after it, like entitlements rows
    events: list[dict]  # service, event, kept_until, reason
    replayed: bool = False  # returned again for a repeated Idempotency-Key
    superseded_by: dt.date | None = None  # a later nightly snapshot, when listed

    @property
    def segment_changed(self) -> bool:
        return self.before["segment"] is not None and \
            self.before["segment"] != self.after["segment"]

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["events"] = [{**e, "source": SOURCE} for e in self.events]
        d["source"] = SOURCE
        return d


@dataclass(frozen=True)
class Outcome:
    record: Recorded
    explanation: Explanation | None  # None for a replay: nothing was computed
    response: dict | None  # what ``respond`` built (or kept, for a replay)


Respond = Callable[[Recorded, Explanation], dict]
Stored = Callable[[dt.date], tuple[dict | None, list[dict] | None]]

def base_terms_for(defs: Definitions) -> BaseTerms:
    """The base-terms queries of these definitions, kept with them
    (``Definitions.derived``): made once while they are loaded."""
    return defs.derived.get("base_terms", None, lambda: BaseTerms(defs))


def _text(value: str | None, name: str, limit: int, *, required: bool = False) -> str:
    text = "" if value is None else str(value)
    if required and not text:
        raise ReevaluationError(f"{name}: must not be empty")
    if len(text) > limit:
        raise ReevaluationError(f"{name}: at most {limit} characters (got {len(text)})")
    if "\x00" in text:
        raise ReevaluationError(f"{name}: must not contain NUL characters")
    return text


def check_reason(reason: str | None) -> str | None:
    if reason is None or reason == "":
        return None
    if reason not in REASONS:
        raise ReevaluationError(f"reason '{reason}' is not one of {', '.join(REASONS)}")
    return reason


def _request_hash(customer_id: str, as_of: dt.date | None, reason: str | None,
                  note: str) -> str:
    return idempotency.request_hash({
        "customer_id": customer_id, "as_of": as_of.isoformat() if as_of else None,
        "reason": reason, "note": note})


def _dump_held(held: list[dict]) -> str:
    return json.dumps([{k: (v.isoformat() if isinstance(v, dt.date) else v)
                        for k, v in h.items()} for h in held], ensure_ascii=False)


def _load_held(text: str) -> list[dict]:
    held = json.loads(text or "[]")
    for h in held:
        for key in _HELD_DATES:
            if h.get(key):
                h[key] = dt.date.fromisoformat(h[key])
    return held


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _recorded(row: Row, events: list[EventRow] | None = None, *,
              replayed: bool = False) -> Recorded:
    evs = row.events if events is None else events
    return Recorded(
        reevaluation_id=row.reevaluation_id, customer_id=row.customer_id, as_of=row.as_of,
        compared_with=row.compared_with, basis_id=row.basis_id,
        rulebook_version=row.rulebook_version, requested_by=row.requested_by, role=row.role,
        via=row.via, requested_at=_utc(row.requested_at), reason=row.reason, note=row.note,
        before={"segment": row.segment_before, "phase": row.phase_before,
                "need": row.need_before},
        after={"segment": row.segment_after, "phase": row.phase_after,
               "need": row.need_after},
        held=_load_held(row.held),
        events=[{"service": e.service, "event": e.event, "kept_until": e.kept_until,
                 "reason": e.reason} for e in evs],
        replayed=replayed)


# Tables seen to exist, per engine: asking the catalogue costs as much as a lookup, and
# a warehouse table, once made, stays.
_TABLES: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
# and which of segment, phase and need the profiles have (the rulebook's stages)
_ATTRIBUTES: weakref.WeakKeyDictionary[Engine, tuple[str, ...]] = weakref.WeakKeyDictionary()


def _has(engine: Engine, table: str) -> bool:
    known = _TABLES.get(engine)
    if known is not None and table in known:
        return True
    if engine.table_columns(table) is None:
        return False
    _TABLES.setdefault(engine, set()).add(table)
    return True


def _nightly_state(engine: Engine, customer_id: str, day: dt.date | None,
                   stored: Stored | None = None
                   ) -> tuple[dict[str, str | None], list[dict]]:
    """Segment, phase and need of the customer's stored profile on ``day``, and the
    services held then."""
    before: dict[str, str | None] = dict.fromkeys(ATTRIBUTES)
    if day is None:
        return before, []
    if stored is not None:
        row, held = stored(day)
        if row is not None and held is not None:
            before.update({a: row.get(a) for a in ATTRIBUTES})
            return before, [dict(h) for h in held]
    shown = _ATTRIBUTES.get(engine)
    if shown is None:
        columns = set(engine.table_columns(PROFILES) or ())
        shown = _ATTRIBUTES[engine] = tuple(a for a in ATTRIBUTES if a in columns)
    if shown:
        query = exp.select(*(col(a) for a in shown)).from_(PROFILES).where(
            parse("customer_id = $customer_id and as_of = $as_of"))
        rows = engine.fetch_all(query, {"customer_id": customer_id, "as_of": day})
        if rows:
            before.update(zip(shown, rows[0], strict=True))
    if not _has(engine, ENTITLEMENTS):
        return before, []
    held = engine.fetch_all(parse(HELD), {"customer_id": customer_id, "as_of": day})
    return before, [dict(zip(_HELD_KEYS, h, strict=True)) for h in held]


def find_by_key(db: AppDB, requested_by: str, idempotency_key: str) -> Row | None:
    with db.transaction() as s:
        row = idempotency.find_keyed(s, Row, requested_by, idempotency_key)
        if row is not None:
            row.events  # noqa: B018 - loaded before the session closes
        return row


def _conflict(row: Row) -> ReevaluationError:
    return ReevaluationError(
        f"this Idempotency-Key was used for a different request (re-evaluation "
        f"{row.reevaluation_id} of {row.customer_id})", idempotency.IDEMPOTENCY_CONFLICT)


def _replay(row: Row, digest: str) -> Outcome:
    idempotency.check_replay(row, digest, _conflict)
    response = json.loads(row.response) if row.response else None
    return Outcome(_recorded(row, replayed=True), None, response)


def reevaluate(engine: Engine, db: AppDB, defs: Definitions, customer_id: str,
               as_of: dt.date | None = None, *, requested_by: str,
               compiled: CompiledRulebook | None = None, role: str | None = None,
               via: str = "python", reason: str | None = None, note: str | None = None,
               idempotency_key: str | None = None, respond: Respond | None = None,
               latest: dt.date | None = None, base_terms: BaseTerms | None = None,
               stored: Stored | None = None) -> Outcome:
    """Re-evaluate ``customer_id`` as of ``as_of`` (default: the latest snapshot's date,
    or the newest transaction's before any run) and record it.

    ``respond(record, explanation)``, if given, builds the caller's response
    (``Outcome.response``); with an ``idempotency_key`` it is built in the recording
    transaction and kept with the record, and a repeated request (same user, key,
    customer, as_of, reason and note) returns it again without computing or recording
    anything (``record.replayed``); the key with another request is refused
    (``idempotency_conflict``).

    A service's caches: ``latest``, the latest snapshot's date; ``base_terms``, the
    compiled base-terms queries (``base_terms_for``); ``stored(day)``, the customer's
    stored profile row and entitlements on ``day`` if it has them in memory, else
    ``(None, None)``."""
    customer_id = _text(customer_id, "customer_id", 64, required=True)
    requested_by = _text(requested_by, "requested_by", 128, required=True)
    note = _text(note, "note", MAX_NOTE)
    reason = check_reason(reason)
    if via not in REEVALUATION_VIAS:
        raise ReevaluationError(f"via must be one of {', '.join(REEVALUATION_VIAS)}")
    if idempotency_key is not None:
        idempotency_key = _text(idempotency_key, "Idempotency-Key", 200, required=True)
    digest = _request_hash(customer_id, as_of, reason, note)
    if idempotency_key is not None:
        seen = find_by_key(db, requested_by, idempotency_key)
        if seen is not None:
            return _replay(seen, digest)

    day = as_of
    if day is None:
        day = latest or _latest_or_none(engine) or _newest_transaction(engine)
    base = latest if latest is not None and day == latest else _snapshot_on(engine, day)
    x = explain_customer(engine, defs, customer_id, day, compiled=compiled, use_stored=False,
                         base_terms=base_terms or base_terms_for(defs))
    after = {"segment": x.segment, "phase": x.terms.get("phase"), "need": x.terms.get("need")}
    # The stored profile and entitlements, read outside the lock unless a re-evaluation
    # since that snapshot is the state to compare with.
    nightly = None if _has_basis(db, customer_id, base) else \
        _nightly_state(engine, customer_id, base, stored)
    keep = idempotency_key is not None and respond is not None

    for attempt in range(8):
        try:
            with _WRITE, db.transaction() as s:
                top = s.scalar(select(func.max(Row.seq)).where(
                    Row.customer_id == customer_id)) or 0
                basis = s.scalar(select(Row).where(Row.customer_id == customer_id,
                                                   Row.seq <= top, _same_base(base))
                                 .order_by(Row.seq.desc()).limit(1))
                if basis is not None:
                    before = {"segment": basis.segment_after, "phase": basis.phase_after,
                              "need": basis.need_after}
                    held_before = _load_held(basis.held)
                else:
                    if nightly is None:
                        nightly = _nightly_state(engine, customer_id, base, stored)
                    before, held_before = nightly
                held, events = next_held(defs, x.terms, held_before, day)
                row = Row(customer_id=customer_id, seq=top + 1, as_of=day, compared_with=base,
                          basis_id=basis.reevaluation_id if basis is not None else None,
                          rulebook_version=defs.version, requested_by=requested_by,
                          role=role, via=via, requested_at=dt.datetime.now(dt.UTC),
                          reason=reason, note=note,
                          segment_before=before["segment"], segment_after=after["segment"],
                          phase_before=before["phase"], phase_after=after["phase"],
                          need_before=before["need"], need_after=after["need"],
                          held=_dump_held(held), idempotency_key=idempotency_key,
                          request_hash=digest if idempotency_key is not None else None)
                s.add(row)
                s.flush()
                added = [EventRow(reevaluation_id=row.reevaluation_id, customer_id=customer_id,
                                  as_of=day, service=e["service"], event=e["event"],
                                  kept_until=e["kept_until"], reason=e["reason"],
                                  rulebook_version=defs.version) for e in events]
                s.add_all(added)
                rec = replace(_recorded(row, added), held=held)
                response = None
                if keep:  # kept with the row, for a repeated request
                    response = respond(rec, x)  # type: ignore[misc]
                    row.response = json.dumps(response, ensure_ascii=False)
                s.flush()
            if respond is not None and response is None:
                response = respond(rec, x)
            return Outcome(rec, x, response)
        except IntegrityError:
            # Another writer took this seq (compare again with what it recorded), or
            # this Idempotency-Key (replay its answer).
            if idempotency_key is not None:
                seen = find_by_key(db, requested_by, idempotency_key)
                if seen is not None:
                    return _replay(seen, digest)
        except OperationalError as e:  # SQLite: another process holds the write lock
            if "locked" not in str(e).lower():
                raise
            time.sleep(0.05 * (attempt + 1))
    raise ReevaluationError(f"customer '{customer_id}' is being re-evaluated by others "
                            "right now; try again", "busy")


def _same_base(base: dt.date | None) -> Any:
    return Row.compared_with == base if base is not None else Row.compared_with.is_(None)


def _has_basis(db: AppDB, customer_id: str, base: dt.date | None) -> bool:
    with db.transaction() as s:
        return s.scalar(select(Row.reevaluation_id).where(
            Row.customer_id == customer_id, _same_base(base)).limit(1)) is not None


def _latest_or_none(engine: Engine) -> dt.date | None:
    if not _has(engine, PROFILES):
        return None
    return engine.fetch_all(parse("select max(as_of) from profiles"))[0][0]


def _snapshot_on(engine: Engine, day: dt.date) -> dt.date | None:
    """The newest snapshot on or before ``day`` (``history.snapshot_on``)."""
    if not _has(engine, PROFILES):
        return None
    return engine.fetch_all(parse(SNAPSHOT_ON), {"day": day})[0][0]


def _newest_transaction(engine: Engine) -> dt.date:
    rows = engine.fetch_all(parse("select cast(max(ts) as date) from transactions"))
    return rows[0][0] or dt.date.today()


def list_reevaluations(db: AppDB, customer_id: str | None = None, *, limit: int = 50,
                       engine: Engine | None = None) -> list[Recorded]:
    """Recorded re-evaluations, newest first; with ``engine``, each says which later
    nightly snapshot superseded it (``superseded_by``)."""
    if limit < 1:
        raise ReevaluationError("limit: must be at least 1")
    with db.transaction() as s:
        query = select(Row).order_by(Row.requested_at.desc(), Row.reevaluation_id.desc())
        if customer_id is not None:
            query = query.where(Row.customer_id == customer_id)
        rows = s.scalars(query.limit(limit)).all()
        by_id = {r.reevaluation_id: r for r in rows}
        events: dict[int, list[EventRow]] = {i: [] for i in by_id}
        if by_id:
            for e in s.scalars(select(EventRow).where(EventRow.reevaluation_id.in_(by_id))
                               .order_by(EventRow.event_id)):
                events[e.reevaluation_id].append(e)
        found = [_recorded(r, events[r.reevaluation_id]) for r in rows]
    if engine is not None and found:
        dates = snapshot_dates(engine)
        found = [replace(r, superseded_by=_after(dates, r.compared_with)) for r in found]
    return found


def _after(dates: list[dt.date], day: dt.date | None) -> dt.date | None:
    if day is None:
        return dates[0] if dates else None
    i = bisect.bisect_right(dates, day)
    return dates[i] if i < len(dates) else None


def get_reevaluation(db: AppDB, reevaluation_id: int) -> Recorded:
    with db.transaction() as s:
        row = s.get(Row, reevaluation_id)
        if row is None:
            raise NotFoundError(f"unknown re-evaluation {reevaluation_id}")
        return _recorded(row)
