"""Consents, preferences, pauses and the contact log in the application database.

Staff record a consent given or withdrawn (``clientlens consent record``), a customer's
preferences and pause windows, and each contact made or impression shown (``clientlens
contact log``). Bad values raise ``ContactError`` in one line, with "did you mean" for
a channel, purpose or outcome. Times are kept in UTC; a naive time given here is read
in the policy's time zone by the caller (``policy.py``), never guessed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clientlens.appdb import AppDB
from clientlens.appdb.contact import (
    ContactConsent,
    ContactLogEntry,
    ContactPause,
    ContactPreference,
)
from clientlens.model.contact import (
    ALL_PURPOSES,
    ANY_CHANNEL,
    CONSENT_STATUSES,
    CONTACT_CHANNELS,
    CONTACT_PURPOSES,
    OUTCOMES,
)
from clientlens.model.errors import ClientlensError, did_you_mean
from clientlens.services.contact.rules import (
    ConsentRecord,
    PastContact,
    Pause,
    Preference,
)

UTC = dt.UTC


class ContactError(ClientlensError):
    """A consent, preference, pause or contact with a bad value."""

    code = "contact_error"


def choice(value: str | None, known: Iterable[str], what: str) -> str:
    """``value`` if it is one of ``known``, else one line naming the known ones."""
    known = tuple(known)
    if value in known:
        return value  # type: ignore[return-value]
    shown = value if value is None or value.isprintable() else repr(value)
    raise ContactError(f"unknown {what} '{shown}'.{did_you_mean(str(value), known)} Use one "
                       f"of: {', '.join(known)}")


def _text(value: str | None, what: str, *, required: bool = True,
          max_len: int = 128) -> str | None:
    if value is None or not value.strip():
        if required:
            raise ContactError(f"{what} must not be empty")
        return None
    value = value.strip()
    if len(value) > max_len or not value.isprintable():
        raise ContactError(f"{what} must be printable text of at most {max_len} characters")
    return value


def utc(value: dt.datetime) -> dt.datetime:
    """An aware time in UTC; a naive one read back from SQLite is UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def session(db: AppDB | Session) -> Iterator[Session]:
    """The session given (inside a caller's transaction), or a transaction of its own."""
    if isinstance(db, Session):
        yield db
        return
    with db.transaction() as s:
        yield s


def lock_customer(s: Session, customer_id: str) -> None:
    """Hold the customer's contact log until the transaction ends, so a check and the
    write that follows it are not interleaved with another process's: on PostgreSQL an
    advisory lock per customer, on SQLite the database's write lock (a write statement
    that changes nothing takes it; other writers wait up to the busy timeout)."""
    if s.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(b"contact_log\0" + customer_id.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        s.execute(text("select pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        s.execute(update(ContactLogEntry).where(ContactLogEntry.contact_id < 0)
                  .values(outcome=ContactLogEntry.outcome))


def check_zone(zone: str) -> str:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ContactError(f"unknown time zone '{zone}'; use a name like Europe/Moscow or "
                           "Europe/Sofia") from None
    return zone


# -- consents ----------------------------------------------------------------------------


def record_consent(db: AppDB, customer_id: str, *, purpose: str, channel: str, status: str,
                   effective_from: dt.datetime, source: str, recorded_by: str,
                   reference: str | None = None) -> ConsentRecord:
    """Record a consent given or withdrawn. Purpose ``all`` (channel ``any``) withdrawn is
    the do-not-contact; ``all`` granted lifts it."""
    customer = _text(customer_id, "customer id", max_len=64)
    purpose = choice(purpose, (*CONTACT_PURPOSES, ALL_PURPOSES), "purpose")
    channel = choice(channel, (*CONTACT_CHANNELS, ANY_CHANNEL), "channel")
    status = choice(status, CONSENT_STATUSES, "consent status")
    if purpose == ALL_PURPOSES and channel != ANY_CHANNEL:
        raise ContactError("purpose 'all' is the do-not-contact: it takes channel 'any'")
    if effective_from.tzinfo is None:
        raise ContactError("effective_from needs a time zone")
    row = ContactConsent(customer_id=customer, purpose=purpose, channel=channel,
                         status=status, effective_from=utc(effective_from),
                         source=_text(source, "source", max_len=64),
                         recorded_by=_text(recorded_by, "recorded by"),
                         reference=_text(reference, "reference", required=False),
                         recorded_at=dt.datetime.now(UTC))
    with db.transaction() as s:
        s.add(row)
        s.flush()
        return _consent(row)


def _consent(row: ContactConsent) -> ConsentRecord:
    return ConsentRecord(purpose=row.purpose, channel=row.channel, status=row.status,
                         effective_from=utc(row.effective_from), source=row.source,
                         recorded_by=row.recorded_by, reference=row.reference,
                         origin="clientlens", record_id=str(row.consent_id),
                         recorded_at=utc(row.recorded_at) if row.recorded_at else None)


def recorded_consents(db: AppDB | Session, customer_id: str) -> list[ConsentRecord]:
    with session(db) as s:
        rows = s.scalars(select(ContactConsent).where(ContactConsent.customer_id == customer_id)
                         .order_by(ContactConsent.effective_from, ContactConsent.consent_id))
        return [_consent(r) for r in rows]


# -- preferences and pauses ----------------------------------------------------------------


def set_preference(db: AppDB, customer_id: str, *, recorded_by: str,
                   preferred_channel: str | None = None, language: str | None = None,
                   time_zone: str | None = None, country: str | None = None) -> Preference:
    """Set the fields given (others are kept); an empty string clears one."""
    from clientlens.definitions.contact_policy import supported_country

    customer = _text(customer_id, "customer id", max_len=64)
    if preferred_channel:
        choice(preferred_channel, CONTACT_CHANNELS, "channel")
    if time_zone:
        check_zone(time_zone)
    if country and not supported_country(country):
        raise ContactError(f"unknown country '{country}'; give an ISO code like RU or BG")
    if language and (len(language) > 8 or not language.isalpha()):
        raise ContactError(f"language '{language}' is not a code like ru, bg or en")
    with db.transaction() as s:
        row = s.get(ContactPreference, customer)
        if row is None:
            row = ContactPreference(customer_id=customer)
            s.add(row)
        for name, value in (("preferred_channel", preferred_channel), ("language", language),
                            ("time_zone", time_zone), ("country", country)):
            if value is not None:
                setattr(row, name, value or None)
        row.updated_by = _text(recorded_by, "recorded by")
        row.updated_at = dt.datetime.now(UTC)
        return Preference(row.preferred_channel, row.language, row.time_zone, row.country)


def preference(db: AppDB | Session, customer_id: str) -> Preference:
    with session(db) as s:
        row = s.get(ContactPreference, customer_id)
        if row is None:
            return Preference()
        return Preference(row.preferred_channel, row.language, row.time_zone, row.country)


def add_pause(db: AppDB, customer_id: str, starts_on: dt.date, ends_on: dt.date, *,
              recorded_by: str, reason: str = "") -> Pause:
    customer = _text(customer_id, "customer id", max_len=64)
    if ends_on < starts_on:
        raise ContactError(f"a pause cannot end ({ends_on}) before it starts ({starts_on})")
    row = ContactPause(customer_id=customer, starts_on=starts_on, ends_on=ends_on,
                       reason=_text(reason, "reason", required=False, max_len=500) or "",
                       recorded_by=_text(recorded_by, "recorded by"))
    with db.transaction() as s:
        s.add(row)
    return Pause(starts_on, ends_on, row.reason)


def pauses(db: AppDB | Session, customer_id: str) -> list[Pause]:
    with session(db) as s:
        rows = s.scalars(select(ContactPause).where(ContactPause.customer_id == customer_id)
                         .order_by(ContactPause.starts_on))
        return [Pause(r.starts_on, r.ends_on, r.reason) for r in rows]


# -- the contact log ---------------------------------------------------------------------


def contact_row(customer_id: str, *, channel: str, purpose: str, at: dt.datetime,
                recorded_by: str, campaign: str | None = None, offer: str | None = None,
                outcome: str | None = None, source_ref: str | None = None
                ) -> ContactLogEntry:
    """A checked, unsaved log entry (one line per bad value)."""
    customer = _text(customer_id, "customer id", max_len=64)
    channel = choice(channel, CONTACT_CHANNELS, "channel")
    purpose = choice(purpose, CONTACT_PURPOSES, "purpose")
    if outcome is not None:
        outcome = choice(outcome, OUTCOMES, "outcome")
    if at.tzinfo is None:
        raise ContactError("the contact's time needs a time zone")
    return ContactLogEntry(customer_id=customer, channel=channel, purpose=purpose, at=utc(at),
                           campaign=_text(campaign, "campaign", required=False, max_len=64),
                           offer=_text(offer, "offer", required=False, max_len=64),
                           outcome=outcome, recorded_by=_text(recorded_by, "recorded by"),
                           source_ref=_text(source_ref, "source ref", required=False))


def logged(s: Session, source_ref: str | None) -> int | None:
    """The contact already logged with ``source_ref``, if any."""
    if source_ref is None:
        return None
    return s.scalar(select(ContactLogEntry.contact_id)
                    .where(ContactLogEntry.source_ref == source_ref))


def insert_contact(db: AppDB | Session, row: ContactLogEntry) -> tuple[int, bool]:
    """Save ``row`` unless its source_ref is logged already; its id and whether new."""
    with session(db) as s:
        found = logged(s, row.source_ref)
        if found is not None:
            return found, False
        s.add(row)
        s.flush()
        return row.contact_id, True


def log_contact(db: AppDB, customer_id: str, *, channel: str, purpose: str,
                at: dt.datetime, recorded_by: str, campaign: str | None = None,
                offer: str | None = None, outcome: str | None = None,
                source_ref: str | None = None) -> tuple[int, bool]:
    """Record a contact made (or an impression shown); returns its id and whether it is
    new. The same ``source_ref`` twice is one contact."""
    row = contact_row(customer_id, channel=channel, purpose=purpose, at=at,
                      recorded_by=recorded_by, campaign=campaign, offer=offer,
                      outcome=outcome, source_ref=source_ref)
    try:
        return insert_contact(db, row)
    except IntegrityError:  # the same source_ref logged at the same moment elsewhere
        if row.source_ref is None:
            raise
        with db.transaction() as s:
            return logged(s, row.source_ref), False  # type: ignore[return-value]


def contacts(db: AppDB | Session, customer_id: str, *, since: dt.datetime | None = None
             ) -> list[PastContact]:
    """The customer's logged contacts (since ``since``), oldest first."""
    query = select(ContactLogEntry).where(ContactLogEntry.customer_id == customer_id)
    if since is not None:
        query = query.where(ContactLogEntry.at >= utc(since))
    with session(db) as s:
        rows = s.scalars(query.order_by(ContactLogEntry.at, ContactLogEntry.contact_id))
        return [PastContact(r.channel, r.purpose, utc(r.at), r.campaign, r.offer, r.outcome)
                for r in rows]
