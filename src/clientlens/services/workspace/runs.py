"""Runs recorded in the application database, so their status outlives the process.

A run started over HTTP (``POST /runs``) or by ``jobs.run`` (the CLI's ``clientlens
run``) gets a ``runs`` row: status (queued, running, succeeded, failed), stage,
progress, as-of date, who asked and how (api, cli, python), timestamps, the result
summary or the error, and the Idempotency-Key of an HTTP request.

Interrupted runs: each row names the process that runs it (``owner``: host, pid and a
token drawn when the process started). ``mark_interrupted`` turns the queued and
running rows of a process that is gone into ``failed`` with stage ``interrupted``:
a process on this host that no longer exists, or this process's pid reused after a
restart (the token differs). Rows of another host are left alone: this process
cannot tell whether their process is alive. The service calls it before it answers
about runs, and ``clientlens runs`` before it lists them, so a run killed mid-way is
reported as failed/interrupted after the restart.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clientlens.appdb import AppDB, Run
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform import idempotency
from clientlens.platform.jsonsafe import plain

ACTIVE = ("queued", "running")
VIAS = ("api", "cli", "python")
_TOKEN = uuid.uuid4().hex[:12]  # drawn once per process start


class RunConflict(ClientlensError):
    """A run refused: one is in progress (``run_in_progress``), or the Idempotency-Key
    was used for another request (``idempotency_conflict``)."""

    code = "conflict"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message, code=code)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str
    stage: str
    progress: float
    as_of: dt.date | None
    requested_by: str
    via: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: dict[str, Any] | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def owner() -> str:
    """This process: host, pid and the token of this process start."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{_TOKEN}"


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back: they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _record(row: Run) -> RunRecord:
    return RunRecord(run_id=row.run_id, status=row.status, stage=row.stage,
                     progress=row.progress, as_of=row.as_of, requested_by=row.requested_by,
                     via=row.via, created_at=_utc(row.created_at),  # type: ignore[arg-type]
                     started_at=_utc(row.started_at), finished_at=_utc(row.finished_at),
                     result=json.loads(row.result) if row.result else None, error=row.error)


def result_summary(result: Any) -> dict[str, Any]:
    """A ``RunResult`` as the JSON kept with the run."""
    ch = result.entitlements
    return plain({
        "as_of": result.as_of, "customers": result.customers,
        "rulebook_version": result.rulebook_version,
        "definitions_version": getattr(result, "definitions_version", None),
        "seconds": result.seconds,
        "segments": [r.__dict__ for r in result.summary],
        "phases": dict(result.phases or []),
        "entitlements": None if ch is None else {
            "previous": ch.previous, "granted": ch.granted,
            "grace_started": ch.grace_started, "revoked": ch.revoked}})


def _request_hash(as_of: dt.date | None) -> str:
    return idempotency.request_hash({"as_of": plain(as_of)})


def _conflict(seen: Run) -> RunConflict:
    return RunConflict("this Idempotency-Key was used for a different request "
                       f"(run {seen.run_id}, as_of "
                       f"{seen.as_of if seen.as_of else 'the default'})",
                       idempotency.IDEMPOTENCY_CONFLICT)


def _gone(run_owner: str) -> bool:
    """Whether the process named by ``run_owner`` no longer exists (as far as this
    host can tell)."""
    parts = run_owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid_text, token = parts
    if token == _TOKEN:
        return False  # this process: its thread reports itself
    if host != socket.gethostname()[:120]:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # the pid of a process that was restarted
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def mark_interrupted(db: AppDB) -> list[str]:
    """Queued and running runs whose process is gone become failed/interrupted."""
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as s:
        rows = s.scalars(select(Run).where(Run.status.in_(ACTIVE))).all()
        gone = [r for r in rows if _gone(r.owner)]
        for row in gone:
            row.error = (f"interrupted: the process that ran it stopped while it was "
                         f"{row.stage}; the snapshot of that date, if one was stored "
                         "before, is unchanged; start the run again")
            row.status, row.stage, row.finished_at = "failed", "interrupted", now
    return [r.run_id for r in gone]


def begin(db: AppDB, *, as_of: dt.date | None, requested_by: str, via: str,
          idempotency_key: str | None = None, status: str = "queued",
          exclusive: bool = True) -> tuple[RunRecord, bool]:
    """Record a new run. With an Idempotency-Key this user used before, the run it
    started is returned instead (second item True), or ``RunConflict`` if that was
    for another as-of date. ``exclusive``: refuse while another run is queued or
    running (``RunConflict`` naming it)."""
    if via not in VIAS:
        raise ClientlensError(f"via must be one of {', '.join(VIAS)}, not '{via}'")
    mark_interrupted(db)
    digest = _request_hash(as_of)
    for attempt in range(2):
        try:
            with db.transaction() as s:
                if idempotency_key is not None:
                    seen = idempotency.find_keyed(s, Run, requested_by, idempotency_key)
                    if seen is not None:
                        return _record(idempotency.check_replay(seen, digest, _conflict)), True
                if exclusive:
                    busy = s.scalars(select(Run).where(Run.status.in_(ACTIVE))
                                     .order_by(Run.created_at)).first()
                    if busy is not None:
                        raise RunConflict(f"run {busy.run_id} is still {busy.status}; try "
                                          "again when it has finished", "run_in_progress")
                now = dt.datetime.now(dt.UTC)
                row = Run(run_id=uuid.uuid4().hex, status=status, stage=status,
                          progress=0.0, as_of=as_of, requested_by=requested_by, via=via,
                          created_at=now, started_at=now if status == "running" else None,
                          idempotency_key=idempotency_key,
                          request_hash=digest if idempotency_key is not None else None,
                          owner=owner())
                s.add(row)
                s.flush()
                return _record(row), False
        except IntegrityError:  # the same key from a parallel request: replay it
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def update(db: AppDB, run_id: str, **fields: Any) -> None:
    """Change a run's status, stage, progress, as_of, timestamps, result or error."""
    if "result" in fields and fields["result"] is not None:
        fields["result"] = json.dumps(plain(fields["result"]), ensure_ascii=False)
    with db.transaction() as s:
        row = s.get(Run, run_id)
        if row is None:
            raise NotFoundError(f"unknown run '{run_id}'")
        for name, value in fields.items():
            setattr(row, name, value)


def get_run(db: AppDB, run_id: str) -> RunRecord:
    mark_interrupted(db)
    with db.transaction() as s:
        row = s.get(Run, run_id)
        if row is None:
            raise NotFoundError(f"unknown run '{run_id}'")
        return _record(row)


def list_runs(db: AppDB, limit: int = 20) -> list[RunRecord]:
    """The newest runs first."""
    mark_interrupted(db)
    with db.transaction() as s:
        rows = s.scalars(select(Run).order_by(Run.created_at.desc(), Run.run_id)
                         .limit(limit)).all()
        return [_record(r) for r in rows]


def close_if_active(db: AppDB, run_id: str, error: str) -> bool:
    """Mark a run failed if it is still queued or running (its thread is gone)."""
    with db.transaction() as s:
        row = s.get(Run, run_id)
        if row is None or row.status not in ACTIVE:
            return False
        row.status, row.stage, row.error = "failed", "failed", error
        row.finished_at = dt.datetime.now(dt.UTC)
        return True
