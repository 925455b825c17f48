"""Work lists: leads per department, actions due or overdue by department, win-back and
survey-due; paged on the server and exported whole to CSV or Excel (what branches and
call centres open). Columns a role may not see are left out of the page and of the
file alike; every export is audited."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from clientlens.faces.console.cache import cached
from clientlens.faces.console.pages.common import stored_date
from clientlens.faces.console.web import (
    PREFIX,
    Page,
    PageDep,
    PageError,
    choice,
    needs,
    parse_date,
    parse_int,
    render,
)
from clientlens.services.analytics.matrices import snapshot_dates

router = APIRouter(prefix=PREFIX, include_in_schema=False)
KINDS = ("leads", "actions", "win-back", "survey-due")
TITLES = {"leads": "leads", "actions": "actions_due", "win-back": "win_back",
          "survey-due": "survey_due"}
PAGE_SIZE = 25


def _table(p: Page, engine: Any, kind: str, day: dt.date, department: str | None,
           overdue: bool) -> pa.Table:
    from clientlens.services.analytics import lists
    from clientlens.services.relationship.departures import win_back_list

    defs = p.request.app.state.backend.defs
    if kind == "win-back":
        wb = win_back_list(engine, defs, day)
        return pa.Table.from_pylist([dict(zip(wb.columns, r, strict=True)) for r in wb.rows],
                                    schema=None) if wb.rows else pa.table(
            {c: pa.array([], pa.string()) for c in wb.columns})
    if kind == "leads":
        made = lists.leads(engine, defs, day, department=department)
    elif kind == "actions":
        made = lists.phase_actions(engine, defs, day, department=department,
                                   overdue_only=overdue)
    else:
        made = lists.survey_due(engine, defs, day)
    return made.fetch(engine, None)


def _police(p: Page, table: pa.Table) -> tuple[pa.Table, list[str]]:
    """The table without the columns the role may not see (and with the values of a
    partly visible decision it may not see blanked)."""
    w = p.request.app.state.backend.withholding(p.staff.role)
    dropped = [c for c in table.column_names
               if c in w.hidden and not w.shown_values.get(c)]
    table = table.drop_columns(dropped)
    for i, c in enumerate(table.column_names):
        if c in w.hidden:
            allowed = w.shown_values[c]
            values = [v if v in allowed else None for v in table.column(c).to_pylist()]
            table = table.set_column(i, c, pa.array(values, table.schema.field(c).type))
    return table, dropped


def _departments(defs: Any) -> list[str]:
    found = {pr.department for pr in defs.products if pr.department}
    for actions in defs.phase_actions.values():
        found |= {a.department for a in actions if a.department}
    return sorted(found)


def _request(p: Page) -> tuple[str, dt.date | None, str | None, bool]:
    q = p.request.query_params
    kind = choice(q.get("kind"), "kind", KINDS, "leads")
    department = choice(q.get("department"), "department",
                        _departments(p.request.app.state.backend.defs))
    overdue = choice(q.get("overdue"), "overdue", ("0", "1"), "0") == "1"
    return kind, parse_date(q.get("as_of"), "as_of"), department, overdue  # type: ignore


async def _fetch(p: Page) -> tuple[str, dt.date, str | None, bool, pa.Table, list[str]]:
    needs(p, "lists:read")
    kind, wanted, department, overdue = _request(p)
    backend = p.request.app.state.backend

    def work() -> tuple:
        with backend.engine() as engine:
            if engine.table_columns("profiles") is None:
                raise PageError(404, "no run yet: run `clientlens run` first", "not_found")
            dates = cached(backend, engine, ("dates",), lambda: snapshot_dates(engine))
            day = stored_date(dates, wanted)
            return day, cached(backend, engine, ("list", kind, day, department, overdue),
                               lambda: _table(p, engine, kind, day, department, overdue))

    day, table = await run_in_threadpool(work)
    table, dropped = _police(p, table)
    return kind, day, department, overdue, table, dropped


@router.get("/lists", response_class=HTMLResponse)
async def lists_page(p: PageDep) -> HTMLResponse:
    kind, day, department, overdue, table, dropped = await _fetch(p)
    page_no = parse_int(p.request.query_params.get("page"), "page", 1, 1, 10_000_000)
    total = table.num_rows
    pages = max(1, -(-total // PAGE_SIZE))
    if page_no > pages:
        raise PageError(404, f"page {page_no}: the list has {pages} page(s)", "not_found")
    rows = table.slice((page_no - 1) * PAGE_SIZE, PAGE_SIZE).to_pylist()
    query = {"kind": kind, "as_of": str(day), "department": department or "",
             "overdue": "1" if overdue else "0"}
    return render(p, "lists.html", kinds=KINDS, titles=TITLES, kind=kind, as_of=day,
                  departments=_departments(p.request.app.state.backend.defs),
                  department=department, overdue=overdue, columns=table.column_names,
                  rows=rows, total=total, page_no=page_no, pages=pages, dropped=dropped,
                  filters=query)


@router.get("/lists/export.{fmt}")
async def export(p: PageDep, fmt: str) -> FileResponse:
    if fmt not in ("csv", "xlsx"):
        raise PageError(404, f"no export as .{fmt[:10]}: use .csv or .xlsx", "not_found")
    kind, day, department, _overdue, table, dropped = await _fetch(p)
    from clientlens.platform.exports import write_table

    folder = Path(tempfile.mkdtemp(prefix="clientlens-export-"))
    name = f"{kind}-{department or 'all'}-{day}.{fmt}"
    path = await run_in_threadpool(write_table, folder / name, table, sheet=kind[:31])
    backend = p.request.app.state.backend
    await run_in_threadpool(backend.audit, p.staff.holder, "console.export", f"list/{kind}",
                            {"as_of": day, "department": department, "rows": table.num_rows,
                             "format": fmt, "withheld_columns": dropped})

    def cleanup() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    media = "text/csv" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(path, media_type=media, filename=name,
                        background=BackgroundTask(cleanup),
                        headers={"Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})
