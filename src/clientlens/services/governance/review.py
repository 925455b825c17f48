"""The steps of a change: submit, approve, reject, schedule, roll back; four eyes and the
audit log.

- Submitting needs ``definitions:submit``; deciding and scheduling ``definitions:approve``
  (``platform/access.py``). The maker never decides its own change: refused here, and by
  the database itself (``ck_definition_versions_four_eyes``).
- A decision is one conditional update (``where status = 'submitted'``): two approvers
  racing on the same version get one decision; the other is told who decided first.
- Every step, and every refusal, is an ``audit_log`` row with who, when and why, written
  in the step's own transaction (a refusal in a transaction of its own).
- Rolling back is submitting an earlier approved version's files again, which another
  user then approves like any change: the files it brings back passed four eyes once,
  and going back to them is a decision too.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from clientlens.appdb import AppDB, DefinitionVersion
from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.model.errors import DefinitionError, Problem
from clientlens.platform import audit
from clientlens.platform.access import holders_of, may
from clientlens.services.governance.versions import (
    IN_EFFECT,
    PENDING,
    Actor,
    GovernanceError,
    VersionRecord,
    get,
    in_force,
    write_files,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _audit(s: Any, actor: Actor, action: str, version_id: int | None,
           detail: dict[str, Any], outcome: str = "ok") -> None:
    resource = f"definitions/{version_id}" if version_id is not None else "definitions"
    s.add(audit.entry(actor.user, actor.role, action, resource,
                      {**detail, "via": actor.via}, outcome))


def _refuse(db: AppDB, actor: Actor, action: str, version_id: int | None,
            error: GovernanceError) -> GovernanceError:
    """Audit a refused step (its own transaction), then hand back the error to raise."""
    with db.transaction() as s:
        _audit(s, actor, action, version_id, {"refused": str(error)}, outcome=error.code)
    return error


def require(db: AppDB, actor: Actor, permission: str, action: str,
            version_id: int | None = None) -> None:
    if not any(may(r, permission) for r in actor.roles):
        who = ", ".join(sorted(holders_of(permission)))
        raise _refuse(db, actor, action, version_id, GovernanceError(
            f"{actor.user} (role: {actor.role}) may not {action.split('.')[-1]} definitions: "
            f"that needs the permission {permission}, held by {who}; an administrator "
            f"gives it with `clientlens token add {actor.user} --role ROLE`",
            code="not_permitted"))


def _reason(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise GovernanceError(f"{what} needs a reason (--reason): it goes in the audit log "
                              "and the version's history", code="invalid_request")
    return text


def check_files(found: dict[str, str]) -> Definitions:
    """Load files given whole (the API, a rollback); every problem at once, named by
    the file's relative path."""
    if not found:
        raise GovernanceError("no definition files given", code="invalid_request")
    with tempfile.TemporaryDirectory(prefix="clientlens-draft-") as tmp:
        write_files(Path(tmp), found)
        try:
            return load_definitions(tmp)
        except DefinitionError as e:
            raise DefinitionError([Problem(p.message, _relative(p.file, tmp), p.line, p.where)
                                   for p in e.problems]) from None


def _relative(file: str | None, folder: str) -> str | None:
    if file is None:
        return None
    try:
        return Path(file).relative_to(folder).as_posix()
    except ValueError:
        return file


def submit(db: AppDB, actor: Actor, found: dict[str, str], defs: Definitions, reason: str,
           *, rollback_of: int | None = None) -> VersionRecord:
    """Record ``found`` (already loaded and checked as ``defs``) as a submitted version."""
    action = "definitions.rollback" if rollback_of is not None else "definitions.submit"
    require(db, actor, "definitions:submit", action, rollback_of)
    reason = _reason(reason, "a submission")
    current = in_force(db, dt.date.today())
    if current is not None and current.files == found:
        raise _refuse(db, actor, action, rollback_of, GovernanceError(
            f"nothing to submit: these files are version {current.version_id}, in force "
            "today", code="nothing_to_submit"))
    with db.transaction() as s:
        for row in s.scalars(select(DefinitionVersion)
                             .where(DefinitionVersion.status.in_(PENDING))).all():
            if json.loads(row.files) == found:
                raise GovernanceError(f"these files are already submitted as version "
                                      f"{row.version_id} by {row.submitted_by}; it awaits "
                                      "a decision", code="nothing_to_submit")
        row = DefinitionVersion(
            content_version=defs.version, name=defs.name,
            files=json.dumps(found, ensure_ascii=False), status="submitted", reason=reason,
            submitted_by=actor.user, submitted_at=_now(),
            based_on=current.version_id if current else None, rollback_of=rollback_of)
        s.add(row)
        s.flush()
        _audit(s, actor, action, row.version_id,
               {"reason": reason, "content_version": defs.version, "files": sorted(found),
                "based_on": row.based_on, "rollback_of": rollback_of})
        return VersionRecord.of(row)


def rollback(db: AppDB, actor: Actor, to_version: int, reason: str) -> VersionRecord:
    """Submit an earlier approved version's files again (another user approves it)."""
    target = get(db, to_version)
    if target.status not in IN_EFFECT:
        raise _refuse(db, actor, "definitions.rollback", to_version, GovernanceError(
            f"version {to_version} is {target.status}: only a version that was approved "
            "and in effect can be rolled back to", code="wrong_state"))
    defs = check_files(target.files)
    return submit(db, actor, target.files, defs, reason, rollback_of=to_version)


def _decided_already(rec: VersionRecord) -> GovernanceError:
    if rec.decided_by:
        return GovernanceError(
            f"version {rec.version_id} is {rec.status}: decided by {rec.decided_by} at "
            f"{rec.decided_at:%Y-%m-%d %H:%M:%S}", code="wrong_state")
    return GovernanceError(f"version {rec.version_id} is {rec.status}, not submitted",
                           code="wrong_state")


def _four_eyes(db: AppDB, actor: Actor, rec: VersionRecord, action: str) -> None:
    if rec.submitted_by == actor.user:
        raise _refuse(db, actor, action, rec.version_id, GovernanceError(
            f"{actor.user} submitted version {rec.version_id} and cannot decide it: four "
            "eyes, another user holding definitions:approve must", code="four_eyes"))


def approve(db: AppDB, actor: Actor, version_id: int, reason: str, *,
            effective_from: dt.date | None = None, hold: bool = False) -> VersionRecord:
    """Approve a submitted version; it takes effect on ``effective_from`` (default
    today) unless ``hold`` (then ``schedule`` dates it later)."""
    require(db, actor, "definitions:approve", "definitions.approve", version_id)
    reason = _reason(reason, "an approval")
    rec = get(db, version_id)
    _four_eyes(db, actor, rec, "definitions.approve")
    now = _now()
    values: dict[str, Any] = {"status": "approved", "decided_by": actor.user,
                              "decided_at": now, "decision_note": reason}
    if not hold:
        values.update(status="scheduled", effective_from=effective_from or dt.date.today(),
                      scheduled_by=actor.user, scheduled_at=now)
    with db.transaction() as s:
        done = s.execute(update(DefinitionVersion)
                         .where(DefinitionVersion.version_id == version_id,
                                DefinitionVersion.status == "submitted",
                                DefinitionVersion.submitted_by != actor.user)
                         .values(**values)).rowcount
        if done:
            _audit(s, actor, "definitions.approve", version_id,
                   {"reason": reason, "content_version": rec.content_version,
                    "submitted_by": rec.submitted_by})
            if not hold:
                _audit(s, actor, "definitions.schedule", version_id,
                       {"effective_from": values["effective_from"], "reason": reason})
    if not done:
        raise _refuse(db, actor, "definitions.approve", version_id,
                      _decided_already(get(db, version_id)))
    return get(db, version_id)


def reject(db: AppDB, actor: Actor, version_id: int, reason: str) -> VersionRecord:
    require(db, actor, "definitions:approve", "definitions.reject", version_id)
    reason = _reason(reason, "a rejection")
    rec = get(db, version_id)
    _four_eyes(db, actor, rec, "definitions.reject")
    with db.transaction() as s:
        done = s.execute(update(DefinitionVersion)
                         .where(DefinitionVersion.version_id == version_id,
                                DefinitionVersion.status == "submitted",
                                DefinitionVersion.submitted_by != actor.user)
                         .values(status="rejected", decided_by=actor.user, decided_at=_now(),
                                 decision_note=reason)).rowcount
        if done:
            _audit(s, actor, "definitions.reject", version_id,
                   {"reason": reason, "submitted_by": rec.submitted_by})
    if not done:
        raise _refuse(db, actor, "definitions.reject", version_id,
                      _decided_already(get(db, version_id)))
    return get(db, version_id)


def schedule(db: AppDB, actor: Actor, version_id: int, effective_from: dt.date,
             reason: str) -> VersionRecord:
    """Date an approved version, or move a scheduled one not yet in effect."""
    require(db, actor, "definitions:approve", "definitions.schedule", version_id)
    reason = _reason(reason, "scheduling")
    today = dt.date.today()
    with db.transaction() as s:
        done = s.execute(update(DefinitionVersion)
                         .where(DefinitionVersion.version_id == version_id,
                                (DefinitionVersion.status == "approved")
                                | ((DefinitionVersion.status == "scheduled")
                                   & (DefinitionVersion.effective_from > today)))
                         .values(status="scheduled", effective_from=effective_from,
                                 scheduled_by=actor.user, scheduled_at=_now())).rowcount
        if done:
            _audit(s, actor, "definitions.schedule", version_id,
                   {"effective_from": effective_from, "reason": reason})
    if not done:
        rec = get(db, version_id)
        raise _refuse(db, actor, "definitions.schedule", version_id, GovernanceError(
            f"version {version_id} is {rec.status}"
            + (f" since {rec.effective_from}" if rec.effective_from else "")
            + ": only an approved version, or a scheduled one not yet in effect, can be "
              "scheduled; to go back to it, roll back", code="wrong_state"))
    return get(db, version_id)
