"""The HTTP API (FastAPI) over one workspace: ``create_app(workspace)``.

The app: middleware, error handlers and the routers (``routers/``, one per resource),
over one ``state.Backend``; dependencies in ``deps.py``, models in ``schemas.py``.

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
thread pool (``routers/profiles.py``).
"""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from clientlens.faces import console
from clientlens.faces.http import errors
from clientlens.faces.http.errors import PayloadTooLarge
from clientlens.faces.http.routers import (
    definitions,
    dictionary,
    health,
    local,
    profiles,
    reevaluation,
    referrals,
    runs,
    segments,
)
from clientlens.faces.http.state import Backend
from clientlens.platform.http_guard import MAX_BODY_BYTES, Guard, RequestLog, install_redaction

#: The routers in the order of the spec's paths.
ROUTERS = (profiles.router, reevaluation.router, segments.router, dictionary.router,
           runs.router, health.router, referrals.router, definitions.router, local.router)

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
               token_ttl: float = 1.0, max_body: int = MAX_BODY_BYTES,
               local_token: str | None = None) -> FastAPI:
    """The API over ``workspace``. ``tokens`` (raw token or its SHA-256 -> {user, role})
    replaces the application database's tokens, for tests and benches. A revoked token
    stops working within ``token_ttl`` seconds; bodies over ``max_body`` bytes get 413.
    ``local_token``: the service file's token (``platform/service_file.py``), an admin
    of this machine's user, known to this process only."""
    from clientlens.platform.files import use_private_umask

    # Started without the CLI (uvicorn --factory, a test): files the service makes
    # (SQLite's -wal, DuckDB's spill) stay private all the same.
    use_private_umask()
    install_redaction()
    backend = Backend(Path(workspace), tokens, token_ttl, local_token)

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
    app.state.tokens_known = backend.api_tokens_known
    errors.install(app)
    # The last added runs first: the log sees every request, the guard runs before any
    # route (and so before any body is read).
    app.add_middleware(Guard, authenticate=backend.authenticate, max_body=max_body,
                       too_large=lambda: PayloadTooLarge(max_body),
                       own_sign_in=console.is_console)
    app.add_middleware(RequestLog)
    for router in ROUTERS:
        app.include_router(router)
    console.install(app)  # the staff console at / (faces/console)
    return app
