"""Service recovery: a complaint becomes a case that is put right step by step.

A case has an owner, an SLA in calendar days (due on ``opened_on + sla_days``) and
ends ``resolved`` or ``failed`` with an outcome. Its steps are the apology, fixing
the error, compensation, and free notes. The rules:

* a case is resolved only after at least an apology and a fix;
* a compensation has a positive amount; no amount is negative;
* nothing is recorded on a closed case, nor dated before the case was opened;
* a case closes on or after the day it opened and after its last step.

``case_facts(as_of)`` is what the warehouse sees: one row per case opened by the
as-of date with its status *on that date*, so the rulebook's lifecycle phases can
put a customer with an open or failed case into intensive care and let a resolved
one return, for any past date as well as today.

Every function takes an ``AppDB`` from ``clientlens.appdb.open_appdb``. Mistakes
raise ``RecoveryError`` (a ``ClientlensError``) naming the case and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from clientlens.appdb import AppDB
from clientlens.appdb.schema import CASE_STATUSES, STEP_KINDS, RecoveryCase, RecoveryStep
from clientlens.engines.base import Engine
from clientlens.engines.query import parse
from clientlens.model.errors import ClientlensError, NotFoundError, did_you_mean

CLOSED_STATUSES = ("resolved", "failed")
NEEDED_TO_RESOLVE = ("apology", "fix")
COMPLAINT_CATEGORY = "complaint"
DEFAULT_CURRENCY = "RUB"

FACTS_SCHEMA = pa.schema([
    ("case_id", pa.int64()),
    ("customer_id", pa.string()),
    ("opened_on", pa.date32()),
    ("due_on", pa.date32()),
    ("closed_on", pa.date32()),
    ("status", pa.string()),
    ("breached", pa.bool_()),
])


class RecoveryError(ClientlensError):
    """A service-recovery request that breaks a rule or gives a bad value."""

    code = "recovery_error"


class CaseNotFound(RecoveryError, NotFoundError):
    """A case id that is not in the application database."""

    code = "not_found"


@dataclass(frozen=True)
class Step:
    step_id: int
    case_id: int
    kind: str
    done_on: dt.date
    by_whom: str
    amount: Decimal | None
    currency: str | None
    note: str | None


@dataclass(frozen=True)
class Case:
    case_id: int
    customer_id: str
    source_ref: str | None
    opened_on: dt.date
    category: str
    description: str
    owner: str
    sla_days: int
    due_on: dt.date
    status: str
    outcome: str | None
    closed_on: dt.date | None
    steps: tuple[Step, ...] = ()

    def overdue(self, on: dt.date) -> bool:
        """Still open after its due date."""
        return self.status == "open" and on > self.due_on


# -- checking values ---------------------------------------------------------------


def _where(case_id: int | None) -> str:
    return f"case {case_id}" if case_id is not None else "new case"


def _fail(case_id: int | None, field: str | None, problem: str) -> RecoveryError:
    where = _where(case_id) + (f", {field}" if field else "")
    return RecoveryError(f"{where}: {problem}")


def _text(value: object, field: str, case_id: int | None = None, *,
          required: bool = True, max_len: int | None = None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _fail(case_id, field, "must not be empty")
        return None
    if not isinstance(value, str):
        raise _fail(case_id, field, f"must be text (got {value!r})")
    value = value.strip()
    if max_len is not None and len(value) > max_len:
        raise _fail(case_id, field, f"is longer than {max_len} characters")
    return value


def _date(value: object, field: str, case_id: int | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip()).date()
        except ValueError:
            pass
    raise _fail(case_id, field, f"{value!r} is not a date like 2026-10-31")


def _choice(value: object, field: str, choices: tuple[str, ...],
            case_id: int | None = None) -> str:
    if value not in choices:
        raise _fail(case_id, field, f"{value!r} is not one of {', '.join(choices)}."
                    + did_you_mean(str(value), choices))
    return str(value)


def _case_id(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise RecoveryError(f"case id {value!r} is not a whole number like 12")


def _amount(value: object, kind: str, case_id: int) -> Decimal | None:
    if value is None:
        if kind == "compensation":
            raise _fail(case_id, "amount", "a compensation needs a positive amount")
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise _fail(case_id, "amount", f"{value!r} is not a number like 1500.00") from None
    if not amount.is_finite():
        raise _fail(case_id, "amount", f"{value!r} is not a number like 1500.00")
    if amount < 0:
        raise _fail(case_id, "amount", f"must not be negative (got {amount})")
    if kind == "compensation" and amount == 0:
        raise _fail(case_id, "amount", "a compensation needs a positive amount (got 0)")
    if amount != amount.quantize(Decimal("0.01")):
        raise _fail(case_id, "amount", f"{amount} has more than two decimal places")
    if amount >= Decimal(10) ** 16:
        raise _fail(case_id, "amount", f"{amount} is too large")
    return amount.quantize(Decimal("0.01"))


def _currency(value: object, case_id: int) -> str:
    code = str(value or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise _fail(case_id, "currency", f"{value!r} is not a currency code like RUB")
    return code


# -- reading ------------------------------------------------------------------------


def _step(row: RecoveryStep) -> Step:
    return Step(row.step_id, row.case_id, row.kind, row.done_on, row.by_whom, row.amount,
                row.currency, row.note)


def _case(row: RecoveryCase, steps: Iterable[RecoveryStep] = ()) -> Case:
    return Case(row.case_id, row.customer_id, row.source_ref, row.opened_on, row.category,
                row.description, row.owner, row.sla_days, row.due_on, row.status,
                row.outcome, row.closed_on, tuple(_step(s) for s in steps))


def _load(session: Any, case_id: object, *, lock: bool = False) -> RecoveryCase:
    cid = _case_id(case_id)
    row = session.get(RecoveryCase, cid, with_for_update=lock or None)
    if row is None:
        raise CaseNotFound(f"case {cid} not found in the application database "
                           "(`clientlens cases list` shows the cases)")
    return row


def _steps_of(session: Any, case_id: int) -> list[RecoveryStep]:
    return list(session.scalars(select(RecoveryStep).where(RecoveryStep.case_id == case_id)
                                .order_by(RecoveryStep.done_on, RecoveryStep.step_id)))


def get_case(db: AppDB, case_id: int | str) -> Case:
    """One case with its steps, oldest first."""
    with db.transaction() as s:
        row = _load(s, case_id)
        return _case(row, _steps_of(s, row.case_id))


def list_cases(db: AppDB, status: str | None = None, overdue_on: dt.date | str | None = None,
               customer_id: str | None = None) -> list[Case]:
    """Cases by due date. ``overdue_on``: only cases still open after their due date
    on that day."""
    query = select(RecoveryCase)
    if status is not None:
        query = query.where(RecoveryCase.status == _choice(status, "status", CASE_STATUSES))
    if overdue_on is not None:
        day = _date(overdue_on, "overdue_on")
        query = query.where(RecoveryCase.status == "open", RecoveryCase.due_on < day)
    if customer_id is not None:
        query = query.where(RecoveryCase.customer_id == customer_id.strip())
    query = query.order_by(RecoveryCase.due_on, RecoveryCase.case_id)
    with db.transaction() as s:
        return [_case(row) for row in s.scalars(query)]


# -- writing ------------------------------------------------------------------------


def _new_case_values(customer_id: object, opened_on: object, category: object,
                     description: object, owner: object, sla_days: object,
                     source_ref: object) -> dict[str, Any]:
    opened = _date(opened_on, "opened_on")
    if isinstance(sla_days, bool) or not isinstance(sla_days, int) or sla_days < 0:
        raise _fail(None, "sla_days", f"must be a whole number of days >= 0 (got {sla_days!r})")
    return {
        "customer_id": _text(customer_id, "customer_id", max_len=64),
        "source_ref": _text(source_ref, "source_ref", required=False, max_len=128),
        "opened_on": opened,
        "category": _text(category, "category", max_len=64),
        "description": _text(description, "description", required=False) or "",
        "owner": _text(owner, "owner", max_len=128),
        "sla_days": sla_days,
        "due_on": opened + dt.timedelta(days=sla_days),
        "status": "open",
    }


def open_case(db: AppDB, customer_id: str, opened_on: dt.date | str, category: str,
              description: str, owner: str, sla_days: int,
              source_ref: str | None = None) -> Case:
    """Open a case for a customer; it is due ``sla_days`` calendar days later."""
    values = _new_case_values(customer_id, opened_on, category, description, owner, sla_days,
                              source_ref)
    with db.transaction() as s:
        if values["source_ref"] is not None:
            existing = s.scalar(select(RecoveryCase.case_id)
                                .where(RecoveryCase.source_ref == values["source_ref"]))
            if existing is not None:
                raise _fail(None, "source_ref", f"'{values['source_ref']}' already has "
                            f"case {existing}")
        row = RecoveryCase(**values)
        s.add(row)
        s.flush()
        return _case(row)


def record_step(db: AppDB, case_id: int | str, kind: str, done_on: dt.date | str,
                by_whom: str, amount: Decimal | int | str | None = None,
                note: str | None = None, currency: str = DEFAULT_CURRENCY) -> Step:
    """Record an apology, fix, compensation (with a positive amount) or note."""
    with db.transaction() as s:
        case = _load(s, case_id, lock=True)
        cid = case.case_id
        if case.status != "open":
            raise _fail(cid, None, f"was {case.status} on {case.closed_on}: no steps can be "
                        "recorded after closing")
        kind = _choice(kind, "kind", STEP_KINDS, cid)
        day = _date(done_on, "done_on", cid)
        if day < case.opened_on:
            raise _fail(cid, "done_on", f"{day} is before the case was opened "
                        f"({case.opened_on})")
        money = _amount(amount, kind, cid)
        row = RecoveryStep(case_id=cid, kind=kind, done_on=day,
                           by_whom=_text(by_whom, "by_whom", cid, max_len=128),
                           amount=money,
                           currency=_currency(currency, cid) if money is not None else None,
                           note=_text(note, "note", cid, required=False))
        s.add(row)
        case.updated_at = dt.datetime.now(dt.UTC)
        s.flush()
        return _step(row)


def close_case(db: AppDB, case_id: int | str, closed_on: dt.date | str, status: str,
               outcome: str) -> Case:
    """Close a case as ``resolved`` (needs an apology and a fix) or ``failed``."""
    with db.transaction() as s:
        case = _load(s, case_id, lock=True)
        cid = case.case_id
        if case.status != "open":
            raise _fail(cid, None, f"is already {case.status} (closed on {case.closed_on})")
        status = _choice(status, "status", CLOSED_STATUSES, cid)
        day = _date(closed_on, "closed_on", cid)
        if day < case.opened_on:
            raise _fail(cid, "closed_on", f"{day} is before the case was opened "
                        f"({case.opened_on})")
        text = _text(outcome, "outcome", cid)
        steps = _steps_of(s, cid)
        later = [st for st in steps if st.done_on > day]
        if later:
            raise _fail(cid, "closed_on", f"{day} is before step {later[-1].step_id} "
                        f"({later[-1].kind}) done on {later[-1].done_on}")
        if status == "resolved":
            done = {st.kind for st in steps}
            missing = [k for k in NEEDED_TO_RESOLVE if k not in done]
            if missing:
                have = ", ".join(sorted(done)) or "none"
                raise _fail(cid, "status", "cannot be resolved without "
                            + " and ".join(f"a{'n' if k[0] in 'aeiou' else ''} {k} step"
                                           for k in missing)
                            + f" (steps so far: {have})")
        case.status, case.closed_on, case.outcome = status, day, text
        case.updated_at = dt.datetime.now(dt.UTC)
        s.flush()
        return _case(case, steps)


def _complaint(row: Mapping[str, Any], number: int) -> tuple[str, str, dt.date]:
    values = []
    for field in ("interaction_id", "customer_id", "ts"):
        value = row.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RecoveryError(f"complaint row {number}, {field}: missing")
        values.append(value)
    ref, customer, ts = values
    try:
        day = _date(ts, "ts")
    except RecoveryError:
        raise RecoveryError(f"complaint row {number}, ts: {ts!r} is not a date or "
                            "timestamp like 2026-10-30 09:12:00") from None
    return str(ref).strip(), str(customer).strip(), day


def complaints_since(engine: Engine, day: dt.date) -> pa.Table:
    """The warehouse's complaints from ``day`` on (interaction_id, customer_id, ts),
    oldest first: what ``cases_from_complaints`` takes."""
    return engine.fetch_arrow(parse(
        "select interaction_id, customer_id, ts from interactions "
        "where kind = 'complaint' and ts >= $day order by ts"), {"day": day})


def cases_from_complaints(db: AppDB, rows: Iterable[Mapping[str, Any]] | pa.Table,
                          default_owner: str, sla_days: int) -> int:
    """Open one case per complaint (rows with interaction_id, customer_id, ts), keyed by
    the interaction id: complaints seen before open nothing. Returns the new cases."""
    if isinstance(rows, pa.Table):
        rows = rows.to_pylist()
    complaints: dict[str, tuple[str, dt.date]] = {}
    for number, row in enumerate(rows, start=1):
        ref, customer, day = _complaint(row, number)
        complaints.setdefault(ref, (customer, day))
    values = [_new_case_values(customer, day, COMPLAINT_CATEGORY, f"Complaint {ref}",
                               default_owner, sla_days, ref)
              for ref, (customer, day) in complaints.items()]
    new = 0
    with db.transaction() as s:
        refs = list(complaints)
        known: set[str] = set()
        for start in range(0, len(refs), 500):
            known.update(s.scalars(select(RecoveryCase.source_ref).where(
                RecoveryCase.source_ref.in_(refs[start:start + 500]))))
        stmt = _insert_ignoring_known_refs(db.dialect)
        conn = s.connection()
        for value in values:
            if value["source_ref"] in known:
                continue
            # no row back when another import opened the case meanwhile
            new += conn.execute(stmt, value).first() is not None
    return new


def _insert_ignoring_known_refs(dialect: str) -> Any:
    table = RecoveryCase.__table__
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=["source_ref"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["source_ref"])
    else:
        stmt = insert(table)
    return stmt.returning(table.c.case_id)


# -- for the warehouse ----------------------------------------------------------------


def case_facts(db: AppDB, as_of: dt.date | str) -> pa.Table:
    """One row per case opened by ``as_of``, as things stood on that date.

    ``closed_on`` is NULL and ``status`` is ``open`` for a case closed after ``as_of``;
    ``breached`` is true when the due date had passed on ``as_of`` without the case
    being closed by it.
    """
    day = _date(as_of, "as_of")
    query = (select(RecoveryCase.case_id, RecoveryCase.customer_id, RecoveryCase.opened_on,
                    RecoveryCase.due_on, RecoveryCase.closed_on, RecoveryCase.status)
             .where(RecoveryCase.opened_on <= day).order_by(RecoveryCase.case_id))
    columns: dict[str, list] = {name: [] for name in FACTS_SCHEMA.names}
    with db.transaction() as s:
        for case_id, customer, opened, due, closed, status in s.execute(query):
            if closed is not None and closed > day:
                closed, status = None, "open"
            columns["case_id"].append(case_id)
            columns["customer_id"].append(customer)
            columns["opened_on"].append(opened)
            columns["due_on"].append(due)
            columns["closed_on"].append(closed)
            columns["status"].append(status)
            columns["breached"].append(day > due and (closed is None or closed > due))
    return pa.table(columns, schema=FACTS_SCHEMA)

