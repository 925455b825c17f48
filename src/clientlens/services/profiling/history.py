"""History: every run keeps its as-of date's snapshot, so a customer's segment, phase,
need and grades are known on any date, with the rulebook version then in force.

- Snapshots are the ``profiles`` rows of each as-of date, replaced whole by a re-run
  of that date (one transaction: a run killed half-way leaves the previous snapshot).
- ``intervals`` turns one customer's snapshots into effective-dated values: each
  value is valid from the snapshot that first showed it to the snapshot that showed
  something else (exclusive), or open-ended while it is current.
- ``value_on`` answers "what was it on this date": the newest snapshot on or before
  the date.
- The definition files of each rulebook version a run used are archived in the
  application database (``archive_rulebook``), so ``explain`` of a past date uses
  the rules then in force (``archived_definitions``).
- ``backfill_dates`` and ``pending_dates`` drive ``clientlens backfill``: a range
  of dates (month ends, weeks, days), skipping the ones already run with the
  current rulebook, so an interrupted backfill resumes where it stopped.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from clientlens.appdb import AppDB, RulebookVersion
from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import col, parse
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.services.profiling.segmentation import PROFILES

ATTRIBUTES = ("segment", "phase", "need")
# The newest snapshot on or before :day.
SNAPSHOT_ON = "select max(as_of) from profiles where as_of <= $day"
EVERY = ("month", "week", "day")


# -- rulebook archive ---------------------------------------------------------------

def definition_files(defs: Definitions) -> dict[str, str]:
    """The YAML files a definitions folder was loaded from, by relative path."""
    folder = Path(defs.folder)
    files = {}
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("scorecards/*.yaml")):
        files[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
    return files


def archive_rulebook(db: AppDB, defs: Definitions, used_on: dt.date) -> bool:
    """Keep this version's files (once); returns whether it was new."""
    with db.transaction() as s:
        row = s.get(RulebookVersion, defs.version)
        if row is not None:
            if used_on < row.first_used_on:
                row.first_used_on = used_on
            return False
        s.add(RulebookVersion(version=defs.version, name=defs.name, first_used_on=used_on,
                              files=json.dumps(definition_files(defs), ensure_ascii=False)))
        return True


def archived_versions(db: AppDB) -> list[tuple[str, str, dt.date]]:
    with db.transaction() as s:
        rows = s.execute(select(RulebookVersion.version, RulebookVersion.name,
                                RulebookVersion.first_used_on)
                         .order_by(RulebookVersion.first_used_on)).all()
    return [tuple(r) for r in rows]


def archived_definitions(db: AppDB, version: str) -> Definitions | None:
    """The definitions of an archived version, or None if it was never archived."""
    with db.transaction() as s:
        row = s.get(RulebookVersion, version)
        files = json.loads(row.files) if row is not None else None
    if files is None:
        return None
    with tempfile.TemporaryDirectory(prefix="clientlens-rulebook-") as tmp:
        for name, text in files.items():
            path = Path(tmp) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        defs = load_definitions(tmp)
    if defs.version != version:
        raise ClientlensError(f"archived rulebook {version} loads as {defs.version}; the archive "
                              "does not match its version")
    return defs


# -- snapshots ------------------------------------------------------------------------

def snapshot_dates(engine: Engine) -> list[dt.date]:
    if engine.table_columns(PROFILES) is None:
        return []
    return [r[0] for r in engine.fetch_all(parse("select distinct as_of from profiles "
                                                 "order by 1"))]


def snapshot_on(engine: Engine, day: dt.date) -> dt.date | None:
    """The newest snapshot on or before ``day``."""
    if engine.table_columns(PROFILES) is None:
        return None
    return engine.fetch_all(parse(SNAPSHOT_ON), {"day": day})[0][0]


@dataclass(frozen=True)
class Interval:
    attribute: str
    value: str | None
    valid_from: dt.date      # the first snapshot showing the value
    valid_to: dt.date | None  # the first snapshot showing something else; None: current
    last_seen: dt.date       # the last snapshot showing it
    rulebook_versions: tuple[str, ...]


def intervals(engine: Engine, customer_id: str, attributes: tuple[str, ...] = ATTRIBUTES,
              ) -> list[Interval]:
    """The customer's effective-dated values, attribute by attribute, oldest first."""
    columns = set(engine.table_columns(PROFILES) or [])
    if not columns:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    unknown = [a for a in attributes if a not in columns]
    if unknown:
        known = [a for a in (*ATTRIBUTES, "loyalty_grade") if a in columns]
        raise ClientlensError(f"unknown profile column(s) {', '.join(unknown)}; use e.g. "
                              f"{', '.join(known)}")
    query = parse("select as_of, rulebook_version from profiles "
                  "where customer_id = $customer_id order by as_of"
                  ).select(*(col(a) for a in attributes))
    rows = engine.fetch_all(query, {"customer_id": customer_id})
    if not rows:
        raise NotFoundError(f"customer '{customer_id}' has no profile on any date")
    out: list[Interval] = []
    for k, attribute in enumerate(attributes):
        start = rows[0]
        versions: list[str] = []
        last = rows[0]
        for row in rows:
            if row[2 + k] != start[2 + k]:
                out.append(Interval(attribute, start[2 + k], start[0], row[0], last[0],
                                    tuple(versions)))
                start, versions = row, []
            if row[1] not in versions:
                versions.append(row[1])
            last = row
        out.append(Interval(attribute, start[2 + k], start[0], None, last[0], tuple(versions)))
    return out


def value_on(found: list[Interval], attribute: str, day: dt.date) -> Interval | None:
    """The interval of ``attribute`` in force on ``day``, if any snapshot precedes it."""
    for interval in found:
        if interval.attribute == attribute and interval.valid_from <= day and (
                interval.valid_to is None or day < interval.valid_to):
            return interval
    return None


# -- backfill -------------------------------------------------------------------------

def backfill_dates(start: dt.date, end: dt.date, every: str = "month") -> list[dt.date]:
    """Month ends, week ends (Sundays) or days from ``start`` to ``end``, inclusive."""
    if every not in EVERY:
        raise ClientlensError(f"--every must be one of {', '.join(EVERY)}, not '{every}'")
    if end < start:
        raise ClientlensError(f"the range ends ({end}) before it starts ({start})")
    days: list[dt.date] = []
    if every == "day":
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    elif every == "week":
        first = start + dt.timedelta(days=(6 - start.weekday()) % 7)
        days = [first + dt.timedelta(weeks=i) for i in range((end - first).days // 7 + 1)
                if first + dt.timedelta(weeks=i) <= end]
    else:
        year, month = start.year, start.month
        while True:
            last = dt.date(year, month, calendar.monthrange(year, month)[1])
            if last > end:
                break
            if last >= start:
                days.append(last)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days


def pending_dates(engine: Engine, days: list[dt.date], version: str) -> list[dt.date]:
    """The dates not yet run with rulebook ``version`` (a backfill resumes from here)."""
    if engine.table_columns(PROFILES) is None or not days:
        return list(days)
    done = {r[0] for r in engine.fetch_all(parse(
        "select as_of from profiles where as_of >= $first and as_of <= $last group by as_of "
        "having min(rulebook_version) = $version and max(rulebook_version) = $version"),
        {"first": min(days), "last": max(days), "version": version})}
    return [d for d in days if d not in done]
