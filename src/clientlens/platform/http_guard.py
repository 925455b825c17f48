"""What stands in front of every HTTP request, before any route sees it.

* ``Guard`` (a plain ASGI middleware): the bearer token is checked from the headers
  *before the body is read*, for every path but the public ones (``/health`` and the
  OpenAPI docs); a request without a valid token is answered 401 at once and the
  connection closed, so a client without a token cannot make the service read,
  parse or hold a body. Bodies are capped: a ``Content-Length`` over the cap is 413
  before reading, and a body sent without one (chunked) is counted as it streams and
  refused with 413 as soon as it passes the cap.
* ``RequestLog``: method, path, status and time of each request, with control
  characters escaped (a CR/LF in a URL path cannot forge a log line) and token-shaped
  values redacted; the query string is not logged.
* ``RedactSecrets``: a logging filter for every handler (uvicorn's access log prints
  the query string): Authorization headers, bearer tokens, ``cl_`` tokens anywhere and
  the values of query parameters named like secrets are replaced by ``[redacted]``,
  and control characters are escaped.

Error bodies have the API's shape, ``{error, message, detail}``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from clientlens.platform.access import TokenHolder

log = logging.getLogger("clientlens.api")

PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc",
                          "/openapi.json"})
#: The largest request body accepted (the largest real one, a re-evaluation note of
#: 2,000 characters, is well under it).
MAX_BODY_BYTES = 64 * 1024
SCOPE_KEY = "clientlens.principal"


def error_body(error: str, message: str) -> bytes:
    return json.dumps({"error": error, "message": message, "detail": None}).encode()


async def _answer(send: Callable, status: int, error: str, message: str,
                  headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = error_body(error, message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised by the guarded ``receive`` when a streamed body passes the cap."""

    code = "payload_too_large"


def bearer_token(scope: dict) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class Guard:
    """Authenticate first, then cap the body (see the module docstring).

    ``authenticate(token)`` returns the holder or None; the holder is put in the
    request scope under ``SCOPE_KEY`` for the routes."""

    def __init__(self, app: Any, authenticate: Callable[[str], Awaitable[TokenHolder | None]],
                 max_body: int = MAX_BODY_BYTES,
                 public: frozenset[str] = PUBLIC_PATHS,
                 too_large: Callable[[], Exception] | None = None,
                 own_sign_in: Callable[[str], bool] | None = None) -> None:
        self.app, self.authenticate = app, authenticate
        self.max_body, self.public = max_body, public
        # paths that check who is asking themselves (the console's browser sessions)
        self.own_sign_in = own_sign_in or (lambda _path: False)
        self.too_large = too_large or BodyTooLarge

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in self.public and not self.own_sign_in(scope["path"]):
            token = bearer_token(scope)
            who = await self.authenticate(token) if token else None
            if who is None:
                await _answer(send, 401, "unauthorized",
                              "invalid or revoked token" if token else
                              "missing bearer token: send 'Authorization: Bearer <token>'",
                              [(b"www-authenticate", b"Bearer")])
                return
            scope[SCOPE_KEY] = who
        length = _content_length(scope)
        if length is not None and length > self.max_body:
            await _answer(send, 413, "payload_too_large",
                          f"the request body is {length:,} bytes; at most "
                          f"{self.max_body:,} are accepted")
            return
        seen = 0
        started = False

        async def capped() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise self.too_large()
            return message

        async def sending(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped, sending)
        except BodyTooLarge:
            if started:
                raise
            await _answer(send, 413, "payload_too_large",
                          f"the request body is over {self.max_body:,} bytes")


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


# -- logs ----------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_SECRET_PARAMS = r"(?:access_token|api_key|apikey|auth|authorization|bearer|key|password|" \
                 r"secret|token)"
_REDACT = (
    # Authorization header values and bearer tokens, however quoted
    (re.compile(r"(?i)(authorization['\"]?\s*[:=,]\s*['\"]?\s*(?:bearer\s+)?|bearer\s+)"
                r"[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    # clientlens tokens anywhere: a path segment, a query value, a message
    (re.compile(r"cl_[A-Za-z0-9_-]{16,}"), "cl_[redacted]"),
    # query parameters named like secrets
    (re.compile(rf"(?i)([?&;]{_SECRET_PARAMS}=)[^&\s\"']*"), r"\1[redacted]"),
)


def escape_controls(text: str) -> str:
    """Control characters as visible escapes (``\\r``, ``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def redact_secrets(text: str) -> str:
    for pattern, replacement in _REDACT:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Redacts secrets in log records and escapes control characters in them.

    The arguments are cleaned one by one, so formatters that read them (uvicorn's
    access log unpacks client, method, path, version and status) keep working; only
    a secret the arguments do not show alone (split between two) flattens the
    record into its cleaned message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is left alone
            return True
        clean = _clean(message)
        if clean == message:
            return True
        msg, args = record.msg, record.args
        if isinstance(msg, str):
            record.msg = _clean(msg)
        if isinstance(args, tuple):
            record.args = tuple(_clean(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, dict):
            record.args = {k: _clean(v) if isinstance(v, str) else v for k, v in args.items()}
        try:
            same = record.getMessage() == clean
        except Exception:  # noqa: BLE001
            same = False
        if not same:  # cleaning the parts alone is not cleaning the whole
            record.msg, record.args = clean, None
        return True


def _clean(text: str) -> str:
    return escape_controls(redact_secrets(text))


def log_config() -> dict[str, Any]:
    """uvicorn's logging config with the redacting filter on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = json.loads(json.dumps(LOGGING_CONFIG))
    config["filters"] = {"redact": {"()": f"{__name__}.RedactSecrets"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["clientlens"] = {"handlers": ["default"], "level": "INFO",
                                       "propagate": False}
    return config


def install_redaction() -> None:
    """The filter on the loggers (and their handlers) a service logs through."""
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "clientlens",
                 "clientlens.api", "fastapi"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
        for handler in logger.handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                handler.addFilter(RedactSecrets())


class RequestLog:
    """Logs method, path, status and milliseconds of each request (a plain ASGI
    middleware: Starlette's BaseHTTPMiddleware streams every body through a queue).
    The path is escaped and redacted; the query string is left out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info("%s %s -> %s in %.1f ms", escape_controls(scope["method"]),
                     escape_controls(redact_secrets(scope["path"])), status[0] or 500,
                     (time.perf_counter() - started) * 1000)
