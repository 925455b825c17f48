"""The contact policy's tables in the application database (migration 0010): consents
recorded through clientlens, customers' contact preferences and pause windows, and the
contact log the pressure caps count.

In a module of their own (same metadata as ``schema.py``) so each context keeps its
tables together. Times are stored in UTC; SQLite gives them back without an offset,
which the services read as UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from clientlens.appdb.schema import Base, _in, _now
from clientlens.model.contact import (
    ALL_PURPOSES,
    ANY_CHANNEL,
    CONSENT_STATUSES,
    CONTACT_CHANNELS,
    CONTACT_PURPOSES,
    OUTCOMES,
)

CHANNEL_NAMES = tuple(CONTACT_CHANNELS)
PURPOSE_NAMES = tuple(CONTACT_PURPOSES)


class ContactConsent(Base):
    """A consent given or withdrawn, with its evidence: where, when, by whom."""

    __tablename__ = "contact_consents"
    __table_args__ = (
        CheckConstraint(_in("purpose", (*PURPOSE_NAMES, ALL_PURPOSES)), name="purpose"),
        CheckConstraint(_in("channel", (*CHANNEL_NAMES, ANY_CHANNEL)), name="channel"),
        CheckConstraint(_in("status", CONSENT_STATUSES), name="status"),
        CheckConstraint(f"purpose <> '{ALL_PURPOSES}' or channel = '{ANY_CHANNEL}'",
                        name="all_any"),
    )

    consent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    effective_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(128))
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class ContactPreference(Base):
    """How a customer prefers to be contacted; empty fields take the policy's defaults."""

    __tablename__ = "contact_preferences"
    __table_args__ = (
        CheckConstraint("preferred_channel is null or "
                        + _in("preferred_channel", CHANNEL_NAMES), name="preferred_channel"),
    )

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class ContactPause(Base):
    """Days (inclusive) on which the customer asked not to be contacted but for service."""

    __tablename__ = "contact_pauses"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="ends_on"),)

    pause_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    recorded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())


class ContactLogEntry(Base):
    """A contact made (outbound) or an impression shown (inbound), and what it led to."""

    __tablename__ = "contact_log"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNEL_NAMES), name="channel"),
        CheckConstraint(_in("purpose", PURPOSE_NAMES), name="purpose"),
        CheckConstraint("outcome is null or " + _in("outcome", OUTCOMES), name="outcome"),
        Index("ix_contact_log_customer_id_at", "customer_id", "at"),
    )

    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    campaign: Mapped[str | None] = mapped_column(String(64), nullable=True)
    offer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(128))
    # Where the record came from (e.g. the dialler's call id): logging it twice adds
    # one contact, not two.
    source_ref: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
