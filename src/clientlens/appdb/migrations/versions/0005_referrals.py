"""Referral programme: published programme versions, codes, registrations, the points
ledger (double entry, one reward per registration and role) and idempotency keys.

Published programme versions and ledger entries are append-only: triggers refuse
UPDATE and DELETE on both, on SQLite and PostgreSQL alike.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

APPEND_ONLY = {
    "referral_programmes": "a published referral programme version is immutable",
    "ledger_entries": "ledger entries are append-only",
}


def _append_only(table: str, message: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            op.execute(
                f"create trigger {table}_no_{action} before {action} on {table} "
                f"begin select raise(abort, '{message}'); end"
            )
        return
    op.execute(
        f"create function {table}_append_only() returns trigger language plpgsql "
        f"as $$ begin raise exception '{message}'; end $$"
    )
    op.execute(
        f"create trigger {table}_append_only before update or delete on {table} "
        f"for each row execute function {table}_append_only()"
    )


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"drop trigger if exists {table}_no_{action}")
        return
    op.execute(f"drop trigger if exists {table}_append_only on {table}")
    op.execute(f"drop function if exists {table}_append_only()")


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("balance", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "kind <> 'customer' or balance >= 0", name=op.f("ck_ledger_accounts_balance")
        ),
        sa.CheckConstraint(
            "kind in ('customer', 'programme', 'bank')", name=op.f("ck_ledger_accounts_kind")
        ),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_ledger_accounts")),
    )
    op.create_index(
        op.f("ix_ledger_accounts_owner_id"), "ledger_accounts", ["owner_id"], unique=False
    )
    op.create_table(
        "referral_programmes",
        sa.Column("programme_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=512), server_default="", nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("programme_id", "version", name=op.f("pk_referral_programmes")),
    )
    op.create_table(
        "referral_registrations",
        sa.Column("registration_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("programme_id", sa.String(length=64), nullable=True),
        sa.Column("programme_version", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("referrer_id", sa.String(length=64), nullable=True),
        sa.Column("new_customer_id", sa.String(length=64), nullable=False),
        sa.Column("accepted_customer_id", sa.String(length=64), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("document_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("qualified_on", sa.Date(), nullable=True),
        sa.Column("qualifying_fact", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'rejected') = (reason_code is not null and accepted_customer_id is null)",
            name=op.f("ck_referral_registrations_rejected"),
        ),
        sa.CheckConstraint(
            "qualified_on is null or status in ('qualified', 'rewarded')",
            name=op.f("ck_referral_registrations_qualified_on"),
        ),
        sa.CheckConstraint(
            "status in ('registered', 'qualified', 'rewarded', 'rejected')",
            name=op.f("ck_referral_registrations_status"),
        ),
        sa.PrimaryKeyConstraint("registration_id", name=op.f("pk_referral_registrations")),
        sa.UniqueConstraint(
            "programme_id", "accepted_customer_id", name="uq_referral_registrations_accepted"
        ),
    )
    op.create_index(
        op.f("ix_referral_registrations_code"), "referral_registrations", ["code"], unique=False
    )
    op.create_index(
        op.f("ix_referral_registrations_new_customer_id"),
        "referral_registrations",
        ["new_customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_referral_registrations_programme_id"),
        "referral_registrations",
        ["programme_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_referral_registrations_referrer_id"),
        "referral_registrations",
        ["referrer_id"],
        unique=False,
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("transaction_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("beneficiary_role", sa.String(length=16), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(kind = 'reward') = (registration_id is not null and beneficiary_role is not null)",
            name=op.f("ck_ledger_transactions_reward_cause"),
        ),
        sa.CheckConstraint(
            "beneficiary_role is null or beneficiary_role in ('referrer', 'new_customer')",
            name=op.f("ck_ledger_transactions_role"),
        ),
        sa.CheckConstraint(
            "kind in ('reward', 'redemption')", name=op.f("ck_ledger_transactions_kind")
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["referral_registrations.registration_id"],
            name=op.f("fk_ledger_transactions_registration_id_referral_registrations"),
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint(
            "registration_id", "beneficiary_role", name="uq_ledger_transactions_reward"
        ),
    )
    op.create_index(
        op.f("ix_ledger_transactions_customer_id"),
        "ledger_transactions",
        ["customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_transactions_registration_id"),
        "ledger_transactions",
        ["registration_id"],
        unique=False,
    )
    op.create_table(
        "referral_codes",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("programme_id", sa.String(length=64), nullable=False),
        sa.Column("programme_version", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("document_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.CheckConstraint("expires_on >= issued_on", name=op.f("ck_referral_codes_expires_on")),
        sa.ForeignKeyConstraint(
            ["programme_id", "programme_version"],
            ["referral_programmes.programme_id", "referral_programmes.version"],
            name=op.f("fk_referral_codes_programme_id_referral_programmes"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_referral_codes")),
    )
    op.create_index(
        op.f("ix_referral_codes_programme_id"), "referral_codes", ["programme_id"], unique=False
    )
    op.create_index(
        op.f("ix_referral_codes_referrer_id"), "referral_codes", ["referrer_id"], unique=False
    )
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount")),
        sa.ForeignKeyConstraint(
            ["account"],
            ["ledger_accounts.account"],
            name=op.f("fk_ledger_entries_account_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["referral_registrations.registration_id"],
            name=op.f("fk_ledger_entries_registration_id_referral_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.transaction_id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(op.f("ix_ledger_entries_account"), "ledger_entries", ["account"], unique=False)
    op.create_index(
        op.f("ix_ledger_entries_registration_id"),
        "ledger_entries",
        ["registration_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entries_transaction_id"), "ledger_entries", ["transaction_id"], unique=False
    )

    for table, message in APPEND_ONLY.items():
        _append_only(table, message)


def downgrade() -> None:
    for table in APPEND_ONLY:
        _drop_append_only(table)
    for table in (
        "ledger_entries",
        "referral_codes",
        "ledger_transactions",
        "referral_registrations",
        "referral_programmes",
        "ledger_accounts",
        "idempotency_keys",
    ):
        op.drop_table(table)
