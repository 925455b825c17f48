"""Member-get-member: customers invite friends with a code; both earn points once the
friend does what the programme asks (opens a product, holds a balance, gets a salary).

The flow, each step one function over an ``AppDB``:

* ``publish_programme(db, path)`` stores a programme's YAML definition as a new,
  immutable version (the same content again is a no-op);
* ``issue_code`` gives an eligible referrer an invitation code;
* ``register`` records a new customer registering with a code, or rejects them with
  a reason code (``unknown_code``, ``expired_code``, ``already_customer``,
  ``self_referral``, ``circular``, ``already_registered``, ``velocity``). Rejections
  are kept (the funnel counts them) and returned, not raised;
* ``qualify`` records a qualifying fact; a fact that does not count comes back with a
  reason code (``fact_before_registration``, ``fact_after_expiry``, ``wrong_event``,
  ``event_not_met``). When the event is met both rewards are posted once to the
  points ledger, unless the referrer's cap is reached (``capped``: qualified, no
  reward);
* ``redeem_points`` spends points, never below zero, idempotent by key;
* ``funnel``, ``points_statement``, ``published_programmes`` and ``referral_facts``
  report.

Every write takes an optional idempotency key (``redeem_points`` requires one): the
key is claimed in the same transaction as the write and keeps its answer, so the same
key and request replay the first answer and the same key with another request is
refused (``idempotency_conflict``); see ``_once``.

Exactly-once rewards are the database's rule: a unique constraint on (registration,
beneficiary role) in ``ledger_transactions``, plus a row lock on the registration so
parallel requests wait for each other instead of failing. Customer balances are kept
in ``ledger_accounts`` with a CHECK that they never go below zero.

Mistakes in the request (bad dates, unknown programme, ineligible referrer, overdraft)
raise ``ReferralError`` (a ``ClientlensError``) naming what and where; a broken
definition file raises ``ProgrammeDefinitionError`` naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clientlens.appdb import AppDB
from clientlens.appdb.schema import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    ReferralCode,
    ReferralProgramme,
    ReferralRegistration,
)
from clientlens.model.errors import ClientlensError, DefinitionError, NotFoundError, Problem
from clientlens.platform import idempotency

# reason codes
UNKNOWN_CODE = "unknown_code"
EXPIRED_CODE = "expired_code"
ALREADY_CUSTOMER = "already_customer"
SELF_REFERRAL = "self_referral"
CIRCULAR = "circular"
ALREADY_REGISTERED = "already_registered"
VELOCITY = "velocity"
REGISTRATION_REASONS = (UNKNOWN_CODE, EXPIRED_CODE, ALREADY_CUSTOMER, SELF_REFERRAL, CIRCULAR,
                        ALREADY_REGISTERED, VELOCITY)
FACT_BEFORE_REGISTRATION = "fact_before_registration"
FACT_AFTER_EXPIRY = "fact_after_expiry"
WRONG_EVENT = "wrong_event"
EVENT_NOT_MET = "event_not_met"
FACT_REASONS = (FACT_BEFORE_REGISTRATION, FACT_AFTER_EXPIRY, WRONG_EVENT, EVENT_NOT_MET)
CAPPED = "capped"
NOT_ELIGIBLE = "not_eligible"
INSUFFICIENT_POINTS = "insufficient_points"
IDEMPOTENCY_CONFLICT = idempotency.IDEMPOTENCY_CONFLICT

#: What each reason code means, for people (the faces show it next to the code).
REASON_MESSAGES: dict[str, str] = {
    UNKNOWN_CODE: "no invitation has this code",
    EXPIRED_CODE: "the invitation code had expired on the registration date",
    ALREADY_CUSTOMER: "the new customer is already a customer of the bank",
    SELF_REFERRAL: "the new customer is the referrer (same id, document, phone or address)",
    CIRCULAR: "the referrer was brought in by this new customer",
    ALREADY_REGISTERED: "the new customer is already registered in this programme "
                        "with another code",
    VELOCITY: "the referrer reached the programme's limit of registrations per day",
    FACT_BEFORE_REGISTRATION: "the fact is dated before the registration",
    FACT_AFTER_EXPIRY: "the fact is dated after the programme's qualifying window",
    WRONG_EVENT: "the programme asks for another kind of qualifying event",
    EVENT_NOT_MET: "the fact does not meet the programme's qualifying event",
    CAPPED: "qualified, but the referrer reached the programme's cap on rewards: "
            "nobody was rewarded",
}


def reason_message(reason: str | None) -> str | None:
    """The reason code in words, or None."""
    return None if reason is None else REASON_MESSAGES.get(reason, reason)


REDEMPTIONS_ACCOUNT = "bank:points_redeemed"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I

FACTS_SCHEMA = pa.schema([
    ("referral_id", pa.string()),
    ("customer_id", pa.string()),
    ("invited_on", pa.date32()),
    ("referred_customer_id", pa.string()),
    ("qualified_on", pa.date32()),
])


class ReferralError(ClientlensError):
    """A referral request that breaks a rule or gives a bad value. ``code`` is the
    rule's reason code when one was given (e.g. ``not_eligible``), else
    ``invalid_request``."""

    code = "invalid_request"

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message, code=reason)

    @property
    def reason(self) -> str | None:
        """The reason code given when raised (the precise ``code``), else None: the
        audit names the error's class for a refusal without one."""
        return vars(self).get("code")


class ProgrammeNotFound(ReferralError, NotFoundError):
    """A programme id that was never published, or an unknown registration."""

    code = "not_found"


class InsufficientPoints(ReferralError):
    """A redemption larger than the customer's balance."""

    code = INSUFFICIENT_POINTS


class ProgrammeDefinitionError(DefinitionError, ReferralError):
    """A referral programme file that does not parse or validate."""

    def __init__(self, problems: Iterable[Problem]):
        DefinitionError.__init__(self, problems)
        self.code = "invalid_definition"


# -- programme definitions (YAML, validated) -----------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferrerRule(_Strict):
    """Who may refer; an empty list allows anyone."""

    segments: list[str] = []
    phases: list[str] = []
    grades: dict[str, list[str]] = {}  # e.g. loyalty_grade: [A, B]


class Rewards(_Strict):
    referrer_points: int = Field(gt=0)
    new_customer_points: int = Field(gt=0)


class ProductOpened(_Strict):
    kind: Literal["product_opened"]
    within_days: int = Field(gt=0)
    product_types: list[str] = []  # account types, e.g. card, deposit
    product_codes: list[str] = []

    @model_validator(mode="after")
    def _something_to_open(self) -> ProductOpened:
        if not self.product_types and not self.product_codes:
            raise ValueError("needs product_types or product_codes")
        return self


class MinBalance(_Strict):
    kind: Literal["min_balance"]
    within_days: int = Field(gt=0)
    amount: Decimal = Field(gt=0)
    days: int = Field(gt=0)  # held for at least this many days


class SalaryReceived(_Strict):
    kind: Literal["salary_received"]
    within_days: int = Field(gt=0)
    min_amount: Decimal | None = Field(default=None, gt=0)


QualifyingEvent = Annotated[ProductOpened | MinBalance | SalaryReceived,
                            Field(discriminator="kind")]


class Cap(_Strict):
    max_rewards: int = Field(gt=0)
    period_days: int = Field(gt=0)


class FraudRules(_Strict):
    max_registrations_per_day: int = Field(default=3, gt=0)


class Programme(_Strict):
    """A referral programme as written in ``definitions/referrals/<id>.yaml``."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str = Field(min_length=1, max_length=256)
    referrer: ReferrerRule = ReferrerRule()
    rewards: Rewards
    qualifying_event: QualifyingEvent
    cap: Cap
    invitation_expiry_days: int = Field(gt=0)
    fraud: FraudRules = FraudRules()

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True,
                          separators=(",", ":"))


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("product_opened", "min_balance",
                                              "salary_received")]
    return ".".join(parts) or "programme"


def load_programme(path: str | Path) -> Programme:
    """Read and validate one programme file; the id defaults to the file's name."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ProgrammeDefinitionError([Problem(f"cannot read: {e.strerror}", str(path))]) \
            from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ProgrammeDefinitionError([Problem(
            f"not valid YAML: {getattr(e, 'problem', None) or e}", str(path),
            mark.line + 1 if mark is not None else None)]) from None
    if not isinstance(raw, dict):
        raise ProgrammeDefinitionError([Problem("must be a mapping of settings", str(path))])
    raw.setdefault("id", path.stem)
    if raw["id"] != path.stem:
        raise ProgrammeDefinitionError([Problem(
            f"id '{raw['id']}' differs from the file name '{path.stem}'", str(path), where="id")])
    try:
        return Programme.model_validate(raw)
    except ValidationError as e:
        raise ProgrammeDefinitionError(
            [Problem(err["msg"], str(path), where=_loc(err["loc"])) for err in e.errors()]
        ) from None


@dataclass(frozen=True)
class PublishedProgramme:
    programme_id: str
    version: int
    content_hash: str
    created: bool  # False when the same content was already the newest version
    programme: Programme = field(repr=False)


def publish_programme(db: AppDB, path: str | Path) -> PublishedProgramme:
    """Store the file's programme as a new version, unless the newest version already
    has the same content. Published versions are never changed."""
    programme = load_programme(path)
    content = programme.canonical_json()
    digest = hashlib.sha256(content.encode()).hexdigest()
    with db.transaction() as s:
        latest = _latest(s, programme.id)
        if latest is not None and latest.content_hash == digest:
            return PublishedProgramme(programme.id, latest.version, digest, False, programme)
        version = 1 if latest is None else latest.version + 1
        s.add(ReferralProgramme(programme_id=programme.id, version=version,
                                name=programme.name, definition=content,
                                content_hash=digest, source=str(path)[-512:]))
        s.flush()
        return PublishedProgramme(programme.id, version, digest, True, programme)


def _latest(s: Session, programme_id: str) -> ReferralProgramme | None:
    return s.scalar(select(ReferralProgramme).where(ReferralProgramme.programme_id
                                                    == programme_id)
                    .order_by(ReferralProgramme.version.desc()).limit(1))


def get_programme(db: AppDB, programme_id: str, version: int | None = None) -> Programme:
    """A published programme: the newest version, or the one asked for."""
    with db.transaction() as s:
        return _programme(s, programme_id, version)[1]


@dataclass(frozen=True)
class ProgrammeVersion:
    programme_id: str
    version: int
    name: str
    content_hash: str
    published_at: dt.datetime
    programme: Programme = field(repr=False)


def published_programmes(db: AppDB) -> list[ProgrammeVersion]:
    """The newest published version of every programme, by id."""
    with db.transaction() as s:
        newest: dict[str, ReferralProgramme] = {}
        for row in s.scalars(select(ReferralProgramme).order_by(
                ReferralProgramme.programme_id, ReferralProgramme.version.desc())):
            newest.setdefault(row.programme_id, row)
        return [ProgrammeVersion(r.programme_id, r.version, r.name, r.content_hash,
                                 r.published_at, Programme.model_validate_json(r.definition))
                for r in newest.values()]


def _programme(s: Session, programme_id: str,
               version: int | None = None) -> tuple[int, Programme]:
    if version is None:
        row = _latest(s, programme_id)
    else:
        row = s.get(ReferralProgramme, (programme_id, version))
    if row is None:
        what = f"programme '{programme_id}'" + (f" version {version}" if version else "")
        raise ProgrammeNotFound(f"referral {what} is not published "
                                "(publish definitions/referrals/<id>.yaml first)")
    return row.version, Programme.model_validate_json(row.definition)


# -- small value checks -----------------------------------------------------------------


def _date(value: object, field_name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ReferralError(f"{field_name}: {value!r} is not a date like 2026-10-31")


def _id(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReferralError(f"{field_name}: must be a non-empty customer id (got {value!r})")
    if len(value.strip()) > 64:
        raise ReferralError(f"{field_name}: is longer than 64 characters")
    return value.strip()


def _normalized(kind: str, value: object) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value)
    if kind == "document":
        text = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    elif kind == "phone":
        digits = re.sub(r"\D", "", text)
        if len(digits) < 7:
            raise ReferralError(f"identity, phone: {value!r} has fewer than 7 digits")
        text = digits[-10:]  # +7 / 8 prefixes of the same number compare equal
    else:
        text = " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
    return text or None


def identity_hashes(identity: Mapping[str, Any] | None) -> dict[str, str | None]:
    """SHA-256 of the normalized document, phone and address (only hashes are stored)."""
    identity = identity or {}
    unknown = set(identity) - {"document", "phone", "address"}
    if unknown:
        raise ReferralError(f"identity: unknown field(s) {', '.join(sorted(unknown))}; "
                            "expected document, phone, address")
    out: dict[str, str | None] = {}
    for kind in ("document", "phone", "address"):
        norm = _normalized(kind, identity.get(kind))
        out[f"{kind}_hash"] = (hashlib.sha256(f"{kind}:{norm}".encode()).hexdigest()
                               if norm else None)
    return out


# -- eligibility and codes -------------------------------------------------------------


def eligibility_problem(programme: Programme, profile: Mapping[str, Any]) -> str | None:
    """Why a referrer with this profile may not refer, or None when they may."""
    rule = programme.referrer
    if rule.segments and profile.get("segment") not in rule.segments:
        return (f"segment {profile.get('segment')!r} is not one of "
                f"{', '.join(rule.segments)}")
    if rule.phases and profile.get("phase") not in rule.phases:
        return f"phase {profile.get('phase')!r} is not one of {', '.join(rule.phases)}"
    grades = profile.get("grades") or {}
    for name, allowed in rule.grades.items():
        value = profile.get(name, grades.get(name))
        if value not in allowed:
            return f"{name} {value!r} is not one of {', '.join(allowed)}"
    return None


@dataclass(frozen=True)
class Invitation:
    code: str
    programme_id: str
    programme_version: int
    referrer_id: str
    issued_on: dt.date
    expires_on: dt.date
    replayed: bool = False  # True when an idempotency key returned an earlier answer


def issue_code(db: AppDB, programme_id: str, referrer_id: str,
               referrer_profile: Mapping[str, Any] | Callable[[str], Mapping[str, Any]],
               today: dt.date | str,
               referrer_identity: Mapping[str, Any] | None = None, *,
               idempotency_key: str | None = None,
               request: Mapping[str, Any] | None = None) -> Invitation:
    """A new invitation code for an eligible referrer under the newest published version.

    ``referrer_profile``: segment, phase and grades (flat, e.g. ``loyalty_grade``, or
    under ``grades``), or a callable ``referrer_id -> profile`` asked only when a code
    is to be issued. ``referrer_identity`` (document, phone, address) is stored as
    hashes for the self-referral check; without it ``register`` can look it up.
    ``idempotency_key``: the same key with the same ``request`` (default: the
    arguments) returns the first invitation again (``_once``).
    """
    referrer = _id(referrer_id, "referrer_id")
    day = _date(today, "today")
    hashes = identity_hashes(referrer_identity)
    key = _key(idempotency_key)
    if request is None:
        request = {"programme_id": programme_id, "referrer_id": referrer, "today": day,
                   **hashes}

    def work(s: Session) -> Invitation:
        version, programme = _programme(s, programme_id)
        profile = referrer_profile(referrer) if callable(referrer_profile) \
            else referrer_profile
        problem = eligibility_problem(programme, profile)
        if problem:
            raise ReferralError(f"referrer {referrer} may not refer in programme "
                                f"'{programme.id}': {problem}", NOT_ELIGIBLE)
        expires = day + dt.timedelta(days=programme.invitation_expiry_days)
        for _ in range(10):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
            if s.get(ReferralCode, code) is None:
                break
        s.add(ReferralCode(code=code, programme_id=programme.id, programme_version=version,
                           referrer_id=referrer, issued_on=day, expires_on=expires, **hashes))
        s.flush()
        return Invitation(code, programme.id, version, referrer, day, expires)

    return _once(db, "issue_code", key, request, work, lambda answer: Invitation(**{
        **answer, "issued_on": _iso(answer["issued_on"]),
        "expires_on": _iso(answer["expires_on"]), "replayed": True}))


# -- registration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    registration_id: int
    programme_id: str | None
    code: str
    referrer_id: str | None
    new_customer_id: str
    registered_on: dt.date
    status: str  # registered, qualified, rewarded, rejected
    reason_code: str | None  # why rejected, or 'capped'
    qualified_on: dt.date | None
    replayed: bool = False  # True when an idempotency key returned an earlier answer

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"


def _registration(row: ReferralRegistration) -> Registration:
    return Registration(row.registration_id, row.programme_id, row.code, row.referrer_id,
                        row.new_customer_id, row.registered_on, row.status, row.reason_code,
                        row.qualified_on)


def _is_customer(existing: Iterable[str] | Callable[[str], bool], customer_id: str) -> bool:
    if callable(existing):
        return bool(existing(customer_id))
    return customer_id in existing


def _ensure_account(s: Session, account: str, kind: str, owner: str) -> None:
    values = {"account": account, "kind": kind, "owner_id": owner, "balance": 0}
    dialect = s.get_bind().dialect.name
    table = LedgerAccount.__table__
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=["account"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["account"])
    else:  # pragma: no cover - only the two databases above are supported
        if s.get(LedgerAccount, account) is not None:
            return
        stmt = insert(table)
    s.execute(stmt.values(**values))


def _locked_account(s: Session, account: str, kind: str, owner: str) -> LedgerAccount:
    """The account row, created when missing and locked (PostgreSQL) until commit: a
    per-customer mutex for caps, velocity and balances."""
    _ensure_account(s, account, kind, owner)
    row = s.scalar(select(LedgerAccount).where(LedgerAccount.account == account)
                   .with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row


def points_account(customer_id: str) -> str:
    return f"customer:{customer_id}:points"


def expense_account(programme_id: str) -> str:
    return f"programme:{programme_id}:expense"


def register(db: AppDB, code: str, new_customer_id: str, identity: Mapping[str, Any] | None,
             registered_on: dt.date | str,
             existing_customer_ids: Iterable[str] | Callable[[str], bool] = frozenset(),
             referrer_identity: Mapping[str, Any] | Callable[[str], Mapping[str, Any] | None]
             | None = None, *, idempotency_key: str | None = None,
             request: Mapping[str, Any] | None = None) -> Registration:
    """Register a new customer with a code. Returns the registration, ``rejected`` with
    its ``reason_code`` when a rule refuses it (rejections are stored too).

    ``existing_customer_ids``: the bank's customers (a set, or a callable answering for
    one id). ``referrer_identity``: the referrer's document/phone/address, or a callable
    ``referrer_id -> identity``; used when the code was issued without one.
    Registering the same customer with the same code again returns the first result.
    With ``idempotency_key`` the same key and ``request`` (default: the arguments)
    return the first answer, a rejection too, without storing another (``_once``).
    """
    customer = _id(new_customer_id, "new_customer_id")
    day = _date(registered_on, "registered_on")
    given_code = str(code or "").strip().upper()
    hashes = identity_hashes(identity)
    key = _key(idempotency_key)
    if request is None:
        request = {"code": given_code, "new_customer_id": customer, "registered_on": day,
                   **hashes}
    # a parallel request registering the same customer meanwhile: _once tries again
    return _once(db, "register", key, request,
                 lambda s: _register(s, given_code, customer, hashes, day,
                                     existing_customer_ids, referrer_identity),
                 lambda answer: Registration(**{
                     **answer, "registered_on": _iso(answer["registered_on"]),
                     "qualified_on": _iso(answer["qualified_on"]), "replayed": True}))


def _register(s: Session, code: str, customer: str, hashes: dict[str, str | None],
              day: dt.date, existing: Iterable[str] | Callable[[str], bool],
              referrer_identity: Any) -> Registration:
    def stored(reason: str | None, inv: ReferralCode | None = None) -> Registration:
        row = ReferralRegistration(
            programme_id=inv.programme_id if inv else None,
            programme_version=inv.programme_version if inv else None,
            code=code[:64], referrer_id=inv.referrer_id if inv else None,
            new_customer_id=customer,
            accepted_customer_id=None if reason else customer, registered_on=day,
            status="rejected" if reason else "registered", reason_code=reason, **hashes)
        s.add(row)
        s.flush()
        return _registration(row)

    inv = s.get(ReferralCode, code) if code else None
    if inv is None:
        return stored(UNKNOWN_CODE)
    # one registration at a time per referrer (velocity, circularity)
    _locked_account(s, points_account(inv.referrer_id), "customer", inv.referrer_id)
    earlier = s.scalar(select(ReferralRegistration).where(
        ReferralRegistration.programme_id == inv.programme_id,
        ReferralRegistration.accepted_customer_id == customer))
    if earlier is not None and earlier.code == inv.code:
        return _registration(earlier)  # the same request again
    if day < inv.issued_on:
        raise ReferralError(f"code {inv.code}, registered_on: {day} is before the code "
                            f"was issued ({inv.issued_on})")
    if day > inv.expires_on:
        return stored(EXPIRED_CODE, inv)
    if _is_customer(existing, customer):
        return stored(ALREADY_CUSTOMER, inv)
    if customer == inv.referrer_id or _same_person(inv, hashes, referrer_identity):
        return stored(SELF_REFERRAL, inv)
    circular = s.scalar(select(func.count()).select_from(ReferralRegistration).where(
        ReferralRegistration.accepted_customer_id == inv.referrer_id,
        ReferralRegistration.referrer_id == customer))
    if circular:
        return stored(CIRCULAR, inv)
    if earlier is not None:
        return stored(ALREADY_REGISTERED, inv)
    _, programme = _programme(s, inv.programme_id, inv.programme_version)
    today_count = s.scalar(select(func.count()).select_from(ReferralRegistration).where(
        ReferralRegistration.referrer_id == inv.referrer_id,
        ReferralRegistration.registered_on == day,
        ReferralRegistration.status != "rejected"))
    if today_count >= programme.fraud.max_registrations_per_day:
        return stored(VELOCITY, inv)
    return stored(None, inv)


def _same_person(inv: ReferralCode, hashes: dict[str, str | None],
                 referrer_identity: Any) -> bool:
    theirs = {"document_hash": inv.document_hash, "phone_hash": inv.phone_hash,
              "address_hash": inv.address_hash}
    if not any(theirs.values()) and referrer_identity is not None:
        found = (referrer_identity(inv.referrer_id) if callable(referrer_identity)
                 else referrer_identity)
        theirs = identity_hashes(found)
    return any(value is not None and hashes.get(key) == value
               for key, value in theirs.items())


def get_registration(db: AppDB, registration_id: int) -> Registration:
    with db.transaction() as s:
        row = s.get(ReferralRegistration, registration_id)
        if row is None:
            raise ProgrammeNotFound(f"referral registration {registration_id} not found")
        return _registration(row)


# -- qualifying and rewards ------------------------------------------------------------------


@dataclass(frozen=True)
class Reward:
    """Points a registration earned one side: ``role`` referrer or new_customer."""

    role: str
    customer_id: str
    points: int
    transaction_id: int


@dataclass(frozen=True)
class Qualification:
    registration_id: int
    status: str  # the registration's status afterwards
    accepted: bool  # the fact counted (event met, now or before)
    reason_code: str | None  # why the fact did not count, or 'capped'
    newly_rewarded: bool  # this call posted the rewards
    transaction_ids: tuple[int, ...] = ()
    rewards: tuple[Reward, ...] = ()  # the registration's rewards, whoever posted them
    replayed: bool = False  # True when an idempotency key returned an earlier answer


def _decimal(fact: Mapping[str, Any], name: str) -> Decimal | None:
    value = fact.get(name)
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ReferralError(f"fact, {name}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ReferralError(f"fact, {name}: {value!r} is not a number")
    return number


def event_met(event: ProductOpened | MinBalance | SalaryReceived,
              fact: Mapping[str, Any]) -> bool:
    """Does the fact satisfy the programme's qualifying event (its kind already equal)?"""
    if isinstance(event, ProductOpened):
        return (fact.get("product_type") in event.product_types
                or fact.get("product_code") in event.product_codes)
    if isinstance(event, MinBalance):
        amount = _decimal(fact, "amount")
        held = fact.get("held_days", 0)
        if isinstance(held, bool) or not isinstance(held, int):
            raise ReferralError(f"fact, held_days: {held!r} is not a whole number of days")
        return amount is not None and amount >= event.amount and held >= event.days
    amount = _decimal(fact, "amount")
    return event.min_amount is None or (amount is not None and amount >= event.min_amount)


def qualify(db: AppDB, new_customer_id: str, fact: Mapping[str, Any],
            today: dt.date | str, programme_id: str | None = None, *,
            idempotency_key: str | None = None,
            request: Mapping[str, Any] | None = None) -> Qualification:
    """Record a qualifying fact for the new customer's registration.

    ``fact``: ``kind`` (product_opened, min_balance, salary_received), ``on`` (its
    date) and the event's details (``product_type``/``product_code``;
    ``amount`` and ``held_days``; ``amount``). When the programme's event is met, the
    referrer and the new customer are rewarded once; over the referrer's cap the
    registration is qualified with reason ``capped`` and nobody is rewarded.
    With ``idempotency_key`` the same key and ``request`` (default: the arguments)
    return the first answer (``_once``).
    """
    customer = _id(new_customer_id, "new_customer_id")
    day = _date(today, "today")
    kind = fact.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ReferralError("fact, kind: missing (product_opened, min_balance or "
                            "salary_received)")
    on = _date(fact.get("on"), "fact, on")
    if on > day:
        raise ReferralError(f"fact, on: {on} is after today ({day})")
    key = _key(idempotency_key)
    if request is None:
        request = {"new_customer_id": customer, "programme_id": programme_id,
                   "fact": dict(fact)}
    # the unique (registration, role) constraint refusing a second reward means another
    # request rewarded this registration first: _once tries again and sees it
    return _once(db, "qualify", key, request,
                 lambda s: _qualify(s, customer, dict(fact), on, programme_id),
                 lambda answer: Qualification(**{
                     **answer, "transaction_ids": tuple(answer["transaction_ids"]),
                     "rewards": tuple(Reward(**r) for r in answer["rewards"]),
                     "replayed": True}))


def _rewards(s: Session, registration_id: int) -> tuple[Reward, ...]:
    rows = s.execute(
        select(LedgerTransaction.beneficiary_role, LedgerTransaction.customer_id,
               LedgerEntry.amount, LedgerTransaction.transaction_id)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.transaction_id)
        .where(LedgerTransaction.registration_id == registration_id,
               LedgerTransaction.kind == "reward", LedgerEntry.amount > 0)
        .order_by(LedgerTransaction.transaction_id)).all()
    return tuple(Reward(role, customer, points, tx) for role, customer, points, tx in rows)


def _qualify(s: Session, customer: str, fact: dict[str, Any], on: dt.date,
             programme_id: str | None) -> Qualification:
    query = select(ReferralRegistration).where(
        ReferralRegistration.accepted_customer_id == customer)
    if programme_id is not None:
        query = query.where(ReferralRegistration.programme_id == programme_id)
    rows = list(s.scalars(query.with_for_update()
                          .execution_options(populate_existing=True)))
    if not rows:
        where = f" in programme '{programme_id}'" if programme_id else ""
        raise ProgrammeNotFound(f"customer {customer} has no accepted referral "
                                f"registration{where}")
    if len(rows) > 1:
        raise ReferralError(f"customer {customer} is registered in programmes "
                            f"{', '.join(sorted(str(r.programme_id) for r in rows))}; "
                            "say which with programme_id")
    reg = rows[0]
    assert reg.programme_id is not None and reg.programme_version is not None
    if reg.status in ("qualified", "rewarded"):
        return Qualification(reg.registration_id, reg.status, True, reg.reason_code,
                             False, rewards=_rewards(s, reg.registration_id))
    _, programme = _programme(s, reg.programme_id, reg.programme_version)
    event = programme.qualifying_event

    def refused(reason: str) -> Qualification:
        return Qualification(reg.registration_id, reg.status, False, reason, False)

    if on < reg.registered_on:
        return refused(FACT_BEFORE_REGISTRATION)
    if on > reg.registered_on + dt.timedelta(days=event.within_days):
        return refused(FACT_AFTER_EXPIRY)
    if fact["kind"] != event.kind:
        return refused(WRONG_EVENT)
    if not event_met(event, fact):
        return refused(EVENT_NOT_MET)

    referrer = reg.referrer_id
    assert referrer is not None
    _locked_account(s, points_account(referrer), "customer", referrer)  # cap: one at a time
    since = on - dt.timedelta(days=programme.cap.period_days)
    rewarded = s.scalar(select(func.count()).select_from(ReferralRegistration).where(
        ReferralRegistration.programme_id == reg.programme_id,
        ReferralRegistration.referrer_id == referrer,
        ReferralRegistration.status == "rewarded",
        ReferralRegistration.qualified_on > since))
    fact_json = json.dumps({k: (str(v) if isinstance(v, (dt.date, Decimal)) else v)
                            for k, v in fact.items()}, sort_keys=True, default=str)
    reg.qualified_on, reg.qualifying_fact = on, fact_json
    if rewarded >= programme.cap.max_rewards:
        reg.status, reg.reason_code = "qualified", CAPPED
        s.flush()
        return Qualification(reg.registration_id, reg.status, True, CAPPED, False)
    reg.status = "rewarded"  # with qualified_on, in the same flush
    expense = expense_account(reg.programme_id)
    rewards = []
    for role, beneficiary, points in (
            ("referrer", referrer, programme.rewards.referrer_points),
            ("new_customer", customer, programme.rewards.new_customer_points)):
        tx = _post(s, "reward", beneficiary, [
            (points_account(beneficiary), "customer", beneficiary, points),
            (expense, "programme", reg.programme_id, -points),
        ], event=f"reward:{role}", registration_id=reg.registration_id, role=role)
        rewards.append(Reward(role, beneficiary, points, tx))
    s.flush()
    return Qualification(reg.registration_id, reg.status, True, None, True,
                         tuple(r.transaction_id for r in rewards), tuple(rewards))


def _post(s: Session, kind: str, customer_id: str,
          legs: list[tuple[str, str, str, int]], *, event: str,
          registration_id: int | None = None, role: str | None = None,
          idempotency_key: str | None = None) -> int:
    """One balanced transaction: legs of (account, account kind, owner, amount)."""
    if sum(leg[3] for leg in legs) != 0:
        raise AssertionError(f"unbalanced ledger transaction {legs}")
    tx = LedgerTransaction(kind=kind, registration_id=registration_id,
                           beneficiary_role=role, customer_id=customer_id,
                           idempotency_key=idempotency_key)
    s.add(tx)
    s.flush()  # the unique (registration, role) constraint speaks here
    for account, account_kind, owner, amount in legs:
        _ensure_account(s, account, account_kind, owner)
        s.add(LedgerEntry(transaction_id=tx.transaction_id, account=account, amount=amount,
                          registration_id=registration_id, event=event))
        s.execute(update(LedgerAccount).where(LedgerAccount.account == account)
                  .values(balance=LedgerAccount.balance + amount))
    s.flush()
    return tx.transaction_id


# -- balances and redemption -------------------------------------------------------------


def balance(db: AppDB, customer_id: str) -> int:
    """The customer's points: the sum of their account's ledger entries."""
    with db.transaction() as s:
        return int(s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account == points_account(_id(customer_id, "customer_id")))))


@dataclass(frozen=True)
class Redemption:
    transaction_id: int
    customer_id: str
    points: int
    balance_after: int
    replayed: bool = False  # True when the idempotency key had been used already
    reason: str | None = None  # why, e.g. the order it paid for


def redeem_points(db: AppDB, customer_id: str, points: int,
                  idempotency_key: str, reason: str | None = None) -> Redemption:
    """Spend points. Refused when the balance would go below zero. The same key with
    the same request returns the first result; with another request it is refused.

    ``reason`` is kept with the key's answer (and so with the ledger transaction,
    which names its key); it is part of the request the key stands for."""
    customer = _id(customer_id, "customer_id")
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ReferralError(f"redeem {customer}, points: must be a whole number > 0 "
                            f"(got {points!r})")
    key = _key(str(idempotency_key or ""))
    assert key is not None
    request: dict[str, Any] = {"customer_id": customer, "points": points}
    if reason is not None:
        request["reason"] = reason = _text(reason, "reason")
    # a parallel request with the same key waits for it, then replays its answer
    return _once(db, "redeem_points", key, request,
                 lambda s: _redeem(s, customer, points, key, reason),
                 lambda answer: Redemption(**answer, replayed=True))


def _text(value: object, name: str, limit: int = 256) -> str:
    text = str(value).strip()
    if not text or len(text) > limit or re.search(r"[\x00-\x1f\x7f]", text):
        raise ReferralError(f"{name}: must be 1 to {limit} characters, without control "
                            "characters")
    return text


def _key(value: object) -> str | None:
    if value is None:
        return None
    key = str(value).strip()
    if not key or len(key) > 128:
        raise ReferralError("idempotency_key: must be 1 to 128 characters")
    return key


def _iso(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _once(db: AppDB, scope: str, key: str | None, request: Mapping[str, Any],
          work: Callable[[Session], Any], replay: Callable[[dict[str, Any]], Any]) -> Any:
    """``work(session)`` in one transaction; with an idempotency ``key``, once
    (``platform/idempotency.py``): a key used for another request is refused with
    reason ``idempotency_conflict``."""
    return idempotency.once(db, scope, key, request, work, replay,
                            lambda message: ReferralError(message, IDEMPOTENCY_CONFLICT))


def _redeem(s: Session, customer: str, points: int, key: str,
            reason: str | None) -> Redemption:
    account = _locked_account(s, points_account(customer), "customer", customer)
    if account.balance < points:
        raise InsufficientPoints(f"redeem {customer}, points: {points} is more than the "
                                 f"balance of {account.balance}", INSUFFICIENT_POINTS)
    after = account.balance - points
    tx = _post(s, "redemption", customer, [
        (points_account(customer), "customer", customer, -points),
        (REDEMPTIONS_ACCOUNT, "bank", "bank", points),
    ], event="redemption", idempotency_key=key)
    return Redemption(tx, customer, points, after, reason=reason)


@dataclass(frozen=True)
class PointsEntry:
    entry_id: int
    transaction_id: int
    at: dt.datetime
    points: int  # earned (> 0) or spent (< 0)
    kind: str  # reward or redemption
    event: str  # reward:referrer, reward:new_customer or redemption
    registration_id: int | None  # the referral a reward was for
    reason: str | None  # a redemption's reason, when it was given one


@dataclass(frozen=True)
class PointsStatement:
    customer_id: str
    balance: int
    entries: tuple[PointsEntry, ...]  # the newest first


def points_statement(db: AppDB, customer_id: str, limit: int = 20) -> PointsStatement:
    """The customer's balance (the sum of their ledger entries) and their newest
    ``limit`` entries (0 to 1000)."""
    customer = _id(customer_id, "customer_id")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 1000:
        raise ReferralError(f"limit: must be a whole number from 0 to 1000 (got {limit!r})")
    account = points_account(customer)
    with db.transaction() as s:
        total = int(s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                             .where(LedgerEntry.account == account)))
        rows = s.execute(select(LedgerEntry, LedgerTransaction).join(
            LedgerTransaction, LedgerTransaction.transaction_id == LedgerEntry.transaction_id)
            .where(LedgerEntry.account == account)
            .order_by(LedgerEntry.entry_id.desc()).limit(limit)).all()
        keys = {tx.idempotency_key for _, tx in rows if tx.idempotency_key}
        reasons = {k: answer.get("reason") for k, answer in
                   idempotency.kept_answers(s, "redeem_points", keys).items()}
    return PointsStatement(customer, total, tuple(
        PointsEntry(e.entry_id, e.transaction_id, e.created_at, e.amount, tx.kind, e.event,
                    e.registration_id, reasons.get(tx.idempotency_key or ""))
        for e, tx in rows))


# -- reports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    programme_id: str
    invited: int  # codes issued
    registered: int  # accepted registrations (whatever happened later)
    qualified: int  # met the qualifying event (rewarded or capped)
    rewarded: int
    capped: int
    rejected: dict[str, int]  # reason code -> registrations refused
    points_paid: int
    point_value: Decimal
    cost: Decimal  # points_paid * point_value
    points_per_acquired: Decimal | None  # per rewarded registration
    cost_per_acquired: Decimal | None


def funnel(db: AppDB, programme_id: str, point_value: Decimal | int | str = 1) -> Funnel:
    """Invitations to rewards for one programme; ``point_value``: one point in money."""
    try:
        value = Decimal(str(point_value))
    except InvalidOperation:
        raise ReferralError(f"point_value: {point_value!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ReferralError(f"point_value: {point_value!r} is not a number >= 0")
    R = ReferralRegistration  # noqa: N806
    with db.transaction() as s:
        _programme(s, programme_id)
        invited = s.scalar(select(func.count()).select_from(ReferralCode)
                           .where(ReferralCode.programme_id == programme_id))
        statuses = dict(s.execute(select(R.status, func.count()).where(
            R.programme_id == programme_id).group_by(R.status)).all())
        capped = s.scalar(select(func.count()).select_from(R).where(
            R.programme_id == programme_id, R.reason_code == CAPPED))
        rejected = dict(s.execute(select(R.reason_code, func.count()).where(
            R.programme_id == programme_id, R.status == "rejected")
            .group_by(R.reason_code).order_by(R.reason_code)).all())
        paid = -int(s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account == expense_account(programme_id))))
    rewarded = statuses.get("rewarded", 0)
    accepted = sum(n for st, n in statuses.items() if st != "rejected")
    per = (Decimal(paid) / rewarded).quantize(Decimal("0.01")) if rewarded else None
    return Funnel(programme_id, invited, accepted,
                  rewarded + statuses.get("qualified", 0), rewarded, capped, rejected, paid,
                  value, paid * value, per,
                  (per * value).quantize(Decimal("0.01")) if per is not None else None)


def referral_facts(db: AppDB) -> pa.Table:
    """Rows for the warehouse table ``referrals``: one per accepted registration
    (``R`` + the registration id), and one per code nobody registered with yet (the
    code itself, no referred customer)."""
    columns: dict[str, list] = {name: [] for name in FACTS_SCHEMA.names}

    def row(referral_id: str, referrer: str, invited: dt.date, referred: str | None,
            qualified: dt.date | None) -> None:
        for name, value in zip(FACTS_SCHEMA.names,
                               (referral_id, referrer, invited, referred, qualified),
                               strict=True):
            columns[name].append(value)

    with db.transaction() as s:
        used: set[str] = set()
        for reg, issued in s.execute(
                select(ReferralRegistration, ReferralCode.issued_on)
                .join(ReferralCode, ReferralCode.code == ReferralRegistration.code)
                .where(ReferralRegistration.status != "rejected")
                .order_by(ReferralRegistration.registration_id)):
            used.add(reg.code)
            row(f"R{reg.registration_id:09d}", reg.referrer_id, issued,
                reg.new_customer_id, reg.qualified_on)
        for code in s.scalars(select(ReferralCode).order_by(ReferralCode.issued_on,
                                                            ReferralCode.code)):
            if code.code not in used:
                row(code.code, code.referrer_id, code.issued_on, None, None)
    return pa.table(columns, schema=FACTS_SCHEMA)
