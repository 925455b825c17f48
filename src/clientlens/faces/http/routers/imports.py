"""``POST /imports``: files on this machine imported into the warehouse the service
holds, for ``clientlens import`` handing its work to the running service
(``faces/service_client.py``). Only the service file's own token may ask
(``platform/service_file.py``: known to this process, readable by the workspace's
owner only): reading files named in a request is not something an API client of
another machine may make the service do, whatever its role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


@router.post("/imports", summary="Import files on this machine (the CLI's hand-off)",
             responses=ERRORS, include_in_schema=False)
async def import_files(body: ImportRequest, who: Principal,
                       backend: BackendDep) -> dict[str, Any]:
    if backend.local_holder is None or who is not backend.local_holder:
        raise ApiError(403, "forbidden", "only `clientlens import` on the service's own "
                       "machine may ask for an import (with the service file's token)")
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
