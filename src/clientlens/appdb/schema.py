"""The application database's tables: one metadata for every operational record.

Records users write one at a time (service-recovery cases now; the referral ledger
and the audit log later) live here, not in the warehouse. Every table added to
``Base.metadata`` gets a migration in ``migrations/versions``; a test compares the
migrated database with this metadata, so the two cannot drift apart.

Enumerations are CHECK constraints over short strings (not database enum types),
so SQLite and PostgreSQL hold the same schema and a new value is one migration.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints: Alembic can alter them later (SQLite batch mode needs the names).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CASE_STATUSES = ("open", "resolved", "failed")
STEP_KINDS = ("apology", "fix", "compensation", "note")
EXIT_KINDS = ("situational", "dissatisfaction", "unknown")

# Money: 16 digits before the point, kopecks after it.
MONEY = Numeric(18, 2)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RecoveryCase(Base):
    """A complaint being put right: apology, fixing the error, compensation."""

    __tablename__ = "recovery_cases"
    __table_args__ = (
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint("sla_days >= 0", name="sla_days"),
        CheckConstraint("due_on >= opened_on", name="due_on"),
        CheckConstraint("closed_on is null or closed_on >= opened_on", name="closed_on"),
        CheckConstraint("(status = 'open') = (closed_on is null)", name="closed_status"),
    )

    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    # Where the case came from, e.g. the complaint's interaction id: importing the
    # same complaints twice opens no second case.
    source_ref: Mapped[str | None] = mapped_column(String(128), unique=True)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    owner: Mapped[str] = mapped_column(String(128))
    sla_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open",
                                        server_default="open")
    outcome: Mapped[str | None] = mapped_column(Text)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now,
        server_default=func.current_timestamp())

    steps: Mapped[list[RecoveryStep]] = relationship(
        back_populates="case", order_by="[RecoveryStep.done_on, RecoveryStep.step_id]",
        cascade="all, delete-orphan", passive_deletes=True)


class RecoveryStep(Base):
    """One thing done for a case: an apology, the fix, a compensation, or a note."""

    __tablename__ = "recovery_steps"
    __table_args__ = (
        CheckConstraint(_in("kind", STEP_KINDS), name="kind"),
        CheckConstraint("amount is null or amount >= 0", name="amount"),
        CheckConstraint("kind <> 'compensation' or (amount is not null and amount > 0)",
                        name="compensation_amount"),
        CheckConstraint("amount is null or currency is not null", name="currency"),
    )

    step_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("recovery_cases.case_id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    done_on: Mapped[dt.date] = mapped_column(Date)
    by_whom: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())

    case: Mapped[RecoveryCase] = relationship(back_populates="steps")


class Departure(Base):
    """Why a customer left, recorded on departure, and whether they may be contacted."""

    __tablename__ = "departures"
    __table_args__ = (
        CheckConstraint(_in("exit_kind", EXIT_KINDS), name="exit_kind"),
    )

    departure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    left_on: Mapped[dt.date] = mapped_column(Date)
    exit_kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())
    recorded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class RulebookVersion(Base):
    """The definition files of every rulebook version a run used, so a past profile can
    be explained with the rules then in force."""

    __tablename__ = "rulebook_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    files: Mapped[str] = mapped_column(Text)  # JSON: {relative path: file text}
    first_used_on: Mapped[dt.date] = mapped_column(Date)
    saved_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class AuditEntry(Base):
    """Who did what, when: every write and every read of sensitive data. Append-only;
    never holds tokens or secrets."""

    __tablename__ = "audit_log"

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp(),
        index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256), default="", server_default="")
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")  # JSON
    outcome: Mapped[str] = mapped_column(String(32), default="ok", server_default="ok")


# -- the member-get-member referral programme (migration 0005) -----------------------

REGISTRATION_STATUSES = ("registered", "qualified", "rewarded", "rejected")
BENEFICIARY_ROLES = ("referrer", "new_customer")
LEDGER_TRANSACTION_KINDS = ("reward", "redemption")
LEDGER_ACCOUNT_KINDS = ("customer", "programme", "bank")


class ReferralProgramme(Base):
    """One published version of a referral programme's definition. Immutable: the
    database refuses updates and deletes (triggers in migration 0005)."""

    __tablename__ = "referral_programmes"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    definition: Mapped[str] = mapped_column(Text)  # JSON of the validated definition
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(512), default="", server_default="")
    published_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class ReferralCode(Base):
    """An invitation: a code a referrer hands out, valid from issued_on to expires_on."""

    __tablename__ = "referral_codes"
    __table_args__ = (
        ForeignKeyConstraint(["programme_id", "programme_version"],
                             ["referral_programmes.programme_id",
                              "referral_programmes.version"]),
        CheckConstraint("expires_on >= issued_on", name="expires_on"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    programme_version: Mapped[int] = mapped_column(Integer)
    referrer_id: Mapped[str] = mapped_column(String(64), index=True)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    # the referrer's identity (hashes of normalized values), for the self-referral check
    document_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    address_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class ReferralRegistration(Base):
    """A new customer registering with a code: accepted, or rejected with a reason.

    ``accepted_customer_id`` is the new customer's id unless rejected (then NULL), so
    the unique constraint lets a customer be accepted once per programme while every
    rejected attempt is still kept for the funnel.
    """

    __tablename__ = "referral_registrations"
    __table_args__ = (
        UniqueConstraint("programme_id", "accepted_customer_id",
                         name="uq_referral_registrations_accepted"),
        CheckConstraint(_in("status", REGISTRATION_STATUSES), name="status"),
        CheckConstraint("(status = 'rejected') = (reason_code is not null "
                        "and accepted_customer_id is null)", name="rejected"),
        CheckConstraint("qualified_on is null or status in ('qualified', 'rewarded')",
                        name="qualified_on"),
    )

    registration_id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                                 autoincrement=True)
    programme_id: Mapped[str | None] = mapped_column(String(64), index=True)
    programme_version: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64), index=True)  # as given; may be unknown
    referrer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    new_customer_id: Mapped[str] = mapped_column(String(64), index=True)
    accepted_customer_id: Mapped[str | None] = mapped_column(String(64))
    registered_on: Mapped[dt.date] = mapped_column(Date)
    document_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    address_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(32))  # rejected, or 'capped'
    qualified_on: Mapped[dt.date | None] = mapped_column(Date)
    qualifying_fact: Mapped[str | None] = mapped_column(Text)  # JSON
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now,
        server_default=func.current_timestamp())


class LedgerAccount(Base):
    """A points account and its running balance; a customer's never goes below zero."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(_in("kind", LEDGER_ACCOUNT_KINDS), name="kind"),
        CheckConstraint("kind <> 'customer' or balance >= 0", name="balance"),
    )

    account: Mapped[str] = mapped_column(String(160), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    balance: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LedgerTransaction(Base):
    """One balanced posting. A reward is granted once per registration and role: the
    unique constraint makes that the database's rule, not only the code's."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("registration_id", "beneficiary_role",
                         name="uq_ledger_transactions_reward"),
        CheckConstraint(_in("kind", LEDGER_TRANSACTION_KINDS), name="kind"),
        CheckConstraint("beneficiary_role is null or "
                        + _in("beneficiary_role", BENEFICIARY_ROLES), name="role"),
        CheckConstraint("(kind = 'reward') = (registration_id is not null "
                        "and beneficiary_role is not null)", name="reward_cause"),
    )

    transaction_id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                                autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral_registrations.registration_id"), index=True)
    beneficiary_role: Mapped[str | None] = mapped_column(String(16))
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class LedgerEntry(Base):
    """One leg of a transaction: points into (+) or out of (-) an account. The legs of
    a transaction sum to zero. Append-only (triggers in migration 0005)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount"),
    )

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transactions.transaction_id"), index=True)
    account: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.account"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral_registrations.registration_id"), index=True)
    event: Mapped[str] = mapped_column(String(64))  # e.g. reward:referrer, redemption
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class IdempotencyKey(Base):
    """A POST already answered: the same key and request get the first response back."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


# -- re-evaluations and runs (migration 0006) -----------------------------------------

REEVALUATION_REASONS = ("product_opened", "product_closed", "balance_moved", "complaint",
                        "other")
REEVALUATION_VIAS = ("api", "cli", "python")
ENTITLEMENT_EVENTS = ("granted", "grace_started", "revoked")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")


class Reevaluation(Base):
    """One customer re-evaluated on demand (``services/relationship/reevaluation.py``): the state
    before and after, why, by whom; its entitlement changes are ``ReevaluationEvent`` rows.

    ``seq`` numbers a customer's re-evaluations: two writers that compared with the same
    recorded state would take the same number, and the unique constraint refuses the
    second (it then compares again with the state the first recorded)."""

    __tablename__ = "reevaluations"
    __table_args__ = (
        UniqueConstraint("customer_id", "seq", name="uq_reevaluations_customer_seq"),
        UniqueConstraint("requested_by", "idempotency_key",
                         name="uq_reevaluations_idempotency"),
        CheckConstraint("reason is null or " + _in("reason", REEVALUATION_REASONS),
                        name="reason"),
        CheckConstraint(_in("via", REEVALUATION_VIAS), name="via"),
        CheckConstraint("seq >= 1", name="seq"),
    )

    reevaluation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[dt.date] = mapped_column(Date)
    # the nightly snapshot compared with (None: no run on or before as_of), and the
    # re-evaluation on that snapshot that was the latest recorded state, if any
    compared_with: Mapped[dt.date | None] = mapped_column(Date)
    basis_id: Mapped[int | None] = mapped_column(
        ForeignKey("reevaluations.reevaluation_id"))
    rulebook_version: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    via: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp(),
        index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    segment_before: Mapped[str | None] = mapped_column(String(64))
    segment_after: Mapped[str] = mapped_column(String(64))
    phase_before: Mapped[str | None] = mapped_column(String(64))
    phase_after: Mapped[str | None] = mapped_column(String(64))
    need_before: Mapped[str | None] = mapped_column(String(64))
    need_after: Mapped[str | None] = mapped_column(String(64))
    held: Mapped[str] = mapped_column(Text)  # JSON: the entitlements held after it
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    response: Mapped[str | None] = mapped_column(Text)  # JSON, kept when a key was given

    events: Mapped[list[ReevaluationEvent]] = relationship(
        order_by="ReevaluationEvent.event_id", cascade="all, delete-orphan",
        passive_deletes=True)


class ReevaluationEvent(Base):
    """An entitlement change a re-evaluation made: the nightly run's vocabulary
    (granted, grace_started, revoked), written only when the held state changed."""

    __tablename__ = "reevaluation_events"
    __table_args__ = (
        CheckConstraint(_in("event", ENTITLEMENT_EVENTS), name="event"),
    )

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reevaluation_id: Mapped[int] = mapped_column(
        ForeignKey("reevaluations.reevaluation_id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    service: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    kept_until: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    rulebook_version: Mapped[str] = mapped_column(String(32))


class Run(Base):
    """A segmentation run, started over HTTP or from the CLI/Python API: its status is
    kept here so it outlives the process. ``owner`` says which process runs it (host,
    pid, a token per process start), so a run whose process died is reported as
    interrupted."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("requested_by", "idempotency_key", name="uq_runs_idempotency"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("via", REEVALUATION_VIAS), name="via"),
    )

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    requested_by: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp(),
        index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(160), default="", server_default="")


# -- API tokens (migration 0007) -------------------------------------------------------

TOKEN_ROLES = ("viewer", "analyst", "marketing", "security_officer", "admin")


class ApiToken(Base):
    """An API token's holder, keyed by the SHA-256 of the token (the token itself is
    never stored). One row per token, so adding and revoking are single-row writes
    that concurrent processes cannot undo (``platform/tokens.py``)."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_in("role", TOKEN_ROLES), name="role"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), index=True)  # the user
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
    created_by: Mapped[str] = mapped_column(String(128), default="", server_default="")


class TokenImport(Base):
    """A legacy ``tokens.yaml`` imported into ``api_tokens``: written in the import's
    own transaction, so the file is imported once however many processes try."""

    __tablename__ = "api_token_imports"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    imported_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
    tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ConsoleUser(Base):
    """A member of staff who signs in to the console with a password
    (``platform/staff.py``): only an Argon2id hash of it is kept. ``subject`` links a
    user signed in through the bank's OpenID Connect provider instead."""

    __tablename__ = "console_users"
    __table_args__ = (CheckConstraint(_in("role", TOKEN_ROLES), name="role"),)

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(256), nullable=True, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
    created_by: Mapped[str] = mapped_column(String(128), default="", server_default="")
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)


class ConsoleSession(Base):
    """A signed-in browser: keyed by the SHA-256 of the random cookie value (the value
    itself is never stored), with its own anti-forgery token."""

    __tablename__ = "console_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("console_users.name", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
