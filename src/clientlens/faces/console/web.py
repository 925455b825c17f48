"""What every console page shares: the templates, the signed-in staff member, the
anti-forgery check, the language, the security headers and the error page.

* Templates: Jinja2 under ``faces/templates/console/`` with autoescaping; chart data
  goes into the page as JSON (``tojson`` escapes ``<``, ``>`` and ``&``) and is drawn
  by ``static/console.js``: no inline script, so the Content-Security-Policy allows
  scripts from the service itself only.
* ``Staff``: the session cookie (``clientlens_session``: HttpOnly, SameSite=Strict,
  Secure over HTTPS) looked up in the application database (``platform/staff.py``);
  without one a page redirects to the sign-in form (htmx gets ``HX-Redirect``).
* Writes: every POST carries the session's anti-forgery token (form field ``csrf`` or
  header ``X-CSRF-Token``, which htmx sends) and, when the browser names one, an
  ``Origin`` equal to the service's own; anything else is refused with 403 and audited.
* Errors: a page that cannot be shown (unknown customer, a date out of range, a
  malformed filter) is an HTML page with the message and a 4xx status, never a trace.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from clientlens.faces.console import i18n
from clientlens.platform.access import may
from clientlens.platform.staff import StaffSession, session_for

SESSION_COOKIE = "clientlens_session"
LANG_COOKIE = "clientlens_lang"
PREFIX = "/console"
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin: the browser then sends Origin on the console's own form posts (with
    # no-referrer it sends "Origin: null", which the anti-forgery check refuses)
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class PageError(Exception):
    """A page that cannot be shown as asked: rendered as the error page."""

    def __init__(self, status: int, message: str, key: str = "error") -> None:
        super().__init__(message)
        self.status, self.message, self.key = status, message, key


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in form."""


def _number(value: Any, digits: int = 0, lang: str = "en") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        text = f"{float(value):,.{digits}f}" if not isinstance(value, int) or digits else \
            f"{value:,}"
        if lang in ("ru", "bg"):  # 1 234 567,89
            text = text.replace(",", "\u00a0").replace(".", ",")
        return text
    return str(value)


def _percent(value: Any, lang: str = "en") -> str:
    if value is None:
        return "—"
    text = f"{float(value) * 100:.1f}"
    return (text.replace(".", ",") if lang in ("ru", "bg") else text) + "\u00a0%"


_env = Environment(loader=PackageLoader("clientlens.faces", "templates/console"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)
_env.filters["num"] = _number
_env.filters["pct"] = _percent
_env.policies["json.dumps_function"] = lambda obj, **kw: json.dumps(
    obj, default=str, ensure_ascii=False, **kw)


@dataclass(frozen=True)
class Page:
    """The request's context every template gets."""

    request: Request
    staff: StaffSession
    lang: str

    @property
    def t(self) -> Mapping[str, str]:
        return i18n.words(self.lang)

    def may(self, permission: str) -> bool:
        return may(self.staff.role, permission)

    def label(self, labels: Any, fallback: str = "") -> str:
        """A definition's label in the page's language."""
        if labels is None:
            return fallback
        got = labels.get(self.lang) if hasattr(labels, "get") else getattr(labels, self.lang,
                                                                           None)
        return got or fallback


def language(request: Request) -> str:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                     request.headers.get("accept-language"))


async def staff(request: Request) -> StaffSession:
    from fastapi.concurrency import run_in_threadpool

    backend = request.app.state.backend
    found = await run_in_threadpool(session_for, backend.db,
                                    request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise SignInNeeded()
    return found


async def page(request: Request, who: Annotated[StaffSession, Depends(staff)]) -> Page:
    return Page(request, who, language(request))


PageDep = Annotated[Page, Depends(page)]


def needs(p: Page, permission: str) -> None:
    """Refuse the page (403) unless the staff member's role holds ``permission``."""
    if not p.may(permission):
        p.request.app.state.backend.audit(p.staff.holder, permission, p.request.url.path,
                                          outcome="denied")
        raise PageError(403, i18n.words(p.lang)["forbidden"], "forbidden")


def check_write(request: Request, who: StaffSession, form_token: str | None) -> None:
    """The anti-forgery check for a write (see the module docstring)."""
    sent = form_token or request.headers.get("x-csrf-token") or ""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if not hmac.compare_digest(sent.encode(), who.csrf.encode()) or (
            origin is not None and origin != own):
        request.app.state.backend.audit(who.holder, "console.write", request.url.path,
                                        {"origin": origin}, outcome="forged")
        raise PageError(403, "this form was not sent from the console's own page "
                        "(anti-forgery check failed); reload the page and try again",
                        "refused")


def render(p: Page | None, template: str, status: int = 200, *, request: Request | None = None,
           lang: str | None = None, **context: Any) -> HTMLResponse:
    request = request or (p.request if p else None)
    lang = lang or (p.lang if p else "en")
    body = _env.get_template(template).render(
        page=p, t=i18n.words(lang), lang=lang, languages=i18n.LANGUAGE_NAMES,
        path=request.url.path if request else "", query=dict(request.query_params)
        if request else {}, **context)
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    if request is not None and request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
    return response


def error_page(request: Request, status: int, message: str, key: str = "error") -> Response:
    lang = language(request)
    return render(None, "error.html", status, request=request, lang=lang,
                  title=i18n.words(lang).get(key, key), message=message)


def to_sign_in(request: Request) -> Response:
    target = f"{PREFIX}/login"
    if request.url.path not in (target, PREFIX, f"{PREFIX}/", "/"):
        from urllib.parse import quote

        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(nxt, safe='')}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def parse_date(value: str | None, name: str) -> dt.date | None:
    """A date from a query parameter, or a 400 page naming it."""
    if value in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise PageError(400, f"{name}: '{value[:40]}' is not a date (YYYY-MM-DD)") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise PageError(400, f"{name}: {day} is outside {MIN_DATE}..{MAX_DATE}")
    return day


def parse_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise PageError(400, f"{name}: '{value[:40]}' is not a whole number") from None
    if not low <= number <= high:
        raise PageError(400, f"{name}: {number} is outside {low}..{high}")
    return number


def choice(value: str | None, name: str, allowed: list[str] | tuple[str, ...],
           default: str | None = None) -> str | None:
    if value in (None, ""):
        return default
    if value not in allowed:
        raise PageError(400, f"{name}: '{value[:40]}' is not one of {', '.join(allowed)}")
    return value
