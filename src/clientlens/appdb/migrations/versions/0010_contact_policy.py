"""The contact policy: consents recorded through clientlens (with their evidence),
customers' contact preferences and pause windows, and the contact log the caps count.

Revision ID: 0010
Revises: 0009 (definition versions; written in parallel, first revising 0008, and
re-chained after main merged 0009)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# The vocabularies as they were when this migration was written (model/contact.py).
CHANNELS = ("'branch', 'atm', 'internet', 'mobile', 'inbound_call', 'ivr', "
            "'outbound_call', 'sms', 'email', 'post'")
PURPOSES = "'service', 'marketing', 'cross_sell', 'surveys'"
OUTCOMES = "'contacted', 'no_answer', 'accepted', 'declined', 'complained'"


def _now() -> sa.sql.functions.Function:
    return sa.func.current_timestamp()


def upgrade() -> None:
    op.create_table(
        "contact_consents",
        sa.Column("consent_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        sa.CheckConstraint(f"channel in ({CHANNELS}, 'any')",
                           name=op.f("ck_contact_consents_channel")),
        sa.CheckConstraint("purpose <> 'all' or channel = 'any'",
                           name=op.f("ck_contact_consents_all_any")),
        sa.CheckConstraint(f"purpose in ({PURPOSES}, 'all')",
                           name=op.f("ck_contact_consents_purpose")),
        sa.CheckConstraint("status in ('granted', 'withdrawn')",
                           name=op.f("ck_contact_consents_status")),
        sa.PrimaryKeyConstraint("consent_id", name=op.f("pk_contact_consents")),
    )
    op.create_index(op.f("ix_contact_consents_customer_id"), "contact_consents",
                    ["customer_id"])
    op.create_table(
        "contact_log",
        sa.Column("contact_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=True),
        sa.Column("offer", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("source_ref", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        sa.CheckConstraint(f"channel in ({CHANNELS})", name=op.f("ck_contact_log_channel")),
        sa.CheckConstraint(f"outcome is null or outcome in ({OUTCOMES})",
                           name=op.f("ck_contact_log_outcome")),
        sa.CheckConstraint(f"purpose in ({PURPOSES})", name=op.f("ck_contact_log_purpose")),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_log")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_contact_log_source_ref")),
    )
    op.create_index("ix_contact_log_customer_id_at", "contact_log", ["customer_id", "at"])
    op.create_table(
        "contact_pauses",
        sa.Column("pause_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_contact_pauses_ends_on")),
        sa.PrimaryKeyConstraint("pause_id", name=op.f("pk_contact_pauses")),
    )
    op.create_index(op.f("ix_contact_pauses_customer_id"), "contact_pauses", ["customer_id"])
    op.create_table(
        "contact_preferences",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("preferred_channel", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        sa.CheckConstraint(f"preferred_channel is null or preferred_channel in ({CHANNELS})",
                           name=op.f("ck_contact_preferences_preferred_channel")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_contact_preferences")),
    )


def downgrade() -> None:
    op.drop_table("contact_preferences")
    op.drop_index(op.f("ix_contact_pauses_customer_id"), table_name="contact_pauses")
    op.drop_table("contact_pauses")
    op.drop_index("ix_contact_log_customer_id_at", table_name="contact_log")
    op.drop_table("contact_log")
    op.drop_index(op.f("ix_contact_consents_customer_id"), table_name="contact_consents")
    op.drop_table("contact_consents")
