"""Service-recovery cases and their steps.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "recovery_cases",
        sa.Column("case_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("sla_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), server_default="open", nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.CheckConstraint("status in ('open', 'resolved', 'failed')",
                           name=op.f("ck_recovery_cases_status")),
        sa.CheckConstraint("sla_days >= 0", name=op.f("ck_recovery_cases_sla_days")),
        sa.CheckConstraint("due_on >= opened_on", name=op.f("ck_recovery_cases_due_on")),
        sa.CheckConstraint("closed_on is null or closed_on >= opened_on",
                           name=op.f("ck_recovery_cases_closed_on")),
        sa.CheckConstraint("(status = 'open') = (closed_on is null)",
                           name=op.f("ck_recovery_cases_closed_status")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_recovery_cases")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_recovery_cases_source_ref")),
    )
    op.create_index(op.f("ix_recovery_cases_customer_id"), "recovery_cases", ["customer_id"])
    op.create_index(op.f("ix_recovery_cases_due_on"), "recovery_cases", ["due_on"])
    op.create_index(op.f("ix_recovery_cases_status"), "recovery_cases", ["status"])

    op.create_table(
        "recovery_steps",
        sa.Column("step_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("by_whom", sa.String(128), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.CheckConstraint("kind in ('apology', 'fix', 'compensation', 'note')",
                           name=op.f("ck_recovery_steps_kind")),
        sa.CheckConstraint("amount is null or amount >= 0", name=op.f("ck_recovery_steps_amount")),
        sa.CheckConstraint("kind <> 'compensation' or (amount is not null and amount > 0)",
                           name=op.f("ck_recovery_steps_compensation_amount")),
        sa.CheckConstraint("amount is null or currency is not null",
                           name=op.f("ck_recovery_steps_currency")),
        sa.ForeignKeyConstraint(["case_id"], ["recovery_cases.case_id"],
                                name=op.f("fk_recovery_steps_case_id_recovery_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("step_id", name=op.f("pk_recovery_steps")),
    )
    op.create_index(op.f("ix_recovery_steps_case_id"), "recovery_steps", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recovery_steps_case_id"), table_name="recovery_steps")
    op.drop_table("recovery_steps")
    op.drop_index(op.f("ix_recovery_cases_status"), table_name="recovery_cases")
    op.drop_index(op.f("ix_recovery_cases_due_on"), table_name="recovery_cases")
    op.drop_index(op.f("ix_recovery_cases_customer_id"), table_name="recovery_cases")
    op.drop_table("recovery_cases")
