"""A workspace's API tokens: the store (``platform/tokens.py``) in the workspace's
application database, with a ``tokens.yaml`` left by an earlier version imported
the first time it is opened. Needs neither FastAPI nor uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clientlens.platform import tokens as token_store
from clientlens.platform.access import ROLES


def open_store(workspace: str | Path) -> Any:
    """The workspace's application database, with a legacy tokens.yaml imported."""
    from clientlens.services.workspace.folder import Workspace

    db = Workspace(workspace).app_db()  # a real workspace, or a clear error
    try:
        token_store.import_legacy(db, workspace)
    except BaseException:
        db.close()
        raise
    return db


def add_token(workspace: str | Path, user: str, role: str) -> str:
    """Create a token for ``user`` with ``role`` in the workspace; returns it (shown once)."""
    if role not in ROLES:  # before opening anything
        raise token_store.TokenError(f"unknown role '{role}': use one of {', '.join(ROLES)}")
    with open_store(workspace) as db:
        return token_store.add(db, user, role)


def revoke_tokens(workspace: str | Path, who: str) -> int:
    """Revoke every token of user ``who`` (or the one whose hash starts with ``who``)."""
    with open_store(workspace) as db:
        return token_store.revoke(db, who)


def load_tokens(workspace: str | Path) -> dict[str, dict[str, Any]]:
    """Hash -> {user, role, created} of every token of the workspace."""
    with open_store(workspace) as db:
        return {r.token_hash: {"user": r.user, "role": r.role, "created": r.created_at}
                for r in token_store.records(db)}


def token_records(workspace: str | Path) -> list[token_store.TokenRecord]:
    """Every token's record (holder, role, hash, when), never the token."""
    with open_store(workspace) as db:
        return token_store.records(db)
