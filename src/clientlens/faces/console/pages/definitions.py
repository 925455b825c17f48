"""Rule changes (issue 14 on the console): the definition versions, newest first; one
version's changes in words, its what-if impact on the latest snapshot (the segment
migration matrix, entitlements granted and revoked, decisions that move, a sample of
moved customers explained under both versions), and approve or reject for a second
person holding ``definitions:approve``. The four-eyes rule itself is the service's
(``services/governance``): a maker's own approval is refused there, whatever a page
offers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clientlens.faces.console.web import (
    PREFIX,
    PageDep,
    PageError,
    check_write,
    needs,
    parse_date,
    render,
)
from clientlens.model.errors import ClientlensError, NotFoundError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
MAX_VERSION = 2**31 - 1


@router.get("/definitions", response_class=HTMLResponse)
async def versions_page(p: PageDep) -> HTMLResponse:
    from clientlens.services.workspace import governance_jobs as gov

    needs(p, "definitions:read")
    found = await run_in_threadpool(gov.history, p.request.app.state.backend.root)
    return render(p, "definitions.html", history=found)


def _version_id(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= MAX_VERSION:
        raise PageError(400, f"version: '{value[:20]}' is not a version number")
    return int(value)


@router.get("/definitions/{version}", response_class=HTMLResponse)
async def version_page(p: PageDep, version: str) -> HTMLResponse:
    from clientlens.services.workspace import governance_jobs as gov

    needs(p, "definitions:read")
    number = _version_id(version)
    backend = p.request.app.state.backend

    def work() -> dict[str, Any]:
        try:
            rec = gov.version(backend.root, number)
        except NotFoundError as e:
            raise PageError(404, str(e), "not_found") from None
        changes = gov.diff(backend.root, number, None, warehouse=backend.engine)
        try:
            impact = gov.impact(backend.root, number, sample=5, warehouse=backend.engine)
        except ClientlensError as e:  # no snapshot yet, say
            impact, problem = None, str(e)
        else:
            problem = None
        return {"rec": rec, "diff": changes, "impact": impact, "problem": problem}

    got = await run_in_threadpool(work)
    rec = got["rec"]
    may_decide = p.may("definitions:approve") and rec.submitted_by != p.staff.user \
        and rec.status == "submitted"
    return render(p, "definition_version.html", **got, may_decide=may_decide,
                  today=dt.date.today())


@router.post("/definitions/{version}/{decision}", response_class=HTMLResponse)
async def decide(p: PageDep, version: str, decision: str,
                 reason: Annotated[str, Form(max_length=2000)] = "",
                 effective_from: Annotated[str, Form(max_length=10)] = "",
                 csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    from clientlens.services.workspace import governance_jobs as gov

    check_write(p.request, p.staff, csrf)
    needs(p, "definitions:approve")
    number = _version_id(version)
    if decision not in ("approve", "reject"):
        raise PageError(404, f"no decision '{decision[:20]}': approve or reject", "not_found")
    root = p.request.app.state.backend.root
    who = p.staff.holder
    if decision == "approve":
        day = parse_date(effective_from, "effective_from")
        await run_in_threadpool(lambda: gov.approve(root, number, by=who.user, role=who.role,
                                                    via="console", reason=reason,
                                                    effective_from=day))
    else:
        await run_in_threadpool(lambda: gov.reject(root, number, by=who.user, role=who.role,
                                                   via="console", reason=reason))
    return RedirectResponse(f"{PREFIX}/definitions/{number}", status_code=303)
