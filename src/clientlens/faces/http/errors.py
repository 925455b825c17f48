"""Errors as HTTP answers: one JSON shape, ``{error, message, detail}``, and one
table from a domain error's ``code`` to a status.

A ``ClientlensError`` is a user error: its ``code`` picks the status
(``HTTP_STATUS``) and is the body's ``error``; a code without an HTTP meaning of its
own is ``400 bad_request``. Anything else that escapes a route is a bug: a 500,
with the traceback in the server log only.
"""

import datetime as dt
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientlens.faces.http.schemas import MAX_DATE, MIN_DATE, ErrorBody
from clientlens.model.errors import ClientlensError
from clientlens.platform.http_guard import MAX_BODY_BYTES, BodyTooLarge

#: Domain error codes with an HTTP meaning: the status; the code is the body's
#: ``error``. Any other code is 400 ``bad_request``.
HTTP_STATUS: dict[str, int] = {
    "not_found": 404,
    "definition_error": 422,
    "expression_error": 422,
    "workspace_error": 400,
    # a request the domain refuses as given (referrals: a bad value or a rule's reason)
    "invalid_request": 422,
    "invalid_definition": 422,
    "not_eligible": 422,
    "idempotency_conflict": 422,
    # the state's fault, not the request's: try again later or ask for less
    "busy": 409,
    "run_in_progress": 409,
    "insufficient_points": 409,
    # rule governance (services/governance)
    "not_permitted": 403,
    "four_eyes": 403,
    "wrong_state": 409,
    "not_in_force": 409,
    "nothing_to_submit": 409,
}


def status_of(e: ClientlensError) -> tuple[int, str]:
    """The HTTP status and ``error`` name of a domain error."""
    status = HTTP_STATUS.get(e.code)
    return (status, e.code) if status is not None else (400, "bad_request")


class ApiError(Exception):
    """An answer decided by the face itself (401, 403, 422 invalid_date, ...)."""

    def __init__(self, status: int, error: str, message: str,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers

    @classmethod
    def of(cls, e: ClientlensError) -> "ApiError":
        status, name = status_of(e)
        return cls(status, name, str(e))


class PayloadTooLarge(StarletteHTTPException, BodyTooLarge):
    """A streamed body over the cap, raised while a route reads it: FastAPI passes an
    HTTPException through (any other error reading the body becomes a 400)."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        StarletteHTTPException.__init__(self, 413, f"the request body is over {limit:,} "
                                                   "bytes")


def body(error: str, message: str, detail: list | None = None) -> dict[str, Any]:
    return ErrorBody(error=error, message=message, detail=detail).model_dump()


def response(status: int, description: str) -> dict[int, dict[str, Any]]:
    """An error answer for a route's ``responses`` (the OpenAPI spec)."""
    return {status: {"model": ErrorBody, "description": description}}


ERRORS = {**response(401, "Missing or invalid token."),
          **response(403, "The token's role may not do this."),
          **response(422, "Invalid parameters.")}
NOT_FOUND = response(404, "Unknown customer or date.")


def check_date(as_of: dt.date | None, name: str = "as_of") -> dt.date | None:
    if as_of is not None and not MIN_DATE <= as_of <= MAX_DATE:
        raise ApiError(422, "invalid_date", f"{name} {as_of} is outside {MIN_DATE}..{MAX_DATE}")
    return as_of


async def _api_error(_req: Request, e: ApiError) -> JSONResponse:
    return JSONResponse(body(e.error, e.message), status_code=e.status, headers=e.headers)


async def _user_error(_req: Request, e: ClientlensError) -> JSONResponse:
    status, name = status_of(e)
    return JSONResponse(body(name, str(e)), status_code=status)


async def _invalid(_req: Request, e: RequestValidationError) -> JSONResponse:
    detail = [{"where": ".".join(str(p) for p in err.get("loc", ())),
               "problem": err.get("msg", "")} for err in e.errors()]
    message = "; ".join(f"{d['where']}: {d['problem']}" for d in detail) or "invalid request"
    return JSONResponse(body("invalid_request", message, detail), status_code=422)


async def _http(_req: Request, e: StarletteHTTPException) -> JSONResponse:
    name = {404: "not_found", 405: "method_not_allowed",
            413: "payload_too_large"}.get(e.status_code, "http_error")
    return JSONResponse(body(name, str(e.detail)), status_code=e.status_code,
                        headers=getattr(e, "headers", None))


def install(app: FastAPI) -> None:
    """The handlers: one JSON shape, never a 500 for a user error."""
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(ClientlensError, _user_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
