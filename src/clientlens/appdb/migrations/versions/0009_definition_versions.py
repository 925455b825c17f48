"""Rule governance: definition versions, their states and the four-eyes decision.

Revision ID: 0009
Revises: 0008 (0008_console_users also revises 0007 on its own branch; the two are
chained when merged)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

STATES = ("draft", "submitted", "approved", "rejected", "scheduled", "active", "superseded")


def upgrade() -> None:
    op.create_table(
        "definition_versions",
        sa.Column("version_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("content_version", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("submitted_by", sa.String(length=128), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), server_default="", nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("scheduled_by", sa.String(length=128), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status in (" + ", ".join(repr(s) for s in STATES) + ")",
                           name=op.f("ck_definition_versions_status")),
        sa.CheckConstraint("decided_by is null or decided_by <> submitted_by",
                           name=op.f("ck_definition_versions_four_eyes")),
        sa.CheckConstraint("status not in ('scheduled', 'active', 'superseded') "
                           "or effective_from is not null",
                           name=op.f("ck_definition_versions_effective_from")),
        sa.ForeignKeyConstraint(["based_on"], ["definition_versions.version_id"],
                                name=op.f("fk_definition_versions_based_on_definition_versions")),
        sa.ForeignKeyConstraint(
            ["rollback_of"], ["definition_versions.version_id"],
            name=op.f("fk_definition_versions_rollback_of_definition_versions")),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_definition_versions")),
    )
    op.create_index(op.f("ix_definition_versions_content_version"), "definition_versions",
                    ["content_version"])
    op.create_index(op.f("ix_definition_versions_status"), "definition_versions", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_definition_versions_status"), table_name="definition_versions")
    op.drop_index(op.f("ix_definition_versions_content_version"),
                  table_name="definition_versions")
    op.drop_table("definition_versions")
