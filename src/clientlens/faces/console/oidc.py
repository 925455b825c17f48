"""Console sign-in through the bank's OpenID Connect provider (authorization code flow
with PKCE), when the workspace configures one (``oidc_issuer``, ``oidc_client_id``,
``oidc_client_secret``, ``oidc_role_claim``, ``oidc_roles``; docs/console.md).

1. ``/console/oidc/start`` keeps a random state, nonce and PKCE verifier for ten
   minutes (in this process) and sends the browser to the provider.
2. ``/console/oidc/callback`` takes the code back, checks the state, exchanges the
   code (with the client secret and the verifier) at the provider's token endpoint,
   and checks the ID token's signature against the provider's published keys
   (joserfc), its issuer, audience, expiry and nonce.
3. The role is the first clientlens role that a value of the role claim maps to
   (``oidc_roles``); a user with none is refused. The user is made on the first
   sign-in (``platform/staff.py``, ``sign_in_sso``) and then gets the same session,
   field policy and audit as a local user.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from clientlens.faces.console import web
from clientlens.faces.console.auth import _safe_next
from clientlens.platform.access import ROLES

router = APIRouter(prefix=web.PREFIX + "/oidc", include_in_schema=False)
PENDING_SECONDS = 600
TIMEOUT = 10.0


@dataclass(frozen=True)
class Pending:
    nonce: str
    verifier: str
    next: str
    at: float


class Provider:
    """The provider's endpoints and keys (read once, keys again on an unknown key id)
    and the sign-ins under way."""

    def __init__(self, settings: Any) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.secret = settings.oidc_client_secret
        self.role_claim = settings.oidc_role_claim
        self.name_claim = settings.oidc_name_claim
        self.roles = dict(settings.oidc_roles)
        self._meta: dict[str, Any] | None = None
        self._keys: Any = None
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    async def meta(self) -> dict[str, Any]:
        if self._meta is None:
            async with httpx.AsyncClient(timeout=TIMEOUT) as c:
                answer = await c.get(f"{self.issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                meta = answer.json()
            if meta.get("issuer", "").rstrip("/") != self.issuer:
                raise web.PageError(502, "the sign-in provider's discovery document names "
                                    "another issuer", "error")
            self._meta = meta
        return self._meta

    async def keys(self, refresh: bool = False) -> Any:
        from joserfc.jwk import KeySet

        if self._keys is None or refresh:
            async with httpx.AsyncClient(timeout=TIMEOUT) as c:
                answer = await c.get((await self.meta())["jwks_uri"])
                answer.raise_for_status()
                self._keys = KeySet.import_key_set(answer.json())
        return self._keys

    def remember(self, state: str, pending: Pending) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, v in self._pending.items() if now - v.at > PENDING_SECONDS]:
                del self._pending[key]
            self._pending[state] = pending

    def take(self, state: str) -> Pending | None:
        with self._lock:
            found = self._pending.pop(state, None)
        if found is None or time.monotonic() - found.at > PENDING_SECONDS:
            return None
        return found

    def role_of(self, claims: dict[str, Any]) -> str | None:
        values = claims.get(self.role_claim) or []
        if isinstance(values, str):
            values = [values]
        mapped = {self.roles[v] for v in values if isinstance(v, str) and v in self.roles}
        # the most powerful of the roles mapped, in ROLES order from the least
        return max(mapped, key=ROLES.index) if mapped else None


def provider(request: Request) -> Provider:
    backend = request.app.state.backend
    found = getattr(backend, "oidc", None)
    if found is None:
        settings = backend.ws.settings
        if not (settings.oidc_issuer and settings.oidc_client_id
                and settings.oidc_client_secret):
            raise web.PageError(404, "sign-in through the bank's provider is not set up "
                                "for this workspace (oidc_issuer, oidc_client_id, "
                                "CLIENTLENS_OIDC_CLIENT_SECRET)", "not_found")
        found = backend.oidc = Provider(settings)
    return found


def _callback_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{web.PREFIX}/oidc/callback"


@router.get("/start")
async def start(request: Request, next: str | None = None) -> Response:  # noqa: A002
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    p = provider(request)
    meta = await p.meta()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    p.remember(state, Pending(nonce, verifier, _safe_next(next), time.monotonic()))
    query = urlencode({"response_type": "code", "client_id": p.client_id,
                       "redirect_uri": _callback_url(request), "scope": "openid profile",
                       "state": state, "nonce": nonce,
                       "code_challenge": create_s256_code_challenge(verifier),
                       "code_challenge_method": "S256"})
    return RedirectResponse(f"{meta['authorization_endpoint']}?{query}", status_code=303)


@router.get("/callback")
async def callback(request: Request, state: str = "", code: str = "",
                   error: str = "") -> Response:
    from joserfc import jwt
    from joserfc.errors import JoseError

    from clientlens.platform.staff import SignInRefused, sign_in_sso

    p = provider(request)
    if error:
        raise web.PageError(401, f"the sign-in provider refused: {error[:100]}", "refused")
    pending = p.take(state) if state else None
    if pending is None or not code:
        raise web.PageError(400, "this sign-in was not started here or took too long; "
                            "start again", "refused")
    meta = await p.meta()
    async with httpx.AsyncClient(timeout=TIMEOUT) as c:
        answer = await c.post(meta["token_endpoint"], data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": _callback_url(request), "code_verifier": pending.verifier},
            auth=(p.client_id, p.secret))
    if answer.status_code != 200 or "id_token" not in answer.json():
        raise web.PageError(401, "the sign-in provider did not accept the code", "refused")
    id_token = answer.json()["id_token"]
    claims_check = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": p.client_id},
        nonce={"essential": True, "value": pending.nonce},
        sub={"essential": True}, exp={"essential": True})
    try:
        try:
            token = jwt.decode(id_token, await p.keys(), algorithms=["RS256", "ES256"])
        except JoseError:  # perhaps the provider rolled its keys
            token = jwt.decode(id_token, await p.keys(refresh=True),
                               algorithms=["RS256", "ES256"])
        claims_check.validate(token.claims)
    except (JoseError, ValueError) as e:
        raise web.PageError(401, f"the sign-in provider's ID token is not valid "
                            f"({type(e).__name__})", "refused") from None
    claims = token.claims
    role = p.role_of(claims)
    name = str(claims.get(p.name_claim) or claims["sub"])[:100]
    name = "".join(ch if ch.isalnum() or ch in "._@-" else "_" for ch in name) or "sso-user"
    if role is None:
        request.app.state.backend.audit_log.record(
            _Who(name), "console.sign_in", "console",
            {"via": "oidc", "reason": "no mapped role"}, outcome="denied")
        raise web.PageError(403, f"the provider gave no role clientlens knows in the "
                            f"claim '{p.role_claim}'; ask for one of "
                            f"{', '.join(sorted(p.roles)) or '(none configured)'}",
                            "forbidden")
    source = request.client.host if request.client else ""
    try:
        raw, _session = await run_in_threadpool(
            sign_in_sso, request.app.state.backend.db, f"{meta['issuer']}#{claims['sub']}",
            name, role, source=source)
    except SignInRefused as e:
        raise web.PageError(403, str(e), "forbidden") from None
    # This answer ends a navigation that came from the provider's site, so the browser
    # would not send a SameSite=Strict cookie on a redirect from it; a page of our own
    # that moves on starts a navigation from this site, which does.
    response = web.render(None, "signed_in.html", request=request, lang=web.language(
        request), target=pending.next)
    response.set_cookie(web.SESSION_COOKIE, raw, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@dataclass(frozen=True)
class _Who:
    user: str
    role: str = "console"
