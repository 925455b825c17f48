"""The Python API of rule governance: functions over a workspace path, as ``jobs`` has for
runs (the CLI's ``clientlens definitions`` and the HTTP service call these)::

    from clientlens.services.workspace import governance_jobs as gov
    v = gov.submit("my-bank", by="petrova", reason="status threshold 2.5M from Q1")
    gov.diff("my-bank", v.version_id)          # against the version in force
    gov.impact("my-bank", v.version_id)        # on the latest snapshot
    gov.approve("my-bank", v.version_id, by="ivanov", reason="agreed at ALCO 14/12")

Who acts: ``by`` (the command line's ``--by``, default the login name) with the roles of
that user's API tokens; over HTTP the token's holder and role (``actor``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform import tokens
from clientlens.services.governance import review, versions
from clientlens.services.governance.diff import Change, semantic_diff
from clientlens.services.governance.impact import Impact
from clientlens.services.governance.versions import Actor, VersionRecord
from clientlens.services.workspace.folder import Workspace

FILES = "files"      # the workspace's definitions/ folder: the draft being edited
CURRENT = "current"  # the version in force today (ungoverned: the latest snapshot's)
Warehouse = Callable[[], AbstractContextManager[Any]]


def actor(db: Any, user: str | None, *, role: str | None = None, via: str = "cli") -> Actor:
    """``user`` (default: the login name) with ``role`` (HTTP: the token's), else the
    roles of the user's API tokens."""
    from clientlens.services.workspace.runs import current_user

    user = user or current_user()
    if role is not None:
        return Actor(user, frozenset({role}), via)
    return Actor(user, frozenset(t.role for t in tokens.records(db) if t.user == user), via)


def submit(path: str | Path, *, by: str | None = None, reason: str,
           files: dict[str, str] | None = None, role: str | None = None,
           via: str = "cli") -> VersionRecord:
    """Submit the workspace's definition files (or ``files`` given whole) for approval;
    a draft that does not load is refused with every problem at once."""
    ws = Workspace(path)
    with ws.app_db() as db:
        who = actor(db, by, role=role, via=via)
        review.require(db, who, "definitions:submit", "definitions.submit")  # before reading
        if files is None:
            defs = load_definitions(ws.definitions_dir)  # DefinitionError: every problem
            files = versions.folder_files(ws.definitions_dir)
        else:
            defs = review.check_files(files)
        return review.submit(db, who, files, defs, reason)


def approve(path: str | Path, version_id: int, *, by: str | None = None, reason: str,
            effective_from: dt.date | None = None, hold: bool = False,
            role: str | None = None, via: str = "cli") -> VersionRecord:
    ws = Workspace(path)
    with ws.app_db() as db:
        return review.approve(db, actor(db, by, role=role, via=via), version_id, reason,
                              effective_from=effective_from, hold=hold)


def reject(path: str | Path, version_id: int, *, by: str | None = None, reason: str,
           role: str | None = None, via: str = "cli") -> VersionRecord:
    ws = Workspace(path)
    with ws.app_db() as db:
        return review.reject(db, actor(db, by, role=role, via=via), version_id, reason)


def schedule(path: str | Path, version_id: int, effective_from: dt.date, *,
             by: str | None = None, reason: str, role: str | None = None,
             via: str = "cli") -> VersionRecord:
    ws = Workspace(path)
    with ws.app_db() as db:
        return review.schedule(db, actor(db, by, role=role, via=via), version_id,
                               effective_from, reason)


def rollback(path: str | Path, to_version: int, *, by: str | None = None, reason: str,
             role: str | None = None, via: str = "cli") -> VersionRecord:
    """Submit an earlier approved version again; another user approves it."""
    ws = Workspace(path)
    with ws.app_db() as db:
        return review.rollback(db, actor(db, by, role=role, via=via), to_version, reason)


@dataclass(frozen=True)
class VersionHistory:
    versions: list[VersionRecord]
    in_force: VersionRecord | None   # today
    governed: bool


def history(path: str | Path, limit: int = 50) -> VersionHistory:
    ws = Workspace(path)
    with ws.app_db() as db:
        versions.refresh_states(db, dt.date.today())
        return VersionHistory(versions.listing(db, limit), versions.in_force(db, dt.date.today()),
                              versions.governed(db))


def version(path: str | Path, version_id: int) -> VersionRecord:
    with Workspace(path).app_db() as db:
        return versions.get(db, version_id)


def _opener(ws: Workspace, warehouse: Warehouse | None) -> Warehouse:
    return warehouse or (lambda: ws.engine(read_only=True))


def _resolve(ws: Workspace, ref: str | int | None, default: str,
             warehouse: Warehouse | None = None) -> tuple[Definitions, dict[str, str], str]:
    """Definitions, files and a name for ``files``, ``current`` or a version number."""
    ref = default if ref is None else str(ref)
    if ref == FILES:
        return (load_definitions(ws.definitions_dir), versions.folder_files(ws.definitions_dir),
                "the files in definitions/")
    with ws.app_db() as db:
        if ref == CURRENT:
            found = ws.in_force(dt.date.today())
            if found.version is None:
                stored = _latest_stored(ws, db, warehouse)
                if stored is not None:
                    return stored
                return (found.definitions, versions.folder_files(ws.definitions_dir),
                        "the files in definitions/ (ungoverned)")
            rec = found.version
        else:
            try:
                rec = versions.get(db, int(ref))
            except ValueError:
                raise ClientlensError(f"'{ref}' is not a version number, '{FILES}' or "
                                      f"'{CURRENT}'") from None
        return versions.load_version(rec, ws.root), rec.files, f"version {rec.version_id}"


def _latest_stored(ws: Workspace, db: Any, warehouse: Warehouse | None
                   ) -> tuple[Definitions, dict[str, str], str] | None:
    """An ungoverned workspace's current definitions: those of its latest snapshot."""
    from clientlens.services.governance.impact import snapshot_version
    from clientlens.services.profiling.history import archived_definitions
    from clientlens.services.profiling.segmentation import latest_as_of

    with _opener(ws, warehouse)() as engine:
        try:
            day = latest_as_of(engine)
        except NotFoundError:
            return None
        stamp = snapshot_version(engine, day)
    defs = archived_definitions(db, stamp) if stamp else None
    if defs is None:
        return None
    return defs, versions.folder_files(defs.folder) if Path(defs.folder).is_dir() else {}, \
        f"the rulebook of the latest run ({stamp})"


@dataclass(frozen=True)
class Diff:
    old: str
    new: str
    changes: list[Change]


def diff(path: str | Path, new: str | int | None = None, old: str | int | None = None, *,
         warehouse: Warehouse | None = None) -> Diff:
    """What ``new`` (default: the files) changes against ``old`` (default: the version in
    force today), in words. ``warehouse``: how to open the warehouse (a service holding it
    open passes its own)."""
    ws = Workspace(path)
    new_defs, new_files, new_name = _resolve(ws, new, FILES, warehouse)
    old_defs, old_files, old_name = _resolve(ws, old, CURRENT, warehouse)
    return Diff(old_name, new_name, semantic_diff(old_defs, new_defs, old_files, new_files))


def impact(path: str | Path, draft: str | int | None = None, *, sample: int = 5,
           warehouse: Warehouse | None = None) -> Impact:
    """The draft (default: the files) against the latest snapshot, without storing
    anything."""
    from clientlens.services.governance.impact import impact as what_if
    from clientlens.services.governance.impact import snapshot_version
    from clientlens.services.profiling.history import archived_definitions
    from clientlens.services.profiling.segmentation import latest_as_of

    ws = Workspace(path)
    draft_defs, _, _ = _resolve(ws, draft, FILES, warehouse)
    with _opener(ws, warehouse)() as engine:
        day = latest_as_of(engine)
        stamp = snapshot_version(engine, day)
        if stamp is None:
            raise ClientlensError(f"the snapshot of {day} mixes rulebook versions; run it "
                                  "again before asking for an impact")
        with ws.app_db() as db:
            stored = archived_definitions(db, stamp)
        if stored is None:
            raise NotFoundError(f"the definitions of the latest snapshot ({stamp}) are not "
                                "archived; run it again first")
        return what_if(engine, stored, draft_defs, day, sample=sample)
