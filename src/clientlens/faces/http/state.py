"""What the app owns and its routes share: ``Backend``, one per app (never a global).

The workspace and its definitions compiled once; the warehouse (with DuckDB one
read-write connection, the file allows one process, and a cursor of it per worker
thread); the application database; the latest snapshot in memory
(``services/profiling/profile_store.py``); the field policy per role; the token
cache; the audit log; the runs this process started.
"""

import datetime as dt
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clientlens.faces.http.schemas import RunStatus
from clientlens.model.errors import ClientlensError
from clientlens.platform.access import ROLES, TokenHolder
from clientlens.platform.audit import AuditLog, local_user
from clientlens.platform.field_policy import FIELD_POLICY, Withholding, withholding
from clientlens.platform.tokens import TokenCache, holders, import_legacy, token_hash
from clientlens.services.profiling.profile_store import LatestSnapshot


@dataclass
class RunState:
    """A run this process started: its thread. Its status is in the application
    database (``services/workspace/runs.py``), so it outlives the process."""

    run_id: str
    as_of: dt.date | None
    thread: threading.Thread | None = field(default=None, repr=False)

    @staticmethod
    def out(rec: Any) -> RunStatus:
        """A ``runs.RunRecord`` as the API's RunStatus."""
        return RunStatus(run_id=rec.run_id, status=rec.status, stage=rec.stage,
                         progress=rec.progress, as_of=rec.as_of,
                         requested_by=rec.requested_by, created_at=rec.created_at,
                         started_at=rec.started_at, finished_at=rec.finished_at,
                         result=rec.result, error=rec.error)


class Backend:
    """What the endpoints share: the workspace, its definitions compiled once, a
    warehouse connection (cursors per thread), the app DB, runs and tokens."""

    def __init__(self, root: Path, tokens: dict | None, token_ttl: float = 1.0,
                 local_token: str | None = None):
        from clientlens.compiler.pyplan import CompiledRulebook
        from clientlens.services.workspace.folder import Workspace

        self.root = Path(root)
        self.ws = Workspace(self.root)
        self.defs = self.ws.definitions
        self.compiled = CompiledRulebook(self.defs)
        self._archived: dict[str, tuple[Any, Any]] = {}
        self._withholding: dict[tuple[str, str], Withholding] = {}
        self.db = self.ws.app_db()
        self.audit_log = AuditLog(self.db)
        self._local = threading.local()
        self._shared: Any = None
        if self.ws.settings.engine == "duckdb":
            self._shared = self.ws.engine()
        self.snapshot = LatestSnapshot()
        # figures the console computes once per stored snapshot (faces/console/cache.py)
        self.page_cache: Any = None
        self.warming: threading.Thread | None = None
        self.runs: dict[str, RunState] = {}
        self.runs_lock = threading.Lock()
        # the token of the service file (platform/service_file.py): in memory only, for
        # commands on this machine that hand their work to this process
        self._fixed = tokens is not None
        self._local_token = local_token is not None
        #: the service file's holder (None without one): some requests are its alone
        self.local_holder = None if local_token is None else TokenHolder(
            user=local_user(), role="admin")
        local = {} if local_token is None else {token_hash(local_token): self.local_holder}
        self.tokens = TokenCache(lambda: {**holders(self.db), **local}, ttl=token_ttl)
        if tokens is not None:  # fixed tokens (tests, benches): the app DB is not read
            fixed = {token_hash(k) if not _is_hash(k) else k:
                     TokenHolder(user=str(v.get("user", "?")), role=v["role"])
                     for k, v in tokens.items() if v.get("role") in ROLES}
            self.tokens = TokenCache(lambda: fixed, ttl=float("inf"))
        else:
            import_legacy(self.db, self.root)

    # tokens and the field policy
    def api_tokens_known(self) -> bool:
        """Whether any API token was made (the service file's own does not count)."""
        return self.tokens.known() and (self._fixed or bool(holders(self.db)))

    async def authenticate(self, token: str) -> TokenHolder | None:
        return await self.tokens.alookup(token)

    def withholding(self, role: str, defs: Any = None) -> Withholding:
        """What ``role`` may not see in data made with ``defs`` (default: the current
        definitions); an archived rulebook has its own dependency graph."""
        defs = defs or self.defs
        key = (defs.version, role)
        found = self._withholding.get(key)
        if found is None:
            found = self._withholding[key] = withholding(defs, role)
        return found

    # the warehouse
    @contextmanager
    def engine(self) -> Iterator[Any]:
        """The warehouse for the calling thread (a cursor of the shared DuckDB
        connection, or a connection of its own)."""
        if self._shared is None:
            with self.ws.engine() as engine:
                yield engine
            return
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = self._shared.cursor()
        yield engine

    def latest(self, engine: Any) -> dt.date:
        return self.snapshot.latest(engine)

    def stored(self, engine: Any, customer_id: str, as_of: dt.date
               ) -> tuple[dict | None, list[dict] | None]:
        """The stored profile row and entitlements of a customer in the latest snapshot,
        from memory; (None, None) for other dates (read them from the warehouse)."""
        return self.snapshot.stored(engine, customer_id, as_of)

    def in_memory(self, role: str) -> bool:
        """Whether a lookup of the latest snapshot for ``role`` needs no I/O: the
        snapshot is loaded and the role sees no field whose reading is audited or
        read from the warehouse (personal data)."""
        return self.snapshot.loaded() and not any(role in c.roles for c in FIELD_POLICY)

    def warm(self) -> None:
        """Load the latest snapshot now (at start-up), not on the first lookup."""
        try:
            with self.engine() as engine:
                self.stored(engine, "", self.latest(engine))
        except ClientlensError:
            pass  # no snapshot yet: lookups say so

    def forget_snapshot(self) -> None:
        self.snapshot.forget()
        if self.page_cache is not None:
            self.page_cache.clear()

    def definitions_for(self, version: str | None) -> tuple[Any, Any]:
        """The definitions (and compiled rulebook) a snapshot was made with."""
        from clientlens.compiler.pyplan import CompiledRulebook
        from clientlens.services.profiling.history import archived_definitions

        if not version or version == self.defs.version:
            return self.defs, self.compiled
        if version not in self._archived:
            old = archived_definitions(self.db, version)
            self._archived[version] = ((old, CompiledRulebook(old)) if old is not None
                                       else (self.defs, self.compiled))
        return self._archived[version]

    # audit
    def audit(self, who: TokenHolder, action: str, resource: str, detail: dict | None = None,
              outcome: str = "ok") -> None:
        self.audit_log.record(who, action, resource, detail, outcome)

    def close(self) -> None:
        if self._local_token:
            # uvicorn re-raises SIGTERM once it has shut down, so the service file is
            # removed here, at the end of the app's lifespan, not after uvicorn returns
            from clientlens.platform.service_file import withdraw

            withdraw(self.root)
        if self.warming is not None:
            self.warming.join()
        for run in list(self.runs.values()):
            if run.thread is not None:
                run.thread.join(timeout=60)
        if self._shared is not None:
            self._shared.close()
        self.db.close()


def _is_hash(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{64}", value))
