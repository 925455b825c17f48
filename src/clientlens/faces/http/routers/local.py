"""Requests only the commands on the service's own machine may make, with the service
file's token (``platform/service_file.py``: known to this process, readable by the
workspace's owner only), when they hand their work to the running service
(``faces/service_client.py``):

* ``POST /imports``: files on this machine imported into the warehouse the service
  holds (``clientlens import``);
* ``POST /lists``: a customer list (``clientlens leads``, ``actions``, ``survey-due``,
  ``lookalike``, ``entitlements --events``), written to a file on this machine when
  asked.

Reading or writing files named in a request is not something an API client of another
machine may make the service do, whatever its role; nor are these lists answered
through the field policy (the local user is the workspace's owner)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from clientlens.faces.http.deps import BackendDep, Principal
from clientlens.faces.http.errors import ERRORS, ApiError
from clientlens.platform.jsonsafe import plain

router = APIRouter(tags=["runs"])


class ImportRequest(BaseModel):
    files: list[str] = Field(min_length=1, max_length=1000,
                             description="Absolute paths of files or folders on the "
                                         "service's machine.")
    table: str | None = Field(None, max_length=64)
    encoding: str = Field("auto", max_length=16)
    delimiter: str | None = Field(None, max_length=4)
    decimal_comma: bool | None = None
    force: bool = False


def _local_only(backend: Any, who: Any, what: str) -> None:
    if backend.local_holder is None or who is not backend.local_holder:
        raise ApiError(403, "forbidden", f"only `clientlens {what}` on the service's own "
                       "machine may ask for this (with the service file's token)")


@router.post("/imports", summary="Import files on this machine (the CLI's hand-off)",
             responses=ERRORS, include_in_schema=False)
async def import_files(body: ImportRequest, who: Principal,
                       backend: BackendDep) -> dict[str, Any]:
    _local_only(backend, who, "import")
    paths = [Path(f) for f in body.files]
    if any(not p.is_absolute() or "\x00" in str(p) for p in paths):
        raise ApiError(422, "invalid_request", "files must be absolute paths")

    def work() -> list:
        from clientlens.services.workspace import jobs

        with backend.engine() as engine:
            return jobs.import_files(backend.root, paths, table=body.table,
                                     encoding=body.encoding, delimiter=body.delimiter,
                                     decimal_comma=body.decimal_comma, force=body.force,
                                     staging=engine)

    reports = await run_in_threadpool(work)
    backend.audit(who, "import", "warehouse", {"files": [str(p) for p in paths],
                                               "tables": sorted({r.table for r in reports})})
    return {"reports": [plain({**r.__dict__, "reasons": dict(r.reasons),
                               "notes": dict(r.notes)}) for r in reports]}


class ListRequest(BaseModel):
    kind: Literal["leads", "actions", "survey-due", "lookalike", "events"]
    as_of: dt.date | None = None
    limit: int = Field(20, ge=0, le=1_000_000)
    out: str | None = Field(None, max_length=4096, description="An absolute path.")
    csv_dialect: str | None = Field(None, max_length=32)
    options: dict[str, Any] = Field(default_factory=dict)


@router.post("/lists", summary="A customer list (the CLI's hand-off)", responses=ERRORS,
             include_in_schema=False)
async def customer_list(body: ListRequest, who: Principal,
                        backend: BackendDep) -> dict[str, Any]:
    _local_only(backend, who, body.kind)
    if body.out is not None and (not Path(body.out).is_absolute() or "\x00" in body.out):
        raise ApiError(422, "invalid_request", "out must be an absolute path")

    def work() -> Any:
        from clientlens.services.workspace import jobs

        with backend.engine() as engine:
            return jobs.customer_list(backend.root, body.kind, body.as_of, limit=body.limit,
                                      out=body.out, csv_dialect=body.csv_dialect,
                                      engine=engine, **body.options)

    found = await run_in_threadpool(work)
    if found.written is not None:
        backend.audit(who, "list.export", f"list/{body.kind}",
                      {"as_of": found.as_of, "file": str(found.written), "rows": found.total})
    return plain({"as_of": found.as_of, "title": found.title, "note": found.note,
                  "total": found.total, "columns": found.rows.column_names,
                  # decimals as their text: 100.00 stays 100.00, as the CLI shows it
                  "rows": [{k: str(v) if isinstance(v, Decimal) else v for k, v in r.items()}
                           for r in found.rows.to_pylist()], "written": found.written,
                  "unit": found.unit})
