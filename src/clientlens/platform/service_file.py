"""Where a running ``clientlens serve`` says it is, so that commands on the same
workspace hand their work to it instead of waiting for the warehouse it holds
(DuckDB lets one process open a database file).

The service writes ``<workspace>/.clientlens-service.json`` when it starts: its PID,
its URL and a random token of its own (256 bits), private to the workspace's owner
(0600 in the 0700 workspace). The token is known to that process only, in memory,
with the role ``admin`` and the user ``local:<login>`` of whoever started it; it is
not in the token table and dies with the process. The file is removed when the
service stops; a file whose PID is gone is stale and ignored.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from clientlens.platform import files

NAME = ".clientlens-service.json"


@dataclass(frozen=True)
class RunningService:
    pid: int
    url: str
    token: str


def announce(workspace: str | Path, url: str) -> RunningService:
    """Write this process's service file; returns it (with the new token)."""
    found = RunningService(os.getpid(), url.rstrip("/"), "cl_" + secrets.token_urlsafe(32))
    files.write_text(Path(workspace) / NAME, json.dumps(found.__dict__))  # 0600
    return found


def withdraw(workspace: str | Path) -> None:
    """Remove the service file if it is this process's."""
    path = Path(workspace) / NAME
    found = running(workspace)
    if found is not None and found.pid == os.getpid():
        path.unlink(missing_ok=True)


def running(workspace: str | Path) -> RunningService | None:
    """The service that announced itself for ``workspace``, if its process lives."""
    try:
        data = json.loads((Path(workspace) / NAME).read_text())
        found = RunningService(int(data["pid"]), str(data["url"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(found.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's: not ours to use
        return None
    return found
