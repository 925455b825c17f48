"""Member-get-member: the programmes, each one's funnel (a chart and its table), its
top advocates and refused registrations by reason code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from clientlens.faces.console.web import PREFIX, PageDep, choice, needs, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/referrals", response_class=HTMLResponse)
async def referrals_page(p: PageDep, programme: str | None = None) -> HTMLResponse:
    from clientlens.services.programmes.referrals import (
        funnel,
        published_programmes,
        reason_message,
    )
    from clientlens.services.programmes.reports import top_advocates

    needs(p, "referrals:read")
    db = p.request.app.state.backend.db
    programmes = await run_in_threadpool(published_programmes, db)
    ids = [x.programme_id for x in programmes]
    chosen = choice(programme, "programme", ids, ids[0] if ids else None)
    ctx: dict[str, Any] = {"programmes": programmes, "chosen": chosen}
    if chosen is not None:
        f = await run_in_threadpool(funnel, db, chosen)
        ctx["funnel"] = f
        ctx["advocates"] = await run_in_threadpool(top_advocates, db, chosen, 10)
        ctx["refused"] = [(code, n, reason_message(code) or code)
                          for code, n in sorted(f.rejected.items(), key=lambda x: -x[1])]
        steps = [("invited", f.invited), ("registered", f.registered),
                 ("qualified", f.qualified), ("rewarded", f.rewarded)]
        ctx["steps"] = steps
        ctx["funnel_chart"] = {"type": "funnel", "names": [s for s, _ in steps],
                               "values": [n for _, n in steps]}
    return render(p, "referrals.html", **ctx)
