"""API tokens: random strings shown once; the application database keeps only their
SHA-256 hashes (``api_tokens``, migration 0007), one row per token.

Why rows and not a file: the workspace's ``tokens.yaml`` was read, changed and written
whole, so parallel ``clientlens token add`` lost tokens (24 of 30 kept) and a revoke
racing an add could be undone by the add's stale copy. Here an add is one insert and
a revoke one delete, each in its own transaction: neither can undo the other.

A ``tokens.yaml`` left by an earlier version is imported once, the first time the
store is opened: a marker row (``api_token_imports``) is inserted first in the same
transaction, so a second process importing at the same time fails on the marker and
imports nothing, and a token revoked after the import cannot come back from the file.
The file is then renamed ``tokens.yaml.imported``.

A token is ``cl_`` and 43 URL-safe characters (256 random bits), so a plain SHA-256
is enough to store it: there is nothing to guess. Adding and revoking are audited
(``audit_log``, actor ``local:<login>``), never with the token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from clientlens.appdb import ApiToken, TokenImport
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform.access import ROLES, TokenHolder
from clientlens.platform.audit import add_local, local_user

LEGACY_FILE = "tokens.yaml"
TOKEN_PREFIX = "cl_"
#: What a token looks like, for redacting logs (``platform/http_guard.py``).
TOKEN_SHAPE = re.compile(r"cl_[A-Za-z0-9_-]{16,}")
_USER = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


class TokenError(ClientlensError):
    """A token request that cannot be done (unknown role, bad user name, ...)."""

    code = "token_error"


def token_hash(token: str) -> str:
    """The SHA-256 hex digest stored for a token (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    token_hash: str
    user: str
    role: str
    created_at: Any
    created_by: str


def add(db: Any, user: str, role: str) -> str:
    """Create a token for ``user`` with ``role``; returns the raw token (shown once)."""
    if role not in ROLES:
        raise TokenError(f"unknown role '{role}': use one of {', '.join(ROLES)}")
    if not user.strip() or not _USER.match(user):
        raise TokenError("the user name must be 1 to 128 characters without control "
                         "characters")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = token_hash(raw)
    with db.transaction() as s:
        s.add(ApiToken(token_hash=digest, holder=user, role=role, created_by=local_user()))
        add_local(s, "token.add", f"token/{digest[:12]}", {"user": user, "role": role})
    return raw


def revoke(db: Any, who: str) -> int:
    """Remove every token of user ``who``, or the one whose hash starts with ``who``
    (8 or more hex characters); returns how many."""
    match = [ApiToken.holder == who]
    if re.fullmatch(r"[0-9a-f]{8,64}", who):
        match.append(ApiToken.token_hash.startswith(who, autoescape=True))
    with db.transaction() as s:
        gone = s.execute(delete(ApiToken).where(or_(*match))
                         .returning(ApiToken.token_hash)).scalars().all()
        if gone:
            add_local(s, "token.revoke", f"user/{who}", {"tokens": [h[:12] for h in gone]})
    if not gone:
        raise NotFoundError(f"no token for user or hash '{who}'")
    return len(gone)


def records(db: Any) -> list[TokenRecord]:
    with db.transaction() as s:
        return [TokenRecord(t.token_hash, t.holder, t.role, t.created_at, t.created_by)
                for t in s.scalars(select(ApiToken).order_by(ApiToken.holder,
                                                             ApiToken.created_at))]


def holders(db: Any) -> dict[str, TokenHolder]:
    """Hash -> holder of every token."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(ApiToken.token_hash, ApiToken.holder, ApiToken.role))
        return {h: TokenHolder(user=u, role=r) for h, u, r in rows if r in ROLES}


# -- the legacy file ---------------------------------------------------------------------------
def _read_legacy(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise TokenError(f"{path}: not valid YAML: {e}") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, dict):
        raise TokenError(f"{path}: 'tokens' must be a mapping of hash -> user and role")
    out = {}
    for digest, holder in tokens.items():
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise TokenError(f"{path}: {str(digest)[:12]}... is not a SHA-256 hash")
        if not isinstance(holder, dict) or holder.get("role") not in ROLES:
            raise TokenError(f"{path}: token {digest[:12]}...: role must be one of "
                             f"{', '.join(ROLES)}")
        out[digest] = holder
    return out


def import_legacy(db: Any, workspace: str | Path) -> int | None:
    """Import the workspace's ``tokens.yaml`` once; returns how many tokens were added,
    or None when there was nothing to import (no file, or imported already)."""
    path = Path(workspace) / LEGACY_FILE
    if not path.is_file():
        return None
    try:
        tokens = _read_legacy(path)
    except FileNotFoundError:
        # another process imported it and renamed it between the check and the read
        return None
    added: int | None = None
    try:
        with db.transaction() as s:
            # The marker first: whoever inserts it second fails here and adds nothing.
            s.add(TokenImport(source=LEGACY_FILE, tokens=len(tokens)))
            s.flush()
            known = set(s.scalars(select(ApiToken.token_hash)))
            new = [ApiToken(token_hash=h, holder=str(v.get("user", "?"))[:128], role=v["role"],
                            created_by="tokens.yaml") for h, v in tokens.items() if h not in known]
            s.add_all(new)
            add_local(s, "token.import", LEGACY_FILE, {"tokens": len(new)})
            added = len(new)
    except IntegrityError:
        added = None  # imported by another process (or earlier)
    try:
        path.replace(path.with_name(LEGACY_FILE + ".imported"))
    except FileNotFoundError:
        pass
    return added


# -- the service's view ------------------------------------------------------------------------
class TokenCache:
    """The holders, in memory: a request is authenticated without I/O. Reloaded when
    older than ``ttl`` seconds (a revoked token stops working within ``ttl``), and on
    an unknown token at most every ``miss_interval`` seconds (a new token works at
    once, and random tokens cannot make the service read the database per request)."""

    def __init__(self, load: Callable[[], dict[str, TokenHolder]], ttl: float = 1.0,
                 miss_interval: float = 0.25) -> None:
        self._load = load
        self.ttl, self.miss_interval = ttl, miss_interval
        self._holders: dict[str, TokenHolder] = {}
        self._at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self, older_than: float) -> None:
        with self._lock:
            if time.monotonic() - self._at >= older_than:  # nobody refreshed meanwhile
                self._holders = self._load()
                self._at = time.monotonic()

    def _needs(self, token: str) -> float | None:
        age = time.monotonic() - self._at
        if age >= self.ttl:
            return self.ttl
        if token_hash(token) not in self._holders and age >= self.miss_interval:
            return self.miss_interval
        return None

    def lookup(self, token: str) -> TokenHolder | None:
        older = self._needs(token)
        if older is not None:
            self._refresh(older)
        return self._holders.get(token_hash(token))

    async def alookup(self, token: str) -> TokenHolder | None:
        """``lookup`` for the event loop: a reload goes to a worker thread."""
        older = self._needs(token)
        if older is not None:
            import anyio.to_thread

            await anyio.to_thread.run_sync(self._refresh, older)
        return self._holders.get(token_hash(token))

    def known(self) -> bool:
        self._refresh(0.0)
        return bool(self._holders)
