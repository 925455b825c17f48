"""The contact policy service: may the bank contact this customer on this channel, for
this purpose, at this time? And if not, why not.

``check`` gathers the customer's facts and hands them to ``rules.decide``:

* from the application database: consents recorded through clientlens, preferences,
  pause windows, the contact log, open recovery cases, and departures recorded with a
  do-not-contact;
* from the warehouse (when one is given): the bank's imported ``consents`` and the
  complaints in ``interactions`` (their naive timestamps are the bank's wall clock,
  ``time_zone`` in clientlens.yaml).

The policy is ``definitions/contact_policy.yaml`` of the workspace, or the shipped
default when a workspace made before it has none. ``record`` logs a contact after
checking it, so the caps count it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from clientlens.appdb import AppDB, Departure, RecoveryCase
from clientlens.definitions.contact_policy import POLICY_FILE, ContactPolicy, load_contact_policy
from clientlens.engines.base import Engine
from clientlens.engines.query import parse
from clientlens.model.contact import CONTACT_CHANNELS, CONTACT_PURPOSES
from clientlens.services.contact import records
from clientlens.services.contact.rules import (
    ConsentRecord,
    CustomerFacts,
    Decision,
    Proposal,
    decide,
)

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "defaults" / POLICY_FILE
# How far back the log is read: the longest cap period (a month) and the cooling-off.
_MONTH = dt.timedelta(days=32)

_CONSENTS = parse(
    "select consent_id, purpose, channel, status, effective_from, source, recorded_by, "
    "reference from consents where customer_id = $customer order by effective_from")
_COMPLAINTS = parse(
    "select ts from interactions where customer_id = $customer and kind = 'complaint' "
    "and ts >= $since order by ts")


@dataclass(frozen=True)
class Warehouse:
    """The bank's side: an open engine and the zone its naive timestamps are in."""

    engine: Engine
    time_zone: str


def policy_path(definitions_dir: str | Path) -> Path:
    """The workspace's policy file, or the shipped default if it has none."""
    path = Path(definitions_dir) / POLICY_FILE
    return path if path.exists() else DEFAULT_POLICY


def load_policy(definitions_dir: str | Path) -> ContactPolicy:
    return load_contact_policy(policy_path(definitions_dir))


def proposal(customer_id: str, channel: str, purpose: str, at: dt.datetime, *,
             campaign: str | None = None, offer: str | None = None) -> Proposal:
    """A checked proposal: known channel and purpose (else one line with did-you-mean)."""
    records.choice(channel, CONTACT_CHANNELS, "channel")
    records.choice(purpose, CONTACT_PURPOSES, "purpose")
    customer = (customer_id or "").strip()
    if not customer:
        raise records.ContactError("customer id must not be empty")
    if at.tzinfo is None:
        raise records.ContactError("the proposed time needs a time zone")
    return Proposal(customer, channel, purpose, at, campaign or None, offer or None)


def localize(at: dt.datetime, zone: str) -> dt.datetime:
    """A naive time read in ``zone``; an aware one kept."""
    return at if at.tzinfo is not None else at.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def customer_zone(policy: ContactPolicy, db: AppDB, customer_id: str) -> str:
    return records.preference(db, customer_id).time_zone or policy.time_zone


def imported_consents(warehouse: Warehouse, customer_id: str) -> list[ConsentRecord]:
    if warehouse.engine.table_columns("consents") is None:
        return []
    zone = warehouse.time_zone
    return [ConsentRecord(purpose=p, channel=c, status=s,
                          effective_from=localize(at, zone), source=src, recorded_by=by,
                          reference=ref, origin="bank", record_id=str(cid))
            for cid, p, c, s, at, src, by, ref in
            warehouse.engine.fetch_all(_CONSENTS, {"customer": customer_id})]


def _complaints(warehouse: Warehouse, customer_id: str, since: dt.datetime
                ) -> tuple[dt.datetime, ...]:
    if warehouse.engine.table_columns("interactions") is None:
        return ()
    zone = zoneinfo.ZoneInfo(warehouse.time_zone)
    naive = since.astimezone(zone).replace(tzinfo=None)
    rows = warehouse.engine.fetch_all(_COMPLAINTS, {"customer": customer_id, "since": naive})
    return tuple(localize(r[0], warehouse.time_zone) for r in rows)


def facts(policy: ContactPolicy, db: AppDB | Session, customer_id: str, at: dt.datetime,
          warehouse: Warehouse | None = None) -> CustomerFacts:
    """Everything the policy needs to know about ``customer_id`` around ``at`` (read in
    the session given, or in a transaction of its own)."""
    cool = policy.cooling_off
    back = max(_MONTH, dt.timedelta(days=max(cool.after_complaint_days or 0,
                                             cool.after_declined_offer_days or 0) + 1))
    consents = records.recorded_consents(db, customer_id)
    complaints: tuple[dt.datetime, ...] = ()
    if warehouse is not None:
        consents = imported_consents(warehouse, customer_id) + consents
        complaints = _complaints(warehouse, customer_id, at - back)
    with records.session(db) as s:
        opened = s.scalar(select(RecoveryCase.opened_on)
                          .where(RecoveryCase.customer_id == customer_id,
                                 RecoveryCase.status == "open")
                          .order_by(RecoveryCase.opened_on).limit(1))
        left = s.scalar(select(Departure.left_on)
                        .where(Departure.customer_id == customer_id,
                               Departure.do_not_contact.is_(True))
                        .order_by(Departure.left_on).limit(1))
    return CustomerFacts(consents=tuple(consents),
                         contacts=tuple(records.contacts(db, customer_id, since=at - back)),
                         pauses=tuple(records.pauses(db, customer_id)),
                         preference=records.preference(db, customer_id),
                         open_case_since=opened, complaints=complaints,
                         left_do_not_contact=left)


def check(policy: ContactPolicy, db: AppDB, proposed: Proposal,
          warehouse: Warehouse | None = None) -> Decision:
    """Allowed or suppressed, with every reason."""
    return decide(policy, proposed, facts(policy, db, proposed.customer_id, proposed.at,
                                          warehouse))


def record(policy: ContactPolicy, db: AppDB, proposed: Proposal, *, recorded_by: str,
           outcome: str | None = None, source_ref: str | None = None,
           enforce: bool = False, warehouse: Warehouse | None = None
           ) -> tuple[Decision, int | None, bool]:
    """Log a contact made. With ``enforce``, a suppressed contact is not logged (the
    decision says why); otherwise it is logged anyway (it happened) and the decision
    shows what it broke. Returns the decision, the contact id and whether it is new.

    The check and the write are one transaction holding the customer's lock
    (``records.lock_customer``): processes logging for the same customer at once are
    decided one after the other, so with ``enforce`` no cap is ever passed."""
    row = records.contact_row(proposed.customer_id, channel=proposed.channel,
                              purpose=proposed.purpose, at=proposed.at,
                              recorded_by=recorded_by, campaign=proposed.campaign,
                              offer=proposed.offer, outcome=outcome, source_ref=source_ref)
    with db.transaction() as s:
        records.lock_customer(s, proposed.customer_id)
        decision = decide(policy, proposed, facts(policy, s, proposed.customer_id,
                                                  proposed.at, warehouse))
        found = records.logged(s, row.source_ref)
        if found is not None:
            return decision, found, False
        if enforce and not decision.allowed:
            return decision, None, False
        contact_id, new = records.insert_contact(s, row)
    return decision, contact_id, new


def consent_state(policy: ContactPolicy, db: AppDB, customer_id: str, at: dt.datetime,
                  warehouse: Warehouse | None = None
                  ) -> tuple[ConsentRecord | None, dict[tuple[str, str], tuple[str, str]],
                             list[ConsentRecord]]:
    """For ``consent show``: the do-not-contact in force (or None); per purpose and
    channel the record in force (granted or withdrawn, with when and where) or, without
    one, the purpose's basis (opt_in or opt_out); every record, oldest first."""
    from clientlens.services.contact.rules import do_not_contact, effective_consent

    consents = records.recorded_consents(db, customer_id)
    if warehouse is not None:
        consents = imported_consents(warehouse, customer_id) + consents
    zone = zoneinfo.ZoneInfo(customer_zone(policy, db, customer_id))
    grid: dict[tuple[str, str], tuple[str, str]] = {}
    for purpose in CONTACT_PURPOSES:
        for channel, spec in CONTACT_CHANNELS.items():
            r = effective_consent(consents, purpose, channel, at)
            basis = policy.basis[(purpose, spec.direction)]
            if r is not None:
                when = r.effective_from.astimezone(zone).date()
                grid[(purpose, channel)] = (r.status, f"{when} via {r.source}")
            else:
                grid[(purpose, channel)] = (basis, "")
    consents.sort(key=lambda r: r.effective_from)
    return do_not_contact(consents, at), grid, consents
