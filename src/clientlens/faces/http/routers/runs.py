"""Segmentation runs: ``POST /runs`` starts one in a background thread (one at a
time), ``GET /runs/{id}`` reports it. Runs and their Idempotency-Keys are recorded
in the application database (``services/workspace/runs.py``), so they outlive a
restart."""

import datetime as dt
import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi import Path as PathParam

from clientlens.faces.http.deps import AppDB, BackendDep, RunReader, RunWriter
from clientlens.faces.http.errors import ERRORS, NOT_FOUND, ApiError, check_date, response
from clientlens.faces.http.schemas import RunRequest, RunStatus
from clientlens.faces.http.state import Backend, RunState
from clientlens.model.errors import ClientlensError

log = logging.getLogger("clientlens.api")
router = APIRouter(tags=["runs"])


def _run(backend: Backend, state: RunState) -> None:
    """The run, in its thread: its status is saved as it goes."""
    from clientlens.services.workspace import jobs, runs

    def save(**fields: Any) -> None:
        try:
            runs.update(backend.db, state.run_id, **fields)
        except Exception:  # the app DB is gone: the log has it, the row says running
            log.exception("run %s: cannot record %s", state.run_id, fields.get("status"))

    save(status="running", stage="segmenting", progress=0.1,
         started_at=dt.datetime.now(dt.UTC))
    try:
        result = jobs.run(backend.root, state.as_of, record=False)
        save(status="succeeded", stage="done", progress=1.0, as_of=result.as_of,
             result=runs.result_summary(result), finished_at=dt.datetime.now(dt.UTC))
    except ClientlensError as e:
        save(status="failed", stage="failed", error=str(e),
             finished_at=dt.datetime.now(dt.UTC))
    except Exception as e:  # a bug: keep the traceback in the log, not in the response
        log.exception("run %s failed", state.run_id)
        save(status="failed", stage="failed",
             error=f"internal error ({type(e).__name__}); see the server log",
             finished_at=dt.datetime.now(dt.UTC))
    finally:
        backend.forget_snapshot()


@router.post("/runs", response_model=RunStatus, status_code=202,
             summary="Start a segmentation run in the background",
             responses={**ERRORS, **response(409, "A run is already in progress.")})
def start_run(who: RunWriter, backend: BackendDep,
              body: RunRequest | None = None,
              idempotency_key: Annotated[str | None, Header(
                  description="The same key returns the same run, also after a "
                              "restart.", max_length=200)
              ] = None) -> RunStatus:
    """Segments every customer for `as_of` and stores the snapshot, one run at a
    time. Poll `GET /runs/{run_id}` for its status and result. The run is recorded
    in the application database."""
    from clientlens.services.workspace import runs

    as_of = check_date(body.as_of if body else None)
    with backend.runs_lock:
        for known in list(backend.runs.values()):
            if known.thread is not None and not known.thread.is_alive():
                runs.close_if_active(backend.db, known.run_id,
                                     "internal error: the run's thread stopped")
        try:
            rec, replayed = runs.begin(backend.db, as_of=as_of, requested_by=who.user,
                                       via="api", idempotency_key=idempotency_key)
        except runs.RunConflict as e:
            if e.code == "run_in_progress":
                backend.audit(who, "run.start", "runs", {"as_of": as_of},
                              outcome="conflict")
            raise ApiError.of(e) from None
        if replayed:
            return RunState.out(rec)
        state = RunState(run_id=rec.run_id, as_of=as_of)
        backend.runs[state.run_id] = state
        state.thread = threading.Thread(target=_run, args=(backend, state), daemon=True,
                                        name=f"clientlens-run-{state.run_id[:8]}")
        backend.audit(who, "run.start", f"runs/{state.run_id}",
                      {"as_of": as_of, "idempotency_key": idempotency_key is not None})
        state.thread.start()
    return RunState.out(rec)


@router.get("/runs/{run_id}", response_model=RunStatus,
            summary="A run's status, progress and result", responses={**ERRORS, **NOT_FOUND})
def get_run(run_id: Annotated[str, PathParam(max_length=64)], _who: RunReader,
            db: AppDB) -> RunStatus:
    """Runs are recorded in the application database, with those started by
    `clientlens run`: a run outlives a restart of the service, and one whose process
    stopped before it finished is reported failed, with stage `interrupted`."""
    from clientlens.services.workspace import runs

    return RunState.out(runs.get_run(db, run_id))
