"""Commands that hand their work to a running ``clientlens serve`` on the same
workspace: DuckDB lets one process open the warehouse, so while the service holds it
``import``, ``run``, ``summary``, ``explain``, ``reevaluate`` and the customer
lists (``leads``, ``actions``, ...) ask the service over HTTP instead
of failing (``platform/service_file.py`` says where it is and gives the token).

Only the standard library is used, so this works in an install without the ``api``
extra; the service answers on loopback.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from clientlens.engines.duckdb_engine import WarehouseInUse
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform.service_file import RunningService, running

TIMEOUT = 600.0


class ServiceRefused(ClientlensError):
    code = "service_refused"


def service_for(workspace: str | Path, error: WarehouseInUse) -> RunningService:
    """The service holding the warehouse, or ``error`` again when there is none to ask
    (another process holds the file, or a service without a service file)."""
    found = running(workspace)
    if not error.serving or found is None or (error.pid is not None
                                              and found.pid != error.pid):
        raise error
    return found


def ask(service: RunningService, method: str, path: str, body: Any = None) -> Any:
    """One request to the service; its JSON answer, or its error as one line."""
    data = None if body is None else json.dumps(body, default=str).encode()
    request = urllib.request.Request(f"{service.url}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {service.token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("message") or str(e)
        except (ValueError, AttributeError):
            message = str(e)
        kind = NotFoundError if e.code == 404 else ServiceRefused
        raise kind(f"{message} (answered by `clientlens serve`, PID {service.pid})") \
            from None
    except (urllib.error.URLError, OSError) as e:
        raise ServiceRefused(f"`clientlens serve` (PID {service.pid}) holds the warehouse "
                             f"but does not answer at {service.url}: {e}") from None


def run(service: RunningService, as_of: Any, on_progress: Any = None) -> dict:
    """Start a run on the service and wait for it; the run's record."""
    started = ask(service, "POST", "/runs", {"as_of": as_of} if as_of else None)
    while True:
        record = ask(service, "GET", f"/runs/{started['run_id']}")
        if on_progress is not None:
            on_progress(record)
        if record["status"] in ("succeeded", "failed"):
            return record
        time.sleep(0.5)
