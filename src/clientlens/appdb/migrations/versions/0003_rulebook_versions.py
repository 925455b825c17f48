"""Rulebook versions: the definition files of each version a run used.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "rulebook_versions",
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("first_used_on", sa.Date(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rulebook_versions")),
    )


def downgrade() -> None:
    op.drop_table("rulebook_versions")
