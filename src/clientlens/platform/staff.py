"""Staff who sign in to the console, and their browser sessions (``console_users``,
``console_sessions``, migration 0008).

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile); only the hash is stored, and a hash made with older parameters
is upgraded at the next sign-in. Five wrong passwords in a row lock the user for
fifteen minutes; a wrong name and a wrong password give the same answer and take the
same time (a dummy hash is verified), so the form does not tell which names exist.

A session is a random 256-bit value in an HttpOnly cookie; the database keeps its
SHA-256 only, with the user, an anti-forgery token for the forms it may post, and an
expiry (8 hours: a working day). Disabling a user ends their sessions at once.

Every change (add, role, password, disable) is audited; passwords never are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select

from clientlens.appdb import ConsoleSession, ConsoleUser
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform.access import ROLES, TokenHolder
from clientlens.platform.audit import add_local, entry

SESSION_HOURS = 8
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 12
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password anybody has")


class StaffError(ClientlensError):
    """A user request that cannot be done (bad name, weak password, unknown role)."""

    code = "staff_error"


@dataclass(frozen=True)
class StaffUser:
    name: str
    role: str
    created_at: Any
    created_by: str
    disabled: bool
    sso: bool


@dataclass(frozen=True)
class StaffSession:
    """A signed-in browser: who, and the token its forms must carry."""

    user: str
    role: str
    csrf: str

    @property
    def holder(self) -> TokenHolder:
        return TokenHolder(user=self.user, role=self.role)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password must have at least {MIN_PASSWORD} characters")
    if password.strip() != password or any(ord(c) < 32 for c in password):
        raise StaffError("the password may not start or end with spaces or hold control "
                         "characters")


def check_user(name: str, role: str | None = None) -> None:
    """A user name and role that may be stored."""
    if not _NAME.match(name):
        raise StaffError(f"user name {name!r} must be 1 to 128 letters, digits or . _ @ -")
    if role is not None and role not in ROLES:
        raise StaffError(f"unknown role '{role}': use one of {', '.join(ROLES)}")


def add_user(db: Any, name: str, role: str, password: str) -> None:
    """A new user who signs in with ``password`` (hashed here)."""
    check_user(name, role)
    check_password(password)
    with db.transaction() as s:
        if s.get(ConsoleUser, name) is not None:
            raise StaffError(f"user '{name}' exists: use `clientlens user passwd` or "
                             "`clientlens user role`")
        s.add(ConsoleUser(name=name, role=role, password_hash=_hasher.hash(password),
                          created_by=_actor()))
        add_local(s, "user.add", f"user/{name}", {"role": role})


def _actor() -> str:
    from clientlens.platform.audit import local_user

    return local_user()


def set_password(db: Any, name: str, password: str) -> None:
    check_password(password)
    with db.transaction() as s:
        user = _get(s, name)
        user.password_hash = _hasher.hash(password)
        user.failed_logins, user.locked_until = 0, None
        s.execute(delete(ConsoleSession).where(ConsoleSession.user_name == name))
        add_local(s, "user.passwd", f"user/{name}", {})


def set_role(db: Any, name: str, role: str) -> None:
    check_user(name, role)
    with db.transaction() as s:
        user = _get(s, name)
        old, user.role = user.role, role
        s.execute(delete(ConsoleSession).where(ConsoleSession.user_name == name))
        add_local(s, "user.role", f"user/{name}", {"from": old, "to": role})


def disable_user(db: Any, name: str) -> None:
    with db.transaction() as s:
        user = _get(s, name)
        user.disabled_at = _now()
        s.execute(delete(ConsoleSession).where(ConsoleSession.user_name == name))
        add_local(s, "user.disable", f"user/{name}", {})


def list_users(db: Any) -> list[StaffUser]:
    with db.transaction() as s:
        return [StaffUser(u.name, u.role, _utc(u.created_at), u.created_by,
                          u.disabled_at is not None, u.subject is not None)
                for u in s.scalars(select(ConsoleUser).order_by(ConsoleUser.name))]


def _get(s: Any, name: str) -> ConsoleUser:
    user = s.get(ConsoleUser, name)
    if user is None:
        raise NotFoundError(f"unknown user '{name}' (`clientlens user list` shows them)")
    return user


class SignInRefused(ClientlensError):
    """Wrong name or password, a disabled or a locked user: one message for all."""

    code = "sign_in_refused"


def sign_in(db: Any, name: str, password: str, *, source: str = "") -> tuple[str,
                                                                              StaffSession]:
    """A new session for ``name`` if ``password`` is theirs: (cookie value, session).
    Every attempt is audited, with its outcome."""
    now = _now()
    refused = False
    # the failure is counted in a transaction that commits; the refusal is raised after
    with db.transaction() as s:
        user = s.get(ConsoleUser, name) if _NAME.match(name or "") else None
        ok = False
        stored = user.password_hash if user is not None and user.password_hash else _DUMMY
        try:
            ok = _hasher.verify(stored, password) and user is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        locked = user is not None and (_utc(user.locked_until) or now) > now
        if user is None or not ok or user.disabled_at is not None or locked:
            if user is not None and not ok:
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILURES:
                    user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                    user.failed_logins = 0
            s.add(entry(name[:128] or "?", "console", "console.sign_in", "console",
                        {"source": source, "reason": "locked" if locked else
                         "disabled" if user is not None and user.disabled_at else
                         "bad credentials"}, outcome="denied"))
            refused = True
        else:
            user.failed_logins, user.locked_until = 0, None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            opened = _open(s, user, now, source)
    if refused:
        raise SignInRefused("wrong user name or password, or the user is locked or "
                            "disabled")
    return opened


def sign_in_sso(db: Any, subject: str, name: str, role: str, *, source: str = ""
                ) -> tuple[str, StaffSession]:
    """A session for a user the bank's OpenID Connect provider vouched for (``subject``:
    the provider's stable id for them). The user is made on the first sign-in, and
    takes the role the provider's claims map to each time; a disabled user stays out."""
    check_user(name, role)
    now = _now()
    refused = False
    with db.transaction() as s:
        user = s.scalars(select(ConsoleUser).where(ConsoleUser.subject == subject)).first()
        if user is None:
            if s.get(ConsoleUser, name) is not None:  # a local user of that name
                name = f"{name}@sso"[:128]
            user = ConsoleUser(name=name, role=role, subject=subject, created_by="oidc")
            s.add(user)
            s.add(entry(name, role, "user.add", f"user/{name}", {"via": "oidc"}))
        elif user.role != role:
            s.add(entry(user.name, role, "user.role", f"user/{user.name}",
                        {"from": user.role, "to": role, "via": "oidc"}))
            user.role = role
        if user.disabled_at is not None:
            s.add(entry(user.name, user.role, "console.sign_in", "console",
                        {"source": source, "reason": "disabled", "via": "oidc"},
                        outcome="denied"))
            refused = True
        else:
            s.flush()
            opened = _open(s, user, now, source)
    if refused:
        raise SignInRefused("this user is disabled")
    return opened


def _open(s: Any, user: ConsoleUser, now: dt.datetime, source: str
          ) -> tuple[str, StaffSession]:
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    s.add(ConsoleSession(session_hash=_hash(raw), user_name=user.name, csrf_token=csrf,
                         created_at=now, expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
    s.add(entry(user.name, user.role, "console.sign_in", "console", {"source": source}))
    return raw, StaffSession(user.name, user.role, csrf)


def session_for(db: Any, raw: str | None) -> StaffSession | None:
    """The live session whose cookie value is ``raw``, or None."""
    if not raw or len(raw) > 128:
        return None
    with db.transaction() as s:
        row = s.get(ConsoleSession, _hash(raw))
        if row is None:
            return None
        if _utc(row.expires_at) <= _now():
            s.delete(row)
            return None
        user = s.get(ConsoleUser, row.user_name)
        if user is None or user.disabled_at is not None:
            return None
        return StaffSession(user.name, user.role, row.csrf_token)


def sign_out(db: Any, raw: str | None) -> None:
    if raw:
        with db.transaction() as s:
            s.execute(delete(ConsoleSession).where(ConsoleSession.session_hash == _hash(raw)))
