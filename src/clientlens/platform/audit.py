"""The audit log: one ``audit_log`` row per write, refusal, denial or read of
sensitive data, in the application database.

Who writes: the HTTP service (``record``, with the token holder as actor) and the
token commands (``add_local``, actor ``local:<login>``). A detail is made JSON-safe
(``platform/jsonsafe.py``); callers never put a token, an identity document, a phone
or an address in it.
"""

from __future__ import annotations

import getpass
import json
import threading
from typing import Any

from clientlens.appdb import AuditEntry
from clientlens.platform.access import TokenHolder
from clientlens.platform.jsonsafe import plain


def local_user() -> str:
    """``local:<login>`` of whoever runs this process (a command on the server)."""
    try:
        return f"local:{getpass.getuser()}"[:128]
    except Exception:  # noqa: BLE001 - no login name (a container): still audited
        return "local:?"


def entry(actor: str, role: str, action: str, resource: str,
          detail: dict[str, Any] | None = None, outcome: str = "ok") -> AuditEntry:
    """One audit row, not yet added to a session."""
    return AuditEntry(actor=actor, role=role, action=action, resource=resource,
                      detail=json.dumps(plain(detail or {}), ensure_ascii=False),
                      outcome=outcome)


def add_local(session: Any, action: str, resource: str, detail: dict[str, Any]) -> None:
    """Audit, in ``session``'s transaction, an action of a local command."""
    session.add(entry(local_user(), "local", action, resource, detail))


class AuditLog:
    """The service's writer: one row per call, each in its own transaction. Calls are
    serialized in this process (SQLite refuses a second writer rather than waiting)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._lock = threading.Lock()

    def record(self, who: TokenHolder, action: str, resource: str,
               detail: dict[str, Any] | None = None, outcome: str = "ok") -> None:
        row = entry(who.user, who.role, action, resource, detail, outcome)
        with self._lock, self.db.transaction() as s:
            s.add(row)
