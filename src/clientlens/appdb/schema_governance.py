"""Rule governance's table (migration 0009): every definition set proposed for use, its
state, and who moved it there, when and why (``services/governance``).

Kept beside ``schema.py`` (same metadata) so the context's table reads in one place.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from clientlens.appdb.schema import Base, _in, _now

#: draft -> submitted -> approved | rejected -> scheduled -> active -> superseded
VERSION_STATES = ("draft", "submitted", "approved", "rejected", "scheduled", "active",
                  "superseded")


class DefinitionVersion(Base):
    """One proposed definition set (glossary, rulebook, ratings, catalogue, scorecards,
    referral programmes): its files as submitted, never changed afterwards. The database
    itself refuses a decision by the maker (four eyes)."""

    __tablename__ = "definition_versions"
    __table_args__ = (
        CheckConstraint(_in("status", VERSION_STATES), name="status"),
        CheckConstraint("decided_by is null or decided_by <> submitted_by", name="four_eyes"),
        CheckConstraint("status not in ('scheduled', 'active', 'superseded') "
                        "or effective_from is not null", name="effective_from"),
    )

    version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Definitions.version of the files: the content hash profiles are stamped with.
    content_version: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(256))
    files: Mapped[str] = mapped_column(Text)  # JSON: {relative path: file text}
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    submitted_by: Mapped[str] = mapped_column(String(128))
    submitted_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.current_timestamp())
    # The version in force when it was submitted (what its diff and impact compared with).
    based_on: Mapped[int | None] = mapped_column(
        ForeignKey("definition_versions.version_id"))
    rollback_of: Mapped[int | None] = mapped_column(
        ForeignKey("definition_versions.version_id"))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    scheduled_by: Mapped[str | None] = mapped_column(String(128))
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
