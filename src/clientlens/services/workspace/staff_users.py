"""A workspace's console users (``platform/staff.py``) in its application database.
Password hashing needs argon2-cffi, part of the ``api`` extra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clientlens.model.errors import ClientlensError


def _staff() -> Any:
    try:
        from clientlens.platform import staff
    except ImportError as e:
        raise ClientlensError(f"console users need '{e.name}': pip install "
                              "'clientlens[api]'") from None
    return staff


def _db(workspace: str | Path) -> Any:
    from clientlens.services.workspace.folder import Workspace

    return Workspace(workspace).app_db()


def add_user(workspace: str | Path, name: str, role: str, password: str) -> None:
    staff = _staff()
    staff.check_user(name, role)  # before opening anything
    staff.check_password(password)
    with _db(workspace) as db:
        staff.add_user(db, name, role, password)


def set_password(workspace: str | Path, name: str, password: str) -> None:
    staff = _staff()
    with _db(workspace) as db:
        staff.set_password(db, name, password)


def set_role(workspace: str | Path, name: str, role: str) -> None:
    staff = _staff()
    with _db(workspace) as db:
        staff.set_role(db, name, role)


def disable_user(workspace: str | Path, name: str) -> None:
    staff = _staff()
    with _db(workspace) as db:
        staff.disable_user(db, name)


def list_users(workspace: str | Path) -> list:
    staff = _staff()
    with _db(workspace) as db:
        return staff.list_users(db)


def first_admin(workspace: str | Path, name: str = "demo-admin") -> str | None:
    """A first admin with a random password (returned, shown once), unless the
    workspace has users already or argon2 is not installed."""
    import secrets

    try:
        staff = _staff()
    except ClientlensError:
        return None
    with _db(workspace) as db:
        if staff.list_users(db):
            return None
        password = secrets.token_urlsafe(12)
        staff.add_user(db, name, "admin", password)
        return password
