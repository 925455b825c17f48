"""Migrations between two stored dates by segment, phase, need or a rating's grade: a
Sankey and a heat map of the same matrix (``services/analytics/matrices.py``); a
click on a flow or a cell lists the customers who moved, each with why (the matched
rule under the later date's definitions, through the field policy)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from clientlens.faces.console import views
from clientlens.faces.console.cache import cached
from clientlens.faces.console.pages.common import read, stored_date
from clientlens.faces.console.web import (
    PREFIX,
    Page,
    PageDep,
    PageError,
    parse_date,
    parse_int,
    render,
)
from clientlens.services.analytics import overview
from clientlens.services.analytics.matrices import (
    ABSENT,
    NONE,
    label_order,
    migration_matrix,
    snapshot_dates,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 20


def _dates(p: Page, dates: list, date_from: str | None, date_to: str | None) -> tuple:
    a = stored_date(dates, parse_date(date_from, "from"), "from") if date_from else (
        dates[-2] if len(dates) > 1 else None)
    b = stored_date(dates, parse_date(date_to, "to"), "to") if date_to else (
        dates[-1] if dates else None)
    if a is not None and b is not None and a >= b:
        raise PageError(400, f"from {a} must be earlier than to {b}")
    return a, b


def _merged(p: Page, defs: Any, d: views.Dimension, m: Any) -> tuple[list[str], list]:
    """The matrix with the values the role may not see merged into one group."""
    labels: list[str] = []
    for v in m.rows:
        s = views.shown_value(p, defs, d.column, v)
        if s not in labels:
            labels.append(s)
    index = {s: i for i, s in enumerate(labels)}
    cells = [[0] * len(labels) for _ in labels]
    for i, r in enumerate(m.rows):
        for j, c in enumerate(m.columns):
            cells[index[views.shown_value(p, defs, d.column, r)]][
                index[views.shown_value(p, defs, d.column, c)]] += m.counts[i][j]
    return labels, cells


@router.get("/migrations", response_class=HTMLResponse)
async def migrations_page(p: PageDep, by: str | None = None) -> HTMLResponse:
    """Query: ``from`` and ``to`` (stored dates; default the two newest), ``by``."""
    backend = p.request.app.state.backend
    defs = backend.defs
    d = views.dimension(p, defs, by)
    date_from = p.request.query_params.get("from")
    date_to = p.request.query_params.get("to")

    def work(engine: Any) -> dict:
        if engine.table_columns("profiles") is None:
            return {"dates": []}
        dates = cached(backend, engine, ("dates",), lambda: snapshot_dates(engine))
        a, b = _dates(p, dates, date_from, date_to)
        if a is None or b is None:
            return {"dates": dates}
        m = cached(backend, engine, ("matrix", a, b, d.column), lambda: migration_matrix(
            engine, a, b, d.column, order=label_order(defs, d.column)))
        return {"dates": dates, "a": a, "b": b, "m": m}

    got = await read(p, work)
    ctx: dict[str, Any] = {"dates": got["dates"], "dims": views.visible_dimensions(p, defs),
                           "dim": d, "title": views.title, "a": got.get("a"),
                           "b": got.get("b")}
    if "m" in got:
        labels, cells = _merged(p, defs, d, got["m"])
        names = [views.value_label(p, d, v) for v in labels]
        names_from = [views.value_label(p, d, v, "from") for v in labels]
        ctx.update(labels=labels, names=names, names_from=names_from, cells=cells,
                   stayed=sum(cells[i][i] for i in range(len(labels))
                              if labels[i] not in (ABSENT,)),
                   total=sum(map(sum, cells)))
        drill = {"url": f"{PREFIX}/migrations/moved", "by": d.column, "from": str(got["a"]),
                 "to": str(got["b"]), "values": labels}
        links = [{"source": i, "target": j, "value": n}
                 for i, row in enumerate(cells) for j, n in enumerate(row) if n]
        ctx["sankey"] = {"type": "sankey", "left": f"{got['a']}", "right": f"{got['b']}",
                         "names_from": names_from, "names": names, "links": links,
                         "drill": drill,
                         "description": f"{p.t['sankey']}: {got['a']} → {got['b']}, "
                                        f"{views.title(p, d)}"}
        ctx["heatmap"] = {"type": "heatmap", "rows": names_from, "columns": names,
                          "cells": [[j, i, n] for i, row in enumerate(cells)
                                    for j, n in enumerate(row)],
                          "xname": str(got["b"]), "yname": str(got["a"]), "drill": drill}
    return render(p, "migrations.html", **ctx)


@router.get("/migrations/moved", response_class=HTMLResponse)
async def moved_page(p: PageDep, by: str) -> HTMLResponse:
    """The customers of one cell, a page at a time, with why (a partial for htmx; a
    whole page when opened directly). Query: ``from``, ``to``, ``a`` (the value on
    ``from``), ``b`` (the value on ``to``), ``page``."""
    backend = p.request.app.state.backend
    defs = backend.defs
    d = views.dimension(p, defs, by)
    q = p.request.query_params
    a, b = parse_date(q.get("from"), "from"), parse_date(q.get("to"), "to")
    value_from, value_to = q.get("a"), q.get("b")
    if a is None or b is None or value_from is None or value_to is None:
        raise PageError(400, "from, to, a and b are needed: the two dates and the two "
                        "values of the cell")
    if views.WITHHELD in (value_from, value_to):
        raise PageError(403, p.t["withheld"], "forbidden")
    for v in (value_from, value_to):
        if views.shown_value(p, defs, d.column, v) != v:
            raise PageError(403, p.t["withheld"], "forbidden")
    page_no = parse_int(q.get("page"), "page", 1, 1, 1_000_000)

    def work(engine: Any) -> tuple[int, list]:
        dates = cached(backend, engine, ("dates",), lambda: snapshot_dates(engine))
        stored_date(dates, a, "from")
        stored_date(dates, b, "to")
        return overview.moved_customers(engine, a, b, d.column, value_from, value_to,
                                        limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)

    total, rows = await read(p, work)
    why = await run_in_threadpool(_why, p, d, [r.customer_id for r in rows],
                                  b if value_to != ABSENT else None)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(p, "_moved.html" if p.request.headers.get("hx-request") else
                  "moved.html", rows=rows, why=why, total=total, page_no=page_no,
                  pages=pages, dim=d, title=views.title, a=a, b=b,
                  value_from=value_from, value_to=value_to,
                  name_from=views.value_label(p, d, value_from, "from"),
                  name_to=views.value_label(p, d, value_to), none=NONE)


def _why(p: Page, d: views.Dimension, customers: list[str], day: Any) -> dict[str, str]:
    """For each customer, the reason for the value on the later date, as the role may
    see it: the matched rule with its values, or the rating's reasons."""
    from clientlens.faces.http.routers.profiles import build_profile

    if day is None:
        return {}
    backend = p.request.app.state.backend
    out: dict[str, str] = {}
    with backend.engine() as engine:
        for cid in customers:
            try:
                profile, _shown = build_profile(backend, engine, p.staff.holder, cid, day)
            except Exception:  # noqa: BLE001 - a missing profile: no reason to show
                continue
            out[cid] = _reason(profile, d)
    return out


def _reason(profile: dict, d: views.Dimension) -> str:
    if d.rating is not None:
        r = next((x for x in profile.get("ratings", []) if x["rating"] == d.rating.id), None)
        return "; ".join(r["reasons"]) if r else ""
    key = {"segment": "segment_rules", "phase": "phase_rules",
           "need": "need_rules"}[d.column]
    traces = (profile.get("explanation") or {}).get(key) or []
    matched = next((t for t in traces if t["matched"]), None)
    if matched is None:
        return ""
    parts = []
    for c in matched["conditions"]:
        values = ", ".join(f"{k} = {v}" for k, v in c["values"].items())
        parts.append(f"{c['condition']}" + (f" ({values})" if values else ""))
    return f"{matched['rule']}: " + "; ".join(parts)
