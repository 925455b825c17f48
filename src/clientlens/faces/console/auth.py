"""Signing in and out of the console.

The sign-in form is protected against forgery before a session exists by a
double-submit token: a random value in a short-lived HttpOnly, SameSite=Strict cookie
that the form must repeat, plus the ``Origin`` check every console write gets.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from clientlens.faces.console import web
from clientlens.platform.staff import SignInRefused, sign_in, sign_out

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)
LOGIN_COOKIE = "clientlens_login"


def _safe_next(value: str | None) -> str:
    """Only a path of the console itself: never another site (an open redirect)."""
    if value and value.startswith(web.PREFIX + "/") and not value.startswith("//"):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and "\\" not in value:
            return value
    return f"{web.PREFIX}/overview"


def _form(request: Request, status: int = 200, failed: bool = False) -> Response:
    token = secrets.token_urlsafe(32)
    lang = web.language(request)
    response = web.render(None, "login.html", status, request=request, lang=lang,
                          login_token=token, failed=failed, sso=_sso(request),
                          next=_safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_COOKIE, token, max_age=1800, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=web.PREFIX)
    return response


def _sso(request: Request) -> bool:
    """Whether the workspace signs staff in through an OpenID Connect provider."""
    s = request.app.state.backend.ws.settings
    return bool(s.oidc_issuer and s.oidc_client_id and s.oidc_client_secret)


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _form(request)


@router.post("/login")
async def login(request: Request, username: Annotated[str, Form(max_length=128)],
                password: Annotated[str, Form(max_length=1024)],
                login_token: Annotated[str, Form(max_length=128)] = "",
                next: Annotated[str, Form(max_length=2048)] = "") -> Response:  # noqa: A002
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if not cookie or not hmac.compare_digest(cookie.encode(), login_token.encode()) or (
            origin is not None and origin != own):
        raise web.PageError(403, "this sign-in form was not sent from the console's own "
                            "page; reload it and try again", "refused")
    db = request.app.state.backend.db
    source = request.client.host if request.client else ""
    try:
        raw, _session = await run_in_threadpool(sign_in, db, username, password,
                                                source=source)
    except SignInRefused:
        return _form(request, 401, failed=True)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(web.SESSION_COOKIE, raw, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    response.delete_cookie(LOGIN_COOKIE, path=web.PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, p: web.PageDep,
                 csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    web.check_write(request, p.staff, csrf)
    await run_in_threadpool(sign_out, request.app.state.backend.db,
                            request.cookies.get(web.SESSION_COOKIE))
    response = RedirectResponse(f"{web.PREFIX}/login", status_code=303)
    response.delete_cookie(web.SESSION_COOKIE, path="/")
    return response
