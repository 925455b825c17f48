"""API tokens in the application database (they were in the workspace's tokens.yaml,
which concurrent `clientlens token add` rewrote and lost tokens): one row per token,
hashed; and a marker per imported tokens.yaml.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("created_by", sa.String(length=128), server_default="", nullable=False),
        sa.CheckConstraint(
            "role in ('viewer', 'analyst', 'marketing', 'security_officer', 'admin')",
            name=op.f("ck_api_tokens_role")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_tokens")),
    )
    op.create_index(op.f("ix_api_tokens_holder"), "api_tokens", ["holder"])
    op.create_table(
        "api_token_imports",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True),
                  server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("tokens", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_api_token_imports")),
    )


def downgrade() -> None:
    op.drop_table("api_token_imports")
    op.drop_index(op.f("ix_api_tokens_holder"), table_name="api_tokens")
    op.drop_table("api_tokens")
