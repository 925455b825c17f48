"""Rule governance over HTTP: ``/definitions/...`` (docs/governance.md).

The same steps as ``clientlens definitions``, through ``services/workspace/governance_jobs``:
the token's holder is the acting user and its role what they may do. Reading needs
``definitions:read``; submitting ``definitions:submit``; deciding and scheduling
``definitions:approve``, by a user other than the maker (four eyes). The service checks
the write permissions itself, so a refusal is audited with the reason.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from clientlens.faces.http.deps import BackendDep, DefinitionsReader, Principal
from clientlens.faces.http.errors import ERRORS, NOT_FOUND, response
from clientlens.platform.jsonsafe import plain

router = APIRouter(tags=["definitions"])
VersionId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="The version number.")]
CONFLICT = {**ERRORS, **NOT_FOUND,
            **response(403, "The role may not, or the maker decides its own change."),
            **response(409, "The version is not in a state this step applies to.")}


class Decision(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why: kept in the audit log.")


class Approval(Decision):
    effective_from: dt.date | None = Field(
        None, description="The date it takes effect; default today.")
    hold: bool = Field(False, description="Approve without a date (schedule it later).")


class Scheduling(Decision):
    effective_from: dt.date


class Submission(Decision):
    files: dict[str, str] | None = Field(
        None, description="The definition files by relative path (glossary.yaml, "
                          "rulebook.yaml, ...); default: the workspace's definitions/.")


def _version(rec: Any, with_files: bool = False) -> dict[str, Any]:
    return plain(rec.as_dict(with_files=with_files))


@router.get("/definitions/versions", summary="Definition versions, newest first",
            responses=ERRORS)
def list_versions(_who: DefinitionsReader, backend: BackendDep,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    from clientlens.services.workspace import governance_jobs as gov

    found = gov.history(backend.root, limit)
    return {"governed": found.governed,
            "in_force": found.in_force.version_id if found.in_force else None,
            "versions": [_version(v) for v in found.versions]}


@router.get("/definitions/versions/{version_id}", summary="One version, with its files",
            responses={**ERRORS, **NOT_FOUND})
def get_version(version_id: VersionId, _who: DefinitionsReader,
                backend: BackendDep) -> dict[str, Any]:
    from clientlens.services.workspace import governance_jobs as gov

    return _version(gov.version(backend.root, version_id), with_files=True)


@router.post("/definitions/versions", status_code=201, responses=CONFLICT,
             summary="Submit definitions for approval")
def submit(body: Submission, who: Principal, backend: BackendDep) -> dict[str, Any]:
    """A draft that does not load is refused (422) with every problem: file, line and a
    suggestion."""
    from clientlens.services.workspace import governance_jobs as gov

    return _version(gov.submit(backend.root, by=who.user, role=who.role, via="api",
                               reason=body.reason, files=body.files))


@router.post("/definitions/versions/{version_id}/approve", responses=CONFLICT,
             summary="Approve a submitted version (four eyes)")
def approve(version_id: VersionId, body: Approval, who: Principal,
            backend: BackendDep) -> dict[str, Any]:
    from clientlens.services.workspace import governance_jobs as gov

    return _version(gov.approve(backend.root, version_id, by=who.user, role=who.role,
                                via="api", reason=body.reason,
                                effective_from=body.effective_from, hold=body.hold))


@router.post("/definitions/versions/{version_id}/reject", responses=CONFLICT,
             summary="Reject a submitted version (four eyes)")
def reject(version_id: VersionId, body: Decision, who: Principal,
           backend: BackendDep) -> dict[str, Any]:
    from clientlens.services.workspace import governance_jobs as gov

    return _version(gov.reject(backend.root, version_id, by=who.user, role=who.role,
                               via="api", reason=body.reason))


@router.post("/definitions/versions/{version_id}/schedule", responses=CONFLICT,
             summary="Date an approved version")
def schedule(version_id: VersionId, body: Scheduling, who: Principal,
             backend: BackendDep) -> dict[str, Any]:
    from clientlens.services.workspace import governance_jobs as gov

    return _version(gov.schedule(backend.root, version_id, body.effective_from, by=who.user,
                                 role=who.role, via="api", reason=body.reason))


@router.post("/definitions/versions/{version_id}/rollback", status_code=201,
             responses=CONFLICT, summary="Submit an earlier approved version again")
def rollback(version_id: VersionId, body: Decision, who: Principal,
             backend: BackendDep) -> dict[str, Any]:
    from clientlens.services.workspace import governance_jobs as gov

    return _version(gov.rollback(backend.root, version_id, by=who.user, role=who.role,
                                 via="api", reason=body.reason))


Ref = Annotated[str | None, Query(max_length=16, pattern=r"^(files|current|\d{1,9})$")]


@router.get("/definitions/diff", summary="What a version changes, in words",
            responses={**ERRORS, **NOT_FOUND})
def diff(_who: DefinitionsReader, backend: BackendDep, new: Ref = None,
         old: Ref = None) -> dict[str, Any]:
    """`new`: a version number or `files` (default); `old`: a version number or
    `current` (default: the version in force today)."""
    from clientlens.services.workspace import governance_jobs as gov

    found = gov.diff(backend.root, new, old, warehouse=backend.engine)
    return {"old": found.old, "new": found.new,
            "changes": [{"area": c.area, "subject": c.subject, "text": c.text}
                        for c in found.changes]}


@router.get("/definitions/impact", summary="What-if impact on the latest snapshot",
            responses={**ERRORS, **NOT_FOUND})
def impact(_who: DefinitionsReader, backend: BackendDep, draft: Ref = None,
           sample: Annotated[int, Query(ge=0, le=50)] = 5) -> dict[str, Any]:
    """The segment migration matrix current -> draft (customers, balances), entitlements
    granted and revoked, decisions that move, moved customers explained. Nothing is
    stored. Sample explanations name customers: the role needs definitions:read."""
    from clientlens.services.workspace import governance_jobs as gov

    return plain(gov.impact(backend.root, draft, sample=sample,
                            warehouse=backend.engine).as_dict())
