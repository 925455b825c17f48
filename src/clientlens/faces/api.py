"""The HTTP API (FastAPI) over one workspace: ``create_app(workspace)``.

A face like the CLI: it reads profiles, explanations, summaries and the dictionary
through the services and compiler. Who may do what and see what is not decided here
but in ``platform/``: roles and permissions (``platform/access.py``), the field policy
followed through the dependency graph (``platform/field_policy.py``; every answer with
customer data goes through it), tokens (``platform/tokens.py``) and the guard in front
of every request (``platform/http_guard.py``: the token is checked before the body is
read, bodies are capped, logs are escaped and redacted).

Auth: ``Authorization: Bearer <token>``; tokens are SHA-256 hashed in the application
database (``clientlens token add``). Every write and every read of sensitive data
appends an ``AuditEntry`` to the application database; no token is ever logged.

Concurrency: with DuckDB the app holds one read-write connection to the warehouse
(the file allows one process) and gives each worker thread a cursor of it; runs go
through ``jobs.run`` in a background thread, one at a time, and share the database
instance. Runs and Idempotency-Keys are kept in the application database
(``services/workspace/runs.py``, ``services/relationship/reevaluation.py``), so
they outlive a restart.

Lookups: the latest snapshot is held in memory (``services/profiling/profile_store.py``),
loaded at start-up and again after a run; a lookup of it by a role that sees no
audited field does no I/O and is answered on the event loop, others go through the
thread pool.
"""

import datetime as dt
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientlens.model.errors import (
    ClientlensError,
    DefinitionError,
    ExpressionError,
    NotFoundError,
    WorkspaceError,
)
from clientlens.platform.access import ROLE_PERMISSIONS, ROLES, TokenHolder
from clientlens.platform.field_policy import (
    FIELD_POLICY,
    PERSONAL_COLUMNS,
    Withholding,
    apply_policy,
    redact,
    withheld_list,
    withholding,
)
from clientlens.platform.http_guard import (
    MAX_BODY_BYTES,
    SCOPE_KEY,
    BodyTooLarge,
    Guard,
    RequestLog,
    install_redaction,
    log_config,
)
from clientlens.platform.tokens import TokenCache, holders, import_legacy, token_hash
from clientlens.services.profiling.profile_store import SnapshotRows
from clientlens.services.workspace.runs import plain

log = logging.getLogger("clientlens.api")

__all__ = ["FIELD_POLICY", "ROLE_PERMISSIONS", "ROLES", "create_app", "log_config"]

Role = Literal["viewer", "analyst", "marketing", "security_officer", "admin"]
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


# -- response models --------------------------------------------------------------------
class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable kind, e.g. not_found, forbidden.")
    message: str = Field(description="What went wrong, for people.")
    detail: list[dict[str, Any]] | None = Field(None, description="Per-field problems.")


class Condition(BaseModel):
    condition: str
    holds: bool | None = Field(description="None: unknown because a term is empty.")
    values: dict[str, Any] = Field(description="Terms the condition reads, with values.")
    needs: str | None = Field(None, description="What would have to change.")


class RuleTrace(BaseModel):
    rule: str
    matched: bool
    conditions: list[Condition]


class FactorOut(BaseModel):
    factor: str
    value: Any = None
    bin: str | None = None
    points: float | None = None
    deviation: float | None = None


class RatingOut(BaseModel):
    rating: str
    label: str
    score: float | None
    grade: str | None
    reasons: list[str]
    factors: list[FactorOut]


class ServiceCheck(BaseModel):
    service: str
    kind: str
    qualifies: bool
    conditions: list[Condition]


class EntitlementOut(BaseModel):
    service: str
    kind: str | None = None
    granted_on: dt.date | None = None
    last_qualified_on: dt.date | None = None
    kept_until: dt.date | None = None
    qualified: bool | None = None


class ActionOut(BaseModel):
    action: str
    label: str
    department: str | None
    within_days: int | None
    description: str


class Recommendations(BaseModel):
    next_best_product: str | None = None
    next_best_reason: str | None = None
    lead_product: str | None = None
    lead_department: str | None = None


class Withheld(BaseModel):
    category: str = Field(description="A FIELD_POLICY category: security or personal.")
    fields: list[str] = Field(description="Fields removed from this response because "
                              "they are, or are computed from, data of this category: "
                              "term names, and paths such as ratings.solvency, "
                              "services.free_transfers, recommendations.lead_product, "
                              "explanation.segment_rules.")
    visible_to: list[str] = Field(description="Roles that may see them.")
    reason: str


class ExplanationOut(BaseModel):
    segment_rules: list[RuleTrace] = Field(description="Rules tried, up to the match.")
    need_rules: list[RuleTrace]
    phase_rules: list[RuleTrace]


class Profile(BaseModel):
    customer_id: str
    as_of: dt.date
    rulebook_version: str
    source: str = Field(description="'stored profile' or 'computed now'.")
    note: str | None = None
    segment: str | None = Field(description="Null when withheld (see `withheld`).")
    segment_label: str | None
    phase: str | None = None
    need: str | None = None
    ratings: list[RatingOut]
    recommendations: Recommendations
    services: list[ServiceCheck] = Field(description="Services the customer qualifies for.")
    entitlements: list[EntitlementOut] = Field(
        description="Services held on the snapshot date (stored entitlements).")
    actions: list[ActionOut] = Field(description="The bank's actions for the phase.")
    personal: dict[str, Any] | None = Field(
        None, description="Personal data from the customers table (analyst, admin).")
    terms: dict[str, Any] = Field(description="Every glossary term's value.")
    explanation: ExplanationOut | None = Field(
        description="Why: rule traces (null with explain=false).")
    withheld: list[Withheld] = Field(description="Field categories removed for your role.")


class EntitlementChange(BaseModel):
    service: str
    change: Literal["granted", "grace_started", "revoked"] = Field(
        description="The nightly run's event vocabulary.")
    kept_until: dt.date | None = None
    reason: str
    source: Literal["reevaluation"] = Field(
        "reevaluation", description="Recorded by a re-evaluation, not by a nightly run.")


ReevaluationReason = Literal["product_opened", "product_closed", "balance_moved", "complaint",
                             "other"]


class ReevaluationRequest(BaseModel):
    reason: ReevaluationReason | None = Field(
        None, description="The cause reported by the bank's system.")
    note: str | None = Field(None, max_length=2000, description="Free text about the cause.")


class Reevaluation(BaseModel):
    reevaluation_id: int = Field(description="The recorded re-evaluation.")
    recorded: bool = Field(True, description="Always true: every re-evaluation is recorded.")
    replayed: bool = Field(False, description="True when this answers a repeated "
                           "Idempotency-Key: nothing was computed or recorded again.")
    profile: Profile = Field(description="The profile computed now from the warehouse; its "
                             "entitlements are those held after this re-evaluation.")
    compared_with: dt.date | None = Field(
        description="The nightly snapshot compared with (the newest on or before as_of).")
    compared_with_reevaluation: int | None = Field(
        None, description="The latest re-evaluation recorded since that snapshot: the state "
                          "compared with, instead of the snapshot's.")
    previous_segment: str | None
    previous_phase: str | None = None
    previous_need: str | None = None
    segment_changed: bool | None = Field(description="Null when the segment is withheld.")
    changes: list[EntitlementChange] = Field(
        description="Entitlement changes against the latest recorded state: granted, "
                    "grace_started, revoked. Empty when nothing changed.")
    reason: ReevaluationReason | None = None
    note: str = ""


class StateOut(BaseModel):
    segment: str | None = None
    phase: str | None = None
    need: str | None = None


class ReevaluationRecord(BaseModel):
    reevaluation_id: int
    customer_id: str
    source: Literal["reevaluation"] = "reevaluation"
    as_of: dt.date
    compared_with: dt.date | None
    compared_with_reevaluation: int | None
    superseded_by: dt.date | None = Field(
        description="The first nightly run after the snapshot compared with: its events "
                    "are authoritative from then on.")
    rulebook_version: str
    requested_by: str
    role: str | None
    via: str = Field(description="api, cli or python.")
    requested_at: dt.datetime
    reason: ReevaluationReason | None
    note: str
    before: StateOut
    after: StateOut
    changes: list[EntitlementChange]
    held: list[EntitlementOut] = Field(description="Services held after it.")


class ReevaluationList(BaseModel):
    customer_id: str
    reevaluations: list[ReevaluationRecord] = Field(description="Newest first.")
    withheld: list[Withheld] = Field(default_factory=list, description=(
        "Field categories removed for your role (a removed segment, phase or need is "
        "null)."))


class SegmentOut(BaseModel):
    segment: str
    label: str
    customers: int
    share: float
    means: dict[str, float | None]


class SegmentSummary(BaseModel):
    as_of: dt.date
    segments: list[SegmentOut]


class TermOut(BaseModel):
    name: str
    type: str
    unit: str
    kind: str = Field(description="aggregate, column or expression.")
    definition: str
    description: str
    labels: dict[str, str]


class Dictionary(BaseModel):
    rulebook_version: str
    terms: list[TermOut]


class RunRequest(BaseModel):
    as_of: dt.date | None = Field(None, description="Default: the newest transaction's date.")


class RunStatus(BaseModel):
    run_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    stage: str
    progress: float = Field(description="0 to 1.")
    as_of: dt.date | None
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class Health(BaseModel):
    status: str


# -- JSON-safe values ---------------------------------------------------------------------
#: Decimals to floats, dates to ISO strings, NaN to None, sets sorted; recursively.
jsonable = plain


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"not JSON: {type(value).__name__}")


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON bytes (orjson), as ``jsonable`` would give it: decimals as
    numbers, dates as ISO strings, NaN and infinities as null; the lookups' fast
    path."""
    return orjson.dumps(value, default=_json_default,
                        option=orjson.OPT_NON_STR_KEYS)


# -- errors -------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers


class PayloadTooLarge(StarletteHTTPException, BodyTooLarge):
    """A streamed body over the cap, raised while a route reads it: FastAPI passes an
    HTTPException through (any other error reading the body becomes a 400)."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        StarletteHTTPException.__init__(self, 413, f"the request body is over {limit:,} "
                                                   "bytes")


def _body(error: str, message: str, detail: list | None = None) -> dict[str, Any]:
    return ErrorBody(error=error, message=message, detail=detail).model_dump()


#: ClientlensError subclasses to HTTP statuses; the first match in order wins.
ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (DefinitionError, 422, "definition_error"),
    (ExpressionError, 422, "expression_error"),
    (WorkspaceError, 400, "workspace_error"),
    (ClientlensError, 400, "bad_request"),
)

ERRORS = {401: {"model": ErrorBody, "description": "Missing or invalid token."},
          403: {"model": ErrorBody, "description": "The token's role may not do this."},
          422: {"model": ErrorBody, "description": "Invalid parameters."}}
NOT_FOUND = {404: {"model": ErrorBody, "description": "Unknown customer or date."}}


def _check_date(as_of: dt.date | None, name: str = "as_of") -> dt.date | None:
    if as_of is not None and not MIN_DATE <= as_of <= MAX_DATE:
        raise ApiError(422, "invalid_date", f"{name} {as_of} is outside {MIN_DATE}..{MAX_DATE}")
    return as_of


# -- the backend: one workspace, shared connections -------------------------------------
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

    def __init__(self, root: Path, tokens: dict | None, token_ttl: float = 1.0):
        from clientlens.compiler.pyplan import CompiledRulebook
        from clientlens.services.workspace.folder import Workspace

        self.root = Path(root)
        self.ws = Workspace(self.root)
        self.defs = self.ws.definitions
        self.compiled = CompiledRulebook(self.defs)
        self._archived: dict[str, tuple[Any, Any]] = {}
        self._withholding: dict[tuple[str, str], Withholding] = {}
        self.db = self.ws.app_db()
        self._audit_lock = threading.Lock()
        self._local = threading.local()
        self._shared: Any = None
        if self.ws.settings.engine == "duckdb":
            self._shared = self.ws.engine()
        self._latest: dt.date | None = None
        # The latest snapshot in memory (profile rows by customer, their entitlements):
        # a lookup then reads no table. Dropped when a run finishes.
        self._snapshot: tuple[dt.date, SnapshotRows, dict[str, list[dict]]] | None = None
        self._snapshot_lock = threading.Lock()
        self.warming: threading.Thread | None = None
        self.runs: dict[str, RunState] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, str]] = {}
        self._runs_lock = threading.Lock()
        self.tokens = TokenCache(lambda: holders(self.db), ttl=token_ttl)
        if tokens is not None:  # fixed tokens (tests, benches): the app DB is not read
            fixed = {token_hash(k) if not _is_hash(k) else k:
                     TokenHolder(user=str(v.get("user", "?")), role=v["role"])
                     for k, v in tokens.items() if v.get("role") in ROLES}
            self.tokens = TokenCache(lambda: fixed, ttl=float("inf"))
        else:
            import_legacy(self.db, self.root)

    # tokens and the field policy
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
        if self._shared is None:
            with self.ws.engine() as engine:
                yield engine
            return
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = self._shared.cursor()
        yield engine

    def latest(self, engine: Any) -> dt.date:
        from clientlens.services.profiling.segmentation import latest_as_of

        if self._latest is None:
            self._latest = latest_as_of(engine)
        return self._latest

    def stored(self, engine: Any, customer_id: str, as_of: dt.date
               ) -> tuple[dict | None, list[dict] | None]:
        """The stored profile row and entitlements of a customer in the latest snapshot,
        from memory; (None, None) for other dates (read them from the warehouse)."""
        if as_of != self.latest(engine):
            return None, None
        snap = self._snapshot
        if snap is None or snap[0] != as_of:
            with self._snapshot_lock:
                snap = self._snapshot
                if snap is None or snap[0] != as_of:
                    snap = self._snapshot = _load_snapshot(engine, as_of)
        _, rows, entitlements = snap
        row = rows.get(customer_id)
        if row is None:
            return None, None
        return row, entitlements.get(customer_id, [])

    def in_memory(self, role: str) -> bool:
        """Whether a lookup of the latest snapshot for ``role`` needs no I/O: the
        snapshot is loaded and the role sees no field whose reading is audited or
        read from the warehouse (personal data)."""
        return (self._snapshot is not None and self._latest is not None
                and self._snapshot[0] == self._latest
                and not any(role in c.roles for c in FIELD_POLICY))

    def warm(self) -> None:
        """Load the latest snapshot now (at start-up), not on the first lookup."""
        try:
            with self.engine() as engine:
                self.stored(engine, "", self.latest(engine))
        except ClientlensError:
            pass  # no snapshot yet: lookups say so

    def forget_snapshot(self) -> None:
        self._latest = None
        self._snapshot = None

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
        from clientlens.appdb import AuditEntry

        entry = AuditEntry(actor=who.user, role=who.role, action=action, resource=resource,
                           detail=json.dumps(jsonable(detail or {}), ensure_ascii=False),
                           outcome=outcome)
        with self._audit_lock, self.db.transaction() as s:
            s.add(entry)

    def close(self) -> None:
        if self.warming is not None:
            self.warming.join()
        for run in list(self.runs.values()):
            if run.thread is not None:
                run.thread.join(timeout=60)
        if self._shared is not None:
            self._shared.close()
        self.db.close()


def _load_snapshot(engine: Any, as_of: dt.date
                   ) -> tuple[dt.date, SnapshotRows, dict[str, list[dict]]]:
    rows = SnapshotRows(engine.fetch_arrow("select * from profiles where as_of = ?",
                                           [as_of]))
    entitlements: dict[str, list[dict]] = {}
    if engine.table_columns("entitlements") is not None:
        for row in engine.fetch_arrow(
                "select customer_id, service, kind, granted_on, last_qualified_on, kept_until, "
                "qualified from entitlements where as_of = ? order by customer_id, service",
                [as_of]).to_pylist():
            entitlements.setdefault(row.pop("customer_id"), []).append(row)
    return as_of, rows, entitlements


def _is_hash(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{64}", value))


# -- profiles -----------------------------------------------------------------------------
def _conditions(conds: list) -> list[dict[str, Any]]:
    return [{"condition": c.text, "holds": c.holds, "values": dict(c.values),
             "needs": c.need} for c in conds]


def _traces(results: list) -> list[dict[str, Any]]:
    return [{"rule": r.rule.id, "matched": r.matched, "conditions": _conditions(r.conditions)}
            for r in results]


def profile_dict(x: Any, defs: Any, entitlements: list[dict], personal: dict | None
                 ) -> dict[str, Any]:
    """An Explanation (services/profiling/explain.py) as the API's profile, before the policy."""
    t = x.terms
    labels = {s.id: s.labels.en for s in defs.segments}
    return {
        "customer_id": x.customer_id, "as_of": x.as_of,
        "rulebook_version": x.rulebook_version, "source": x.source, "note": x.note,
        "segment": x.segment, "segment_label": labels.get(x.segment, x.segment),
        "phase": t.get("phase"), "need": t.get("need"),
        "ratings": [{"rating": r.rating.id, "label": r.rating.labels.en, "score": r.score,
                     "grade": r.grade, "reasons": list(r.reasons),
                     "factors": [{"factor": f.factor.name, "value": f.value, "bin": f.bin,
                                  "points": f.points, "deviation": f.deviation}
                                 for f in r.factors]} for r in x.ratings],
        "recommendations": {k: t.get(k) for k in Recommendations.model_fields},
        "services": [{"service": s.id, "kind": s.kind, "qualifies": granted,
                      "conditions": _conditions(conds)} for s, granted, conds in x.services],
        "entitlements": entitlements,
        "actions": [{"action": a.id, "label": a.labels.en, "department": a.department,
                     "within_days": a.within_days, "description": a.description}
                    for a in x.actions],
        "personal": personal,
        "terms": {k: v for k, v in t.items() if k != "in_population"},
        "explanation": {"segment_rules": _traces(x.rules), "need_rules": _traces(x.needs),
                        "phase_rules": _traces(x.phases)},
        "withheld": [],
    }


def _personal(engine: Any, customer_id: str) -> dict[str, Any] | None:
    from sqlglot import exp

    cols = ", ".join(exp.to_identifier(c, quoted=True).sql(dialect=engine.dialect)
                     for c in PERSONAL_COLUMNS)
    rows = engine.fetch_all(f"select {cols} from customers where customer_id = ?",
                            [customer_id])
    return dict(zip(PERSONAL_COLUMNS, rows[0], strict=True)) if rows else None


def _sees(role: str, category: str) -> bool:
    return any(c.name == category and role in c.roles for c in FIELD_POLICY)


def police_reevaluation(answer: dict[str, Any], w: Withholding) -> dict[str, Any]:
    """A re-evaluation's answer without what ``w`` withholds: its profile as a profile,
    the rest (previous segment, phase and need, whether the segment changed, the
    entitlement changes) as of a state another rulebook may have decided, so without
    first-match values. Everything removed is named in the profile's ``withheld``."""
    profile = answer["profile"]
    rest = {k: v for k, v in answer.items() if k != "profile"}
    p_out, removed = redact(profile, w)
    r_out, removed_rest = redact(rest, w.strict())
    p_out["withheld"] = withheld_list(w, [*removed, *removed_rest],
                                      profile.get("withheld") or ())
    return {**r_out, "profile": p_out}


def no_profile(customer_id: str, as_of: dt.date) -> str:
    return (f"no profile for customer '{customer_id}' in the snapshot of {as_of}: the id "
            "is unknown, or the customer was not in the rulebook's population then")


# -- the app ------------------------------------------------------------------------------
DESCRIPTION = """
Customer profiles, segments, the dictionary of terms, runs and re-evaluation over one
clientlens workspace.

**Auth**: `Authorization: Bearer <token>` (create one with `clientlens token add USER
--role ROLE`). Roles: viewer, analyst, marketing, security_officer, admin.

Every request but `/health` and these docs is authenticated before its body is read;
bodies over 64 KiB are refused (413).

**Field policy**: the security service's data and the security rating are shown to
security_officer and admin only; personal data (customers table: name, birth date,
declared income, car, home, document, phone, city) to analyst and admin only. Anything
computed from them, however indirectly (terms, rating factors, scores, grades and
reasons, explanation conditions, services, entitlements, recommendations, a segment a
rule over them decided) is withheld with them. Other roles get the answer without those
fields and a `withheld` list naming what was removed and who may see it.

**Audit**: every write and every read that shows sensitive fields is recorded in the
application database's audit log (never tokens).
"""


def create_app(workspace: str | Path, tokens: dict | None = None, *,
               token_ttl: float = 1.0, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    """The API over ``workspace``. ``tokens`` (raw token or its SHA-256 -> {user, role})
    replaces the application database's tokens, for tests and benches. A revoked token
    stops working within ``token_ttl`` seconds; bodies over ``max_body`` bytes get 413."""
    from clientlens.platform.files import use_private_umask
    from clientlens.services.profiling.entitlements import held_entitlements
    from clientlens.services.profiling.explain import explain_customer, stored_summary
    from clientlens.services.profiling.history import snapshot_on
    from clientlens.services.profiling.segmentation import profile_row, segment_summary
    from clientlens.services.workspace import jobs

    # Started without the CLI (uvicorn --factory, a test): files the service makes
    # (SQLite's -wal, DuckDB's spill) stay private all the same.
    use_private_umask()
    install_redaction()
    backend = Backend(Path(workspace), tokens, token_ttl)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the latest snapshot is loaded while the service already answers /health
        backend.warming = threading.Thread(target=backend.warm, daemon=True,
                                           name="clientlens-warm")
        backend.warming.start()
        yield
        backend.close()

    app = FastAPI(
        lifespan=lifespan,
        title="clientlens API", version="1", description=DESCRIPTION,
        openapi_tags=[{"name": "customers", "description": "Profiles and re-evaluation."},
                      {"name": "segments", "description": "Segment summaries."},
                      {"name": "dictionary", "description": "The glossary's terms."},
                      {"name": "runs", "description": "Segmentation runs."},
                      {"name": "referrals", "description": "Member-get-member: programmes, "
                       "invitation codes, registrations, qualifying facts, points and the "
                       "funnel."},
                      {"name": "service", "description": "Health."}])
    app.state.backend = backend
    app.state.tokens_known = backend.tokens.known

    # errors: one JSON shape, never a 500 for a user error
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(_body(e.error, e.message), status_code=e.status, headers=e.headers)

    @app.exception_handler(ClientlensError)
    async def _user_error(_req: Request, e: ClientlensError) -> JSONResponse:
        for kind, status, name in ERROR_STATUS:
            if isinstance(e, kind):
                return JSONResponse(_body(name, str(e)), status_code=status)
        return JSONResponse(_body("bad_request", str(e)), status_code=400)  # pragma: no cover

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, e: RequestValidationError) -> JSONResponse:
        detail = [{"where": ".".join(str(p) for p in err.get("loc", ())),
                   "problem": err.get("msg", "")} for err in e.errors()]
        message = "; ".join(f"{d['where']}: {d['problem']}" for d in detail) or "invalid request"
        return JSONResponse(_body("invalid_request", message, detail), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, e: StarletteHTTPException) -> JSONResponse:
        name = {404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large"}.get(e.status_code, "http_error")
        return JSONResponse(_body(name, str(e.detail)), status_code=e.status_code,
                            headers=getattr(e, "headers", None))

    # The last added runs first: the log sees every request, the guard runs before any
    # route (and so before any body is read).
    app.add_middleware(Guard, authenticate=backend.authenticate, max_body=max_body,
                       too_large=lambda: PayloadTooLarge(max_body))
    app.add_middleware(RequestLog)

    bearer = HTTPBearer(auto_error=False, description="A token from `clientlens token add`.")

    # Dependencies are coroutines: they only read memory, and a plain function would
    # cost a hop through the thread pool on every request. The token was checked by the
    # Guard before the route ran; ``bearer`` puts the scheme in the OpenAPI spec.
    async def principal(request: Request,
                        _creds: Annotated[HTTPAuthorizationCredentials | None,
                                          Depends(bearer)]) -> TokenHolder:
        who = request.scope.get(SCOPE_KEY)
        if who is None:  # pragma: no cover - the Guard answers first
            raise ApiError(401, "unauthorized", "missing bearer token: send "
                           "'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"})
        return who

    def allowed(permission: str) -> Callable[..., TokenHolder]:
        roles = ROLE_PERMISSIONS[permission]

        async def check(request: Request,
                        who: Annotated[TokenHolder, Depends(principal)]) -> TokenHolder:
            if who.role not in roles:
                if permission.endswith((":write", ":reevaluate")):
                    await run_in_threadpool(backend.audit, who, permission,
                                            request.url.path, outcome="denied")
                raise ApiError(403, "forbidden", f"role '{who.role}' may not {permission}; "
                               f"allowed: {', '.join(sorted(roles))}")
            return who

        return check

    AsOf = Annotated[dt.date | None, Query(description="As-of date, YYYY-MM-DD; default: "
                                           "the latest snapshot.")]
    CustomerId = Annotated[str, PathParam(description="The bank's customer id.",
                                          min_length=1, max_length=64)]

    # -- customers
    def _profile(engine: Any, who: TokenHolder, customer_id: str, as_of: dt.date | None,
                 explain: bool = True) -> tuple[dict, list[str]]:
        note = None
        if as_of is None:
            as_of = backend.latest(engine)
        else:
            day = snapshot_on(engine, as_of)
            if day is None:
                raise NotFoundError(f"no snapshot on or before {as_of}")
            if day != as_of:
                note = f"no run on {as_of}; explained from the snapshot of {day}"
                as_of = day
        row, held = backend.stored(engine, customer_id, as_of)
        if row is None and as_of != backend.latest(engine):
            row = profile_row(engine, customer_id, as_of)
        if row is None:
            # The same answer for an unknown id, one registered later and one outside the
            # population, with no "did you mean": the service neither confirms that an id
            # exists nor suggests other customers' ids, and a miss costs no scan.
            raise NotFoundError(no_profile(customer_id, as_of))
        defs, compiled = backend.definitions_for(row.get("rulebook_version"))
        x = None if explain else stored_summary(defs, compiled, customer_id, as_of, row)
        if x is None:
            try:
                x = explain_customer(engine, defs, customer_id, as_of, compiled=compiled,
                                     stored_row=row)
            except NotFoundError:
                raise NotFoundError(no_profile(customer_id, as_of)) from None
        if held is None:
            held = held_entitlements(engine, customer_id, as_of)
        w = backend.withholding(who.role, defs)
        personal = _personal(engine, customer_id) if _sees(who.role, "personal") else None
        p = profile_dict(x, defs, held, personal)
        if not explain:
            p["explanation"] = None
        if note:
            p["note"] = f"{note}; {p['note']}" if p["note"] else note
        return apply_policy(p, w)

    @app.get("/customers/{customer_id}/profile", response_model=Profile, tags=["customers"],
             summary="A customer's stored profile with its explanation",
             responses={**ERRORS, **NOT_FOUND})
    async def get_profile(customer_id: CustomerId,
                          who: Annotated[TokenHolder, Depends(allowed("profile:read"))],
                          as_of: AsOf = None,
                          explain: Annotated[bool, Query(description=(
                              "Include the why: rule traces, rating factors and service "
                              "conditions. `false` gives the stored decisions only, "
                              "about twice as fast."))] = True) -> Response:
        """The profile stored for the snapshot on (or the newest before) `as_of`: segment,
        phase, need, ratings, recommendations, services and entitlements, and why. Fields
        your role may not see are removed and listed in `withheld`."""
        _check_date(as_of)
        if as_of is None and backend.in_memory(who.role):
            # The latest snapshot is in memory and the role sees nothing to audit: no
            # I/O, so answer on the event loop rather than through the thread pool.
            body = _lookup(who, customer_id, None, explain)
        else:
            body = await run_in_threadpool(_lookup, who, customer_id, as_of, explain)
        return Response(body, media_type="application/json")

    def _lookup(who: TokenHolder, customer_id: str, as_of: dt.date | None,
                explain: bool = True) -> bytes:
        with backend.engine() as engine:
            p, shown = _profile(engine, who, customer_id, as_of, explain)
        if shown:
            backend.audit(who, "profile.read", f"customer/{customer_id}",
                          {"as_of": p["as_of"], "sensitive_shown": shown})
        # Serialized directly: the shape is Profile's (tests validate answers against
        # it), and skipping the response model's validation halves a lookup's cost.
        return json_bytes(p)

    @app.post("/customers/{customer_id}/reevaluate", response_model=Reevaluation,
              tags=["customers"],
              summary="Recompute one customer now from the warehouse and record it",
              responses={**ERRORS, **NOT_FOUND, 409: {
                  "model": ErrorBody, "description": "The customer is being re-evaluated "
                                                     "by others right now; try again."}})
    def reevaluate(customer_id: CustomerId,
                   who: Annotated[TokenHolder, Depends(allowed("customer:reevaluate"))],
                   body: ReevaluationRequest | None = None,
                   as_of: AsOf = None,
                   idempotency_key: Annotated[str | None, Header(
                       description="The same key (and request) returns the first answer "
                                   "and records nothing again.", max_length=200)] = None
                   ) -> Response:
        """Computes the customer's terms from the warehouse as of `as_of` (default: the
        latest snapshot's date), applies the current rulebook in-process and compares the
        result with the latest recorded state: the newest snapshot on or before `as_of`,
        or the latest re-evaluation recorded since that snapshot. The re-evaluation is
        recorded (`GET /customers/{id}/reevaluations`) with the cause in the body, and
        entitlement changes (granted, grace_started, revoked) only when the services held
        change. The nightly run stays authoritative: it does not read re-evaluations."""
        from clientlens.services.relationship import reevaluation as rv

        _check_date(as_of)
        reason, note = (body.reason, body.note) if body else (None, None)
        w = backend.withholding(who.role)

        def respond(rec: Any, x: Any) -> dict:
            personal = _personal(engine, customer_id) if _sees(who.role, "personal") else None
            return police_reevaluation(jsonable({
                "reevaluation_id": rec.reevaluation_id, "recorded": True, "replayed": False,
                "profile": profile_dict(x, backend.defs, rec.held, personal),
                "compared_with": rec.compared_with,
                "compared_with_reevaluation": rec.basis_id,
                "previous_segment": rec.before["segment"],
                "previous_phase": rec.before["phase"], "previous_need": rec.before["need"],
                "segment_changed": rec.segment_changed,
                "changes": [{"service": e["service"], "change": e["event"],
                             "kept_until": e["kept_until"], "reason": e["reason"],
                             "source": "reevaluation"} for e in rec.events],
                "reason": rec.reason, "note": rec.note}), w)

        try:
            with backend.engine() as engine:
                if not engine.fetch_all("select count(*) from customers where customer_id = ?",
                                        [customer_id])[0][0]:
                    # no "did you mean": the service does not suggest other customers' ids
                    raise NotFoundError(f"unknown customer '{customer_id}'")
                try:
                    latest: dt.date | None = backend.latest(engine)
                except NotFoundError:
                    latest = None
                outcome = rv.reevaluate(
                    engine, backend.db, backend.defs, customer_id, as_of,
                    requested_by=who.user, role=who.role, via="api",
                    compiled=backend.compiled, reason=reason, note=note,
                    idempotency_key=idempotency_key, respond=respond, latest=latest,
                    stored=lambda day: backend.stored(engine, customer_id, day))
        except ClientlensError as e:
            backend.audit(who, "customer.reevaluate", f"customer/{customer_id}",
                          {"as_of": as_of, "error": str(e)}, outcome="error")
            code = getattr(e, "code", None)
            if code == "idempotency_conflict":
                raise ApiError(422, code, str(e)) from None
            if code == "busy":
                raise ApiError(409, code, str(e)) from None
            raise
        rec = outcome.record
        if outcome.response is None:  # pragma: no cover - a key is kept with its answer
            raise ApiError(409, "idempotency_conflict", "the first request with this "
                           "Idempotency-Key has no answer kept; use a new key")
        backend.audit(who, "customer.reevaluate", f"customer/{customer_id}",
                      {"as_of": rec.as_of, "reevaluation_id": rec.reevaluation_id,
                       "segment": rec.after["segment"],
                       "previous_segment": rec.before["segment"],
                       "changes": [(e["service"], e["event"]) for e in rec.events],
                       "reason": rec.reason, "replayed": rec.replayed,
                       "sensitive_shown": list(w.visible_categories)})
        # A replayed answer was made for this user, but the token's role may have
        # changed since: the policy is applied again.
        answer = {**police_reevaluation(outcome.response, w), "replayed": rec.replayed}
        return Response(json_bytes(answer), media_type="application/json")

    @app.get("/customers/{customer_id}/reevaluations", response_model=ReevaluationList,
             tags=["customers"], summary="A customer's recorded re-evaluations",
             responses=ERRORS)
    def reevaluations(customer_id: CustomerId,
                      who: Annotated[TokenHolder, Depends(allowed("customer:reevaluate"))],
                      limit: Annotated[int, Query(ge=1, le=1000, description="At most this "
                                                  "many, newest first.")] = 50
                      ) -> ReevaluationList:
        """Every recorded re-evaluation of the customer, newest first: who, how, when,
        as-of, the cause, segment/phase/need before and after, the entitlement changes
        (source `reevaluation`) and the services held after it. `superseded_by` names the
        nightly run after the snapshot it was compared with."""
        from clientlens.services.relationship import reevaluation as rv

        with backend.engine() as engine:
            found = rv.list_reevaluations(backend.db, customer_id, limit=limit,
                                          engine=engine)
        # Records may come from other rulebooks: no first-match value is shown when the
        # current definitions would withhold some of that decision's values.
        w = backend.withholding(who.role)
        records, removed = redact(jsonable([{
                **{k: getattr(r, k) for k in (
                    "reevaluation_id", "customer_id", "as_of", "compared_with",
                    "superseded_by", "rulebook_version", "requested_by", "role", "via",
                    "requested_at", "reason", "note", "before", "after", "held")},
                "compared_with_reevaluation": r.basis_id,
                "changes": [{"service": e["service"], "change": e["event"],
                             "kept_until": e["kept_until"], "reason": e["reason"]}
                            for e in r.events]} for r in found]), w.strict())
        return ReevaluationList.model_validate({
            "customer_id": customer_id, "reevaluations": records,
            "withheld": withheld_list(w, removed)})

    # -- segments and dictionary
    @app.get("/segments", response_model=SegmentSummary, tags=["segments"],
             summary="Customers and mean balances per segment",
             responses={**ERRORS, **NOT_FOUND})
    def segments(who: Annotated[TokenHolder, Depends(allowed("segments:read"))],
                 as_of: AsOf = None) -> SegmentSummary:
        """The segment table of a stored run (default: the latest), in rulebook order."""
        _check_date(as_of)
        with backend.engine() as engine:
            day = as_of or backend.latest(engine)
            rows = segment_summary(engine, backend.defs, day,
                                   money_unit=backend.ws.settings.base_currency)
        # Counts are aggregates, shown to every role; means of withheld terms are not.
        hidden = backend.withholding(who.role).hidden
        return SegmentSummary.model_validate(jsonable({
            "as_of": day, "segments": [
                {**r.__dict__, "means": {k: v for k, v in r.means.items() if k not in hidden}}
                for r in rows]}))

    @app.get("/dictionary", response_model=Dictionary, tags=["dictionary"],
             summary="The dictionary of terms", responses=ERRORS)
    def dictionary(_who: Annotated[TokenHolder, Depends(allowed("dictionary:read"))]
                   ) -> Dictionary:
        """Every glossary term: name, type, unit, kind, definition, description and labels
        in English, Russian and Bulgarian."""
        defs = backend.defs
        return Dictionary(rulebook_version=defs.version, terms=[
            TermOut(name=t.name, type=str(t.type.value if hasattr(t.type, "value") else t.type),
                    unit=t.unit or "", kind=t.kind, definition=t.definition_text(),
                    description=t.description or "",
                    labels={"en": t.labels.en, "ru": t.labels.ru, "bg": t.labels.bg})
            for t in defs.terms.values()])

    # -- runs
    def _run(state: RunState) -> None:
        from clientlens.services.workspace import runs

        def save(**fields: Any) -> None:
            try:
                runs.update(backend.db, state.run_id, **fields)
            except Exception:  # the app DB is gone: the log has it, the row says running
                log.exception("run %s: cannot record %s", state.run_id, fields.get("status"))

        save(status="running", stage="segmenting", progress=0.1,
             started_at=dt.datetime.now(dt.UTC))
        try:
            result = jobs.run(backend.root, state.as_of, record=False)
            save(status="succeeded", stage="done", progress=1.0, as_of=result.as_of,
                 result=runs.result_summary(result), finished_at=dt.datetime.now(dt.UTC))
        except ClientlensError as e:
            save(status="failed", stage="failed", error=str(e),
                 finished_at=dt.datetime.now(dt.UTC))
        except Exception as e:  # a bug: keep the traceback in the log, not in the response
            log.exception("run %s failed", state.run_id)
            save(status="failed", stage="failed",
                 error=f"internal error ({type(e).__name__}); see the server log",
                 finished_at=dt.datetime.now(dt.UTC))
        finally:
            backend.forget_snapshot()

    @app.post("/runs", response_model=RunStatus, status_code=202, tags=["runs"],
              summary="Start a segmentation run in the background",
              responses={**ERRORS, 409: {"model": ErrorBody,
                                         "description": "A run is already in progress."}})
    def start_run(who: Annotated[TokenHolder, Depends(allowed("runs:write"))],
                  body: RunRequest | None = None,
                  idempotency_key: Annotated[str | None, Header(
                      description="The same key returns the same run, also after a "
                                  "restart.", max_length=200)
                  ] = None) -> RunStatus:
        """Segments every customer for `as_of` and stores the snapshot, one run at a
        time. Poll `GET /runs/{run_id}` for its status and result. The run is recorded
        in the application database."""
        from clientlens.services.workspace import runs

        as_of = _check_date(body.as_of if body else None)
        with backend._runs_lock:
            for known in list(backend.runs.values()):
                if known.thread is not None and not known.thread.is_alive():
                    runs.close_if_active(backend.db, known.run_id,
                                         "internal error: the run's thread stopped")
            try:
                rec, replayed = runs.begin(backend.db, as_of=as_of, requested_by=who.user,
                                           via="api", idempotency_key=idempotency_key)
            except runs.RunConflict as e:
                if e.code == "run_in_progress":
                    backend.audit(who, "run.start", "runs", {"as_of": as_of},
                                  outcome="conflict")
                    raise ApiError(409, "run_in_progress", str(e)) from None
                raise ApiError(422, e.code, str(e)) from None
            if replayed:
                return RunState.out(rec)
            state = RunState(run_id=rec.run_id, as_of=as_of)
            backend.runs[state.run_id] = state
            state.thread = threading.Thread(target=_run, args=(state,), daemon=True,
                                            name=f"clientlens-run-{state.run_id[:8]}")
            backend.audit(who, "run.start", f"runs/{state.run_id}",
                          {"as_of": as_of, "idempotency_key": idempotency_key is not None})
            state.thread.start()
        return RunState.out(rec)

    @app.get("/runs/{run_id}", response_model=RunStatus, tags=["runs"],
             summary="A run's status, progress and result", responses={**ERRORS, **NOT_FOUND})
    def get_run(run_id: Annotated[str, PathParam(max_length=64)],
                _who: Annotated[TokenHolder, Depends(allowed("runs:read"))]
                ) -> RunStatus:
        """Runs are recorded in the application database, with those started by
        `clientlens run`: a run outlives a restart of the service, and one whose process
        stopped before it finished is reported failed, with stage `interrupted`."""
        from clientlens.services.workspace import runs

        return RunState.out(runs.get_run(backend.db, run_id))

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness")
    def health() -> Health:
        """No auth; does not touch the warehouse."""
        return Health(status="ok")

    from clientlens.faces.api_referrals import add_referral_routes

    add_referral_routes(app, backend, allowed)
    return app
