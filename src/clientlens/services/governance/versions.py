"""Definition versions in the application database, and which one is in force on a date.

A version is the workspace's definition files as submitted (glossary, rulebook, ratings,
catalogue, scorecards, activity model, referral programmes), kept whole and never
changed: ``submitted -> approved | rejected -> scheduled -> active -> superseded``. The
decisions themselves (four eyes, audit) are in ``review.py``.

Which definitions a run uses (docs/governance.md):

- A workspace that never had a version approved is *ungoverned*: its files are in force,
  as before governance existed.
- Once a version was approved, the workspace is *governed*: a run for date D uses the
  approved version in force on D, the scheduled one with the latest ``effective_from``
  on or before D (ties: the one scheduled last). The files in ``definitions/`` are then
  only drafts; a date before every effective date has no definitions and is refused.

States ``active`` and ``superseded`` are kept up to date by ``refresh_states`` (called
whenever the version in force is asked for), so the table says what is in force today
without a scheduler of its own; the version in force on a date never depends on them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from clientlens.appdb import AppDB, DefinitionVersion
from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform import audit, files

IN_EFFECT = ("scheduled", "active", "superseded")  # have an effective date
APPROVED = ("approved", *IN_EFFECT)  # passed four eyes
PENDING = ("submitted",)
#: What a version's files are: the definitions loader's files plus referral programmes.
PATTERNS = ("*.yaml", "scorecards/*.yaml", "referrals/*.yaml")
FILE_NAME = re.compile(r"(?:(?:scorecards|referrals)/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.yaml")
STATE_ACTIONS = {"active": "definitions.activate", "superseded": "definitions.supersede"}
CACHE = ".governance"  # in the workspace: approved versions' files, as runs load them


class GovernanceError(ClientlensError):
    """A governance step refused: ``not_permitted`` (the role lacks the permission),
    ``four_eyes`` (the maker deciding its own change), ``wrong_state`` (already decided,
    or not in a state the step applies to), ``not_in_force`` (a governed workspace with
    no approved version on the date), ``nothing_to_submit``."""

    code = "wrong_state"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message, code=code)


@dataclass(frozen=True)
class VersionRecord:
    version_id: int
    content_version: str
    name: str
    status: str
    reason: str
    submitted_by: str
    submitted_at: dt.datetime
    based_on: int | None
    rollback_of: int | None
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    effective_from: dt.date | None
    scheduled_by: str | None
    scheduled_at: dt.datetime | None
    activated_at: dt.datetime | None
    superseded_at: dt.datetime | None
    files: dict[str, str]

    @classmethod
    def of(cls, row: DefinitionVersion) -> VersionRecord:
        values = {k: getattr(row, k) for k in cls.__dataclass_fields__ if k != "files"}
        return cls(**values, files=json.loads(row.files))

    def as_dict(self, *, with_files: bool = False) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "files"}
        out["files"] = self.files if with_files else sorted(self.files)
        return out

    def state_on(self, day: dt.date) -> str:
        """``scheduled`` versions whose date came are ``active`` until ``refresh_states``
        runs; this says so without waiting for it."""
        if self.status == "scheduled" and self.effective_from and self.effective_from <= day:
            return "active (from today's refresh)"
        return self.status


@dataclass(frozen=True)
class Actor:
    """Who acts and with which roles (a token's role over HTTP; the roles of the user's
    API tokens on the command line)."""

    user: str
    roles: frozenset[str]
    via: str = "cli"

    @property
    def role(self) -> str:
        return ",".join(sorted(self.roles)) or "none"


# -- files ------------------------------------------------------------------------------

def folder_files(folder: str | Path) -> dict[str, str]:
    """The definition files of a folder, by relative path."""
    folder = Path(folder)
    found: dict[str, str] = {}
    for pattern in PATTERNS:
        for path in sorted(folder.glob(pattern)):
            found[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
    return dict(sorted(found.items()))


def write_files(folder: Path, found: dict[str, str]) -> None:
    """``found`` into ``folder`` (private), leaving it holding exactly those files."""
    files.ensure_folder(folder)
    for name, text in found.items():
        if not FILE_NAME.fullmatch(name) or "\x00" in text:
            raise GovernanceError(f"{name!r} is not a definition file: use names like "
                                  "rulebook.yaml, scorecards/solvency.yaml or "
                                  "referrals/friends.yaml", code="invalid_request")
        target = folder / name
        files.ensure_folder(target.parent)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            files.write_text(target, text)
    for pattern in PATTERNS:
        for path in folder.glob(pattern):
            if path.relative_to(folder).as_posix() not in found:
                path.unlink()


def load_version(rec: VersionRecord, workspace_root: Path) -> Definitions:
    """A version's definitions, loaded from its files kept in the workspace's
    ``.governance/`` (a folder per version, so the rulebook archive can read them)."""
    folder = workspace_root / CACHE / f"v{rec.version_id}"
    write_files(folder, rec.files)
    defs = load_definitions(folder)
    if defs.version != rec.content_version:
        raise ClientlensError(f"definitions version {rec.version_id} loads as {defs.version}, "
                              f"not {rec.content_version}: its stored files were changed")
    return defs


# -- reading ----------------------------------------------------------------------------

def get(db: AppDB, version_id: int) -> VersionRecord:
    with db.transaction() as s:
        row = s.get(DefinitionVersion, version_id)
        if row is None:
            raise NotFoundError(f"no definitions version {version_id}; see `clientlens "
                                "definitions history`")
        return VersionRecord.of(row)


def listing(db: AppDB, limit: int = 50) -> list[VersionRecord]:
    """Versions, newest first."""
    with db.transaction() as s:
        rows = s.scalars(select(DefinitionVersion)
                         .order_by(DefinitionVersion.version_id.desc()).limit(limit)).all()
        return [VersionRecord.of(r) for r in rows]


def governed(db: AppDB) -> bool:
    """Whether any version was ever approved (then only approved versions run)."""
    with db.transaction() as s:
        return s.scalar(select(DefinitionVersion.version_id)
                        .where(DefinitionVersion.status.in_(APPROVED)).limit(1)) is not None


def in_force(db: AppDB, day: dt.date) -> VersionRecord | None:
    """The approved version in force on ``day``, or None."""
    with db.transaction() as s:
        row = s.scalars(
            select(DefinitionVersion)
            .where(DefinitionVersion.status.in_(IN_EFFECT),
                   DefinitionVersion.effective_from <= day)
            .order_by(DefinitionVersion.effective_from.desc(),
                      DefinitionVersion.scheduled_at.desc(),
                      DefinitionVersion.version_id.desc()).limit(1)).first()
        return VersionRecord.of(row) if row is not None else None


def first_effective(db: AppDB) -> dt.date | None:
    with db.transaction() as s:
        return s.scalar(select(DefinitionVersion.effective_from)
                        .where(DefinitionVersion.status.in_(IN_EFFECT))
                        .order_by(DefinitionVersion.effective_from).limit(1))


@dataclass(frozen=True)
class InForce:
    """The definitions a run on a date uses, and the governed version they are (None:
    an ungoverned workspace's files)."""

    definitions: Definitions
    version: VersionRecord | None

    @property
    def version_id(self) -> int | None:
        return self.version.version_id if self.version else None


def definitions_in_force(db: AppDB, workspace_root: Path, day: dt.date,
                         files_definitions: Any) -> InForce:
    """The definitions in force on ``day``; ``files_definitions`` loads the workspace's
    files (only called for an ungoverned workspace)."""
    refresh_states(db, dt.date.today())
    if not governed(db):
        return InForce(files_definitions(), None)
    rec = in_force(db, day)
    if rec is None:
        first = first_effective(db)
        when = (f"the first approved version takes effect on {first}" if first else
                "no approved version is scheduled yet (clientlens definitions schedule)")
        raise GovernanceError(
            f"no approved definitions are in force on {day}: {when}. A governed workspace "
            "never runs its unapproved files; approve a version effective from that date "
            "(clientlens definitions approve ID --effective-from DATE)", code="not_in_force")
    return InForce(load_version(rec, workspace_root), rec)


# -- states ------------------------------------------------------------------------------

def refresh_states(db: AppDB, today: dt.date) -> list[tuple[int, str]]:
    """Turn the version in force today ``active`` and the ones it replaced
    ``superseded`` (audited as the system's doing); returns the changes made. Two
    processes refreshing at once change each row once (the update is conditional)."""
    current = in_force(db, today)
    changes: list[tuple[int, str]] = []
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as s:
        stale = s.scalars(select(DefinitionVersion).where(
            or_(DefinitionVersion.status == "active",
                (DefinitionVersion.status == "scheduled")
                & (DefinitionVersion.effective_from <= today)))).all()
        for row in stale:
            if current is not None and row.version_id == current.version_id:
                if row.status == "active":
                    continue
                new, stamp = "active", {"activated_at": now}
            else:
                new, stamp = "superseded", {"superseded_at": now}
            done = s.execute(update(DefinitionVersion)
                             .where(DefinitionVersion.version_id == row.version_id,
                                    DefinitionVersion.status == row.status)
                             .values(status=new, **stamp)).rowcount
            if done:
                changes.append((row.version_id, new))
                s.add(audit.entry("system", "system", STATE_ACTIONS[new],
                                  f"definitions/{row.version_id}",
                                  {"effective_from": row.effective_from,
                                   "replaced_by": current.version_id if current else None}))
    return changes
