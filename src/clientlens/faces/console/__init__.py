"""The staff console: server-rendered pages (Jinja2 templates in
``faces/templates/console``, htmx for partial updates, Apache ECharts for charts)
served by the same service as the API, at ``/`` beside it.

A face over the services like the CLI and the API: it adds no business rule. Staff
sign in with a browser session (``auth.py``, ``platform/staff.py``); roles, the field
policy and the audit log are the API's (``platform/``). ``web.py`` holds what every
page shares (templates, session, anti-forgery check, language, headers, error page),
``pages/`` one module per page. JavaScript comes from the npm packages, vendored under
``faces/static/vendor`` and pinned by SHA-256 (``scripts/vendor-js``); nothing is
fetched at run time.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientlens.faces.console import auth, oidc, web
from clientlens.faces.console.pages import (
    customer,
    definitions,
    dictionary,
    lists,
    migrations,
    overview,
    referrals,
)
from clientlens.model.errors import ClientlensError

#: Paths the console answers itself (its own sign-in, not the API's bearer token).
PUBLIC_PREFIXES = (web.PREFIX + "/", "/static/")
PUBLIC_PATHS = frozenset({"/", web.PREFIX})
ROUTERS = (auth.router, oidc.router, overview.router, migrations.router, customer.router,
           lists.router, referrals.router, dictionary.router, definitions.router)


def is_console(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def install(app: FastAPI) -> None:
    """Add the console's routes, static files and HTML error pages to ``app``."""
    static = files("clientlens.faces") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", include_in_schema=False)
    @app.get(web.PREFIX, include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse(f"{web.PREFIX}/overview", status_code=303)

    for router in ROUTERS:
        app.include_router(router)
    _html_errors(app)


def _html_errors(app: FastAPI) -> None:
    """Errors on a console path as pages; elsewhere the API's JSON, unchanged."""
    from clientlens.faces.http.errors import status_of

    def wrap(kind: type[Exception], html: Any) -> None:
        api = app.exception_handlers.get(kind)

        async def handler(request: Request, e: Exception) -> Response:
            if is_console(request.url.path) and not request.url.path.startswith("/static/"):
                return await html(request, e)
            if api is None:  # pragma: no cover - every kind wrapped has an API handler
                raise e
            return await api(request, e)

        app.add_exception_handler(kind, handler)

    async def page_error(request: Request, e: web.PageError) -> Response:
        return web.error_page(request, e.status, e.message, e.key)

    async def sign_in(request: Request, _e: web.SignInNeeded) -> Response:
        return web.to_sign_in(request)

    async def domain(request: Request, e: ClientlensError) -> Response:
        status, _name = status_of(e)
        return web.error_page(request, status, str(e),
                              "not_found" if status == 404 else "error")

    async def invalid(request: Request, e: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(x) for x in err.get('loc', ())[1:])}: "
                             f"{err.get('msg', '')}" for err in e.errors())
        return web.error_page(request, 400, problems or "invalid request")

    async def http(request: Request, e: StarletteHTTPException) -> Response:
        return web.error_page(request, e.status_code, str(e.detail),
                              "not_found" if e.status_code == 404 else "error")

    app.add_exception_handler(web.PageError, page_error)
    app.add_exception_handler(web.SignInNeeded, sign_in)
    wrap(ClientlensError, domain)
    wrap(RequestValidationError, invalid)
    wrap(StarletteHTTPException, http)
