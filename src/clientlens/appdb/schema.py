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
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
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
