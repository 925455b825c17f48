"""Customer 360: search by id (and by name for roles that may see personal data);
segment with the explanation, ratings with reasons, needs, products held, next-best
product, entitlements with grace periods, phase with its actions and due dates, a
timeline of segment, phase and need, cases, points, interactions by channel; a
re-evaluate button for roles allowed to. Everything goes through the field policy
exactly as the API's profile does (it is the same ``build_profile``), and a view that
shows sensitive fields is audited."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clientlens.faces.console import views
from clientlens.faces.console.web import (
    PREFIX,
    Page,
    PageDep,
    PageError,
    check_write,
    needs,
    parse_date,
    render,
)
from clientlens.faces.http.presenters import sees
from clientlens.model.errors import NotFoundError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
MAX_ID = 64


@router.get("/customers", response_class=HTMLResponse)
async def search_page(p: PageDep, q: str | None = None) -> Response:
    q = (q or "").strip()
    if len(q) > 200:
        raise PageError(400, "search: at most 200 characters")
    by_name = sees(p.staff.role, "personal")
    found: list[tuple[str, str]] = []
    if q:
        backend = p.request.app.state.backend

        def work() -> tuple[bool, list]:
            from clientlens.services.profiling.customers import customer_exists, find_by_name

            with backend.engine() as engine:
                exists = len(q) <= MAX_ID and customer_exists(engine, q)
                names = find_by_name(engine, q) if by_name and not exists else []
            return exists, names

        exists, found = await run_in_threadpool(work)
        if exists:
            return RedirectResponse(f"{PREFIX}/customers/{q}", status_code=303)
        if found:
            backend.audit(p.staff.holder, "console.customer_search", "customers",
                          {"matches": len(found)})
        elif not by_name:
            raise PageError(404, f"unknown customer '{q[:MAX_ID]}'", "not_found")
    return render(p, "customer_search.html", q=q, by_name=by_name, found=found)


def _timeline(p: Page, engine: Any, customer_id: str) -> list[dict]:
    from clientlens.services.profiling.history import intervals

    defs = p.request.app.state.backend.defs
    dims = {d.column: d for d in views.dimensions(defs)}
    out = []
    for iv in intervals(engine, customer_id):
        shown = views.shown_value(p, defs, iv.attribute, iv.value)
        out.append({"attribute": p.t[iv.attribute], "value": views.value_label(
            p, dims[iv.attribute], shown), "since": iv.valid_from, "until": iv.last_seen})
    return sorted(out, key=lambda r: (r["since"], r["attribute"]))


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(p: PageDep, customer_id: str, as_of: str | None = None
                        ) -> HTMLResponse:
    from clientlens.faces.http.routers.profiles import build_profile

    if not customer_id or len(customer_id) > MAX_ID:
        raise PageError(400, f"customer id: 1 to {MAX_ID} characters")
    day = parse_date(as_of, "as_of")
    backend = p.request.app.state.backend
    defs = backend.defs
    who = p.staff.holder

    def profile() -> tuple[dict, list]:
        with backend.engine() as engine:
            try:
                return build_profile(backend, engine, who, customer_id, day)
            except NotFoundError as e:
                raise PageError(404, str(e), "not_found") from None

    def around(on: dt.date | None) -> dict:
        """What the page shows beside the profile; ``on``: the snapshot's date (None:
        the latest)."""
        from clientlens.services.profiling.customers import (
            interactions_by_channel,
            products_held,
        )
        from clientlens.services.programmes.referrals import points_statement
        from clientlens.services.relationship.recovery import list_cases

        with backend.engine() as engine:
            on = on or backend.latest(engine)
            try:
                timeline = _timeline(p, engine, customer_id)
            except NotFoundError:
                timeline = []
            return {"products": products_held(engine, customer_id, on),
                    "channels": interactions_by_channel(engine, customer_id, on),
                    "timeline": timeline,
                    "cases": list_cases(backend.db, customer_id=customer_id),
                    "points": points_statement(backend.db, customer_id, 10)}

    # the profile and the rest in two worker threads at once (a DuckDB cursor each):
    # the page costs the slower of the two, not their sum
    import asyncio

    (prof_shown, extra) = await asyncio.gather(run_in_threadpool(profile),
                                               run_in_threadpool(around, day))
    got = {"profile": prof_shown[0], "shown": prof_shown[1], **extra}
    if str(got["profile"]["as_of"]) != str(day or got["profile"]["as_of"]):
        # asked for a date without a run: the profile is the snapshot before it
        got.update(await run_in_threadpool(around, dt.date.fromisoformat(
            str(got["profile"]["as_of"]))))
    if got["shown"]:
        await run_in_threadpool(backend.audit, who, "profile.read",
                                f"customer/{customer_id}",
                                {"as_of": got["profile"]["as_of"], "via": "console",
                                 "sensitive_shown": got["shown"]})
    prof = got["profile"]
    on = dt.date.fromisoformat(str(prof["as_of"]))
    seg_labels = {s.id: s.labels for s in defs.segments}
    dims = {d.column: d for d in views.dimensions(defs)}
    segment_rules = (prof.get("explanation") or {}).get("segment_rules") or []
    higher = [r for r in segment_rules if not r["matched"]]
    matched = next((r for r in segment_rules if r["matched"]), None)
    actions = [{**a, "due": on + dt.timedelta(days=a["within_days"])
                if a.get("within_days") is not None else None}
               for a in prof.get("actions") or []]
    ratings = {r.id: r for r in defs.ratings}
    return render(p, "customer.html", c=prof, cid=customer_id, matched=matched,
                  higher=higher, actions=actions, products=got["products"],
                  channels=got["channels"], timeline=got["timeline"], cases=got["cases"],
                  points=got["points"], seg_labels=seg_labels, dims=dims, ratings=ratings,
                  withheld=prof.get("withheld") or [], views=views)


@router.post("/customers/{customer_id}/reevaluate", response_class=HTMLResponse)
async def reevaluate(p: PageDep, customer_id: str,
                     csrf: Annotated[str, Form(max_length=128)] = "") -> HTMLResponse:
    """Recompute the customer now (the API's re-evaluation, audited the same way)."""
    from clientlens.faces.http.routers.reevaluation import reevaluate as api_reevaluate

    check_write(p.request, p.staff, csrf)
    needs(p, "customer:reevaluate")
    if not customer_id or len(customer_id) > MAX_ID:
        raise PageError(400, f"customer id: 1 to {MAX_ID} characters")
    backend = p.request.app.state.backend
    response = await run_in_threadpool(api_reevaluate, customer_id, p.staff.holder, backend,
                                       None, None, None)
    answer = json.loads(response.body)
    dims = {d.column: d for d in views.dimensions(backend.defs)}
    profile = answer["profile"]
    rows = [(p.t[k], views.value_label(p, dims[k], answer.get(f"previous_{k}")),
             views.value_label(p, dims[k], profile.get(k)))
            for k in ("segment", "phase", "need")]
    return render(p, "_reevaluated.html" if p.request.headers.get("hx-request") else
                  "reevaluated.html", cid=customer_id, rows=rows,
                  changes=answer.get("changes") or [])
