"""Overview: the split of customers on a stored date by segment (with mean balances),
its trend over the stored runs, phases, needs and rating grades; for roles that may
see runs, the last runs and imports with their quarantine by kind of reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from clientlens.faces.console import views
from clientlens.faces.console.cache import cached
from clientlens.faces.console.pages.common import read, staging, stored_date
from clientlens.faces.console.web import (
    PREFIX,
    PageDep,
    PageError,
    needs,
    parse_date,
    render,
)
from clientlens.services.analytics import overview
from clientlens.services.analytics.matrices import snapshot_dates

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _grouped(p: Any, defs: Any, d: views.Dimension, shares: list) -> list[dict]:
    """Shares by value as the role may see them, in the definitions' order."""
    merged: dict[str | None, list[float]] = {}
    for s in shares:
        v = views.shown_value(p, defs, d.column, s.value)
        got = merged.setdefault(v, [0, 0.0])
        got[0] += s.customers
        got[1] += (s.mean_balance or 0.0) * s.customers
    total = sum(n for n, _ in merged.values()) or 1
    order = list(d.labels) + sorted(k for k in merged if k not in d.labels and k)
    keys = [k for k in order if k in merged] + [k for k in merged if k not in order]
    return [{"value": k, "label": views.value_label(p, d, k), "customers": n,
             "share": n / total, "mean": (s / n if n else None)}
            for k in keys for n, s in [merged[k]]]


@router.get("/overview", response_class=HTMLResponse)
async def overview_page(p: PageDep, as_of: str | None = None) -> HTMLResponse:
    backend = p.request.app.state.backend
    defs = backend.defs
    wanted = parse_date(as_of, "as_of")
    dims = views.visible_dimensions(p, defs)

    def work(engine: Any) -> dict:
        if engine.table_columns("profiles") is None:
            return {"dates": []}
        dates = cached(backend, engine, ("dates",), lambda: snapshot_dates(engine))
        day = stored_date(dates, wanted)
        if day is None:
            return {"dates": []}
        return {"dates": dates, "day": day,
                "shares": {d.column: cached(backend, engine, ("breakdown", day, d.column),
                                            lambda d=d: overview.breakdown(engine, day,
                                                                           d.column))
                           for d in dims},
                "trend": cached(backend, engine, ("trend", "segment"),
                                lambda: overview.trend(engine, "segment"))}

    got = await read(p, work)
    ctx: dict[str, Any] = {"as_of": got.get("day"), "dates": got["dates"], "runs": None}
    if got["dates"]:
        seg = next(d for d in dims if d.column == "segment")
        rows = _grouped(p, defs, seg, got["shares"]["segment"])
        ctx["segments"] = rows
        ctx["total"] = sum(r["customers"] for r in rows)
        ctx["segments_chart"] = {"type": "bar", "categories": [r["label"] for r in rows],
                                 "series": [{"name": p.t["customers_n"],
                                             "data": [r["customers"] for r in rows]}]}
        tr = got["trend"]
        if len(tr.dates) > 1:
            series = []
            for value, counts in tr.series.items():
                shown = views.shown_value(p, defs, "segment", value)
                label = views.value_label(p, seg, shown)
                found = next((s for s in series if s["name"] == label), None)
                if found:
                    found["data"] = [a + b for a, b in zip(found["data"], counts,
                                                           strict=True)]
                else:
                    series.append({"name": label, "data": list(counts)})
            ctx["trend_chart"] = {"type": "line", "categories": [str(d) for d in tr.dates],
                                  "series": series}
        ctx["groups"] = [{"column": d.column, "title": views.title(p, d),
                          "rows": _grouped(p, defs, d, got["shares"][d.column])}
                         for d in dims if d.column != "segment"]
    if p.may("runs:read"):
        from clientlens.services.workspace.runs import list_runs

        ctx["runs"] = await run_in_threadpool(list_runs, backend.db, 10)

        def imports() -> list:
            with staging(backend) as engine:
                return overview.recent_imports(engine, 15)

        found = await run_in_threadpool(imports)
        ctx["imports"] = [{**i.__dict__, "file_name": Path(i.file).name} for i in found]
    return render(p, "overview.html", **ctx)


@router.get("/imports/{import_id}/reasons", response_class=HTMLResponse)
async def import_reasons(p: PageDep, import_id: str) -> HTMLResponse:
    """The quarantine of one import by kind of reason (a partial for htmx)."""
    needs(p, "runs:read")
    backend = p.request.app.state.backend

    def work() -> tuple[str, list]:
        with staging(backend) as engine:
            found = [i for i in overview.recent_imports(engine, 1000)
                     if i.import_id == import_id]
            if not found:
                raise PageError(404, f"no import '{import_id[:64]}'", "not_found")
            return Path(found[0].file).name, overview.quarantine_kinds(engine, import_id)

    name, kinds = await run_in_threadpool(work)
    return render(p, "_reasons.html", file_name=name, kinds=kinds)
