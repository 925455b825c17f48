"""Departures: why a customer left and whether they may be contacted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "departures",
        sa.Column("departure_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=False),
        sa.Column("exit_kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("do_not_contact", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.CheckConstraint("exit_kind in ('situational', 'dissatisfaction', 'unknown')",
                           name=op.f("ck_departures_exit_kind")),
        sa.PrimaryKeyConstraint("departure_id", name=op.f("pk_departures")),
    )
    op.create_index(op.f("ix_departures_customer_id"), "departures", ["customer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_departures_customer_id"), table_name="departures")
    op.drop_table("departures")
