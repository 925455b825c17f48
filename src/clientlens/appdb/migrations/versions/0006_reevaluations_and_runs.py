"""Re-evaluations of one customer on demand (with their entitlement events) and runs
(started over HTTP or from the CLI), so both outlive the process.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "reevaluations",
        sa.Column("reevaluation_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("compared_with", sa.Date(), nullable=True),
        sa.Column("basis_id", sa.Integer(), nullable=True),
        sa.Column("rulebook_version", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("segment_before", sa.String(length=64), nullable=True),
        sa.Column("segment_after", sa.String(length=64), nullable=False),
        sa.Column("phase_before", sa.String(length=64), nullable=True),
        sa.Column("phase_after", sa.String(length=64), nullable=True),
        sa.Column("need_before", sa.String(length=64), nullable=True),
        sa.Column("need_after", sa.String(length=64), nullable=True),
        sa.Column("held", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "reason is null or reason in ('product_opened', 'product_closed', "
            "'balance_moved', 'complaint', 'other')",
            name=op.f("ck_reevaluations_reason"),
        ),
        sa.CheckConstraint("via in ('api', 'cli', 'python')", name=op.f("ck_reevaluations_via")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_reevaluations_seq")),
        sa.ForeignKeyConstraint(
            ["basis_id"],
            ["reevaluations.reevaluation_id"],
            name=op.f("fk_reevaluations_basis_id_reevaluations"),
        ),
        sa.PrimaryKeyConstraint("reevaluation_id", name=op.f("pk_reevaluations")),
        sa.UniqueConstraint("customer_id", "seq", name="uq_reevaluations_customer_seq"),
        sa.UniqueConstraint("requested_by", "idempotency_key",
                            name="uq_reevaluations_idempotency"),
    )
    op.create_index(op.f("ix_reevaluations_customer_id"), "reevaluations", ["customer_id"])
    op.create_index(op.f("ix_reevaluations_requested_at"), "reevaluations", ["requested_at"])

    op.create_table(
        "reevaluation_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reevaluation_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("kept_until", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("rulebook_version", sa.String(length=32), nullable=False),
        sa.CheckConstraint("event in ('granted', 'grace_started', 'revoked')",
                           name=op.f("ck_reevaluation_events_event")),
        sa.ForeignKeyConstraint(
            ["reevaluation_id"],
            ["reevaluations.reevaluation_id"],
            name=op.f("fk_reevaluation_events_reevaluation_id_reevaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_reevaluation_events")),
    )
    op.create_index(op.f("ix_reevaluation_events_customer_id"), "reevaluation_events",
                    ["customer_id"])
    op.create_index(op.f("ix_reevaluation_events_reevaluation_id"), "reevaluation_events",
                    ["reevaluation_id"])

    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("progress", sa.Float(), server_default="0", nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=160), server_default="", nullable=False),
        sa.CheckConstraint("status in ('queued', 'running', 'succeeded', 'failed')",
                           name=op.f("ck_runs_status")),
        sa.CheckConstraint("via in ('api', 'cli', 'python')", name=op.f("ck_runs_via")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_runs_idempotency"),
    )
    op.create_index(op.f("ix_runs_created_at"), "runs", ["created_at"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_status"), table_name="runs")
    op.drop_index(op.f("ix_runs_created_at"), table_name="runs")
    op.drop_table("runs")
    op.drop_index(op.f("ix_reevaluation_events_reevaluation_id"),
                  table_name="reevaluation_events")
    op.drop_index(op.f("ix_reevaluation_events_customer_id"), table_name="reevaluation_events")
    op.drop_table("reevaluation_events")
    op.drop_index(op.f("ix_reevaluations_requested_at"), table_name="reevaluations")
    op.drop_index(op.f("ix_reevaluations_customer_id"), table_name="reevaluations")
    op.drop_table("reevaluations")
