"""FastAPI dependencies, as ``Annotated`` aliases a route names in its signature.

* ``Principal``: who sent the request. The token was checked by the guard
  (``platform/http_guard.py``) before any route ran; ``bearer`` only puts the scheme
  in the OpenAPI spec.
* One alias per permission (``ProfileReader``, ``RunWriter``, ...): the principal,
  if their role holds it (``platform/access.py``), else 403 (a denied write is
  audited).
* ``BackendDep``, ``AppDB``, ``Warehouse``: the app's state (``state.Backend``), its
  application database, and the warehouse opener (``with warehouse() as engine``,
  in the thread that uses it: a DuckDB cursor is per thread).
* ``AsOf`` and ``CustomerId``: the parameters most routes share.

Dependencies are coroutines: they only read memory, and a plain function would cost
a hop through the thread pool on every request.
"""

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from clientlens.faces.http.errors import ApiError
from clientlens.faces.http.state import Backend
from clientlens.platform.access import ROLE_PERMISSIONS, TokenHolder
from clientlens.platform.http_guard import SCOPE_KEY

bearer = HTTPBearer(auto_error=False, description="A token from `clientlens token add`.")


async def backend(request: Request) -> Backend:
    return request.app.state.backend


BackendDep = Annotated[Backend, Depends(backend)]


async def app_db(request: Request) -> Any:
    return request.app.state.backend.db


async def warehouse(request: Request) -> Callable[[], AbstractContextManager[Any]]:
    return request.app.state.backend.engine


AppDB = Annotated[Any, Depends(app_db)]
Warehouse = Annotated[Callable[[], AbstractContextManager[Any]], Depends(warehouse)]


async def principal(request: Request,
                    _creds: Annotated[HTTPAuthorizationCredentials | None,
                                      Depends(bearer)]) -> TokenHolder:
    who = request.scope.get(SCOPE_KEY)
    if who is None:  # pragma: no cover - the Guard answers first
        raise ApiError(401, "unauthorized", "missing bearer token: send "
                       "'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"})
    return who


Principal = Annotated[TokenHolder, Depends(principal)]


def allowed(permission: str) -> Callable[..., Any]:
    """A dependency: the principal, if their role holds ``permission``."""
    roles = ROLE_PERMISSIONS[permission]

    async def check(request: Request, who: Principal) -> TokenHolder:
        if who.role not in roles:
            if permission.endswith((":write", ":reevaluate")):
                await run_in_threadpool(request.app.state.backend.audit, who, permission,
                                        request.url.path, outcome="denied")
            raise ApiError(403, "forbidden", f"role '{who.role}' may not {permission}; "
                           f"allowed: {', '.join(sorted(roles))}")
        return who

    return check


ProfileReader = Annotated[TokenHolder, Depends(allowed("profile:read"))]
SegmentsReader = Annotated[TokenHolder, Depends(allowed("segments:read"))]
DictionaryReader = Annotated[TokenHolder, Depends(allowed("dictionary:read"))]
RunWriter = Annotated[TokenHolder, Depends(allowed("runs:write"))]
RunReader = Annotated[TokenHolder, Depends(allowed("runs:read"))]
Reevaluator = Annotated[TokenHolder, Depends(allowed("customer:reevaluate"))]
ReferralReader = Annotated[TokenHolder, Depends(allowed("referrals:read"))]
ReferralWriter = Annotated[TokenHolder, Depends(allowed("referrals:write"))]
PointsWriter = Annotated[TokenHolder, Depends(allowed("points:write"))]
DefinitionsReader = Annotated[TokenHolder, Depends(allowed("definitions:read"))]

AsOf = Annotated[dt.date | None, Query(description="As-of date, YYYY-MM-DD; default: "
                                       "the latest snapshot.")]
CustomerId = Annotated[str, PathParam(description="The bank's customer id.",
                                      min_length=1, max_length=64)]
