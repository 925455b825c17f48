"""Many writers logging contacts for one customer at once, with ``enforce``: the check
and the write are serialised per customer, so the cap holds exactly, on SQLite and on
a real PostgreSQL (each writer with its own connection pool, as separate processes
would have)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from clientlens.appdb import open_appdb
from clientlens.appdb.database import database_url
from clientlens.definitions.contact_policy import Cap, load_contact_policy
from clientlens.services.contact import policy as service
from clientlens.services.contact import records

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
WRITERS = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite'}", None
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"cl_contact_{uuid.uuid4().hex[:10]}"
    yield url, schema
    engine = create_engine(database_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'drop schema if exists "{schema}" cascade'))
    finally:
        engine.dispose()


def test_parallel_enforced_logging_never_passes_the_cap(place: tuple[str, str | None]) -> None:
    url, schema = place
    open_appdb(url, schema=schema).close()  # migrated once, before the race
    policy = dataclasses.replace(
        load_contact_policy(service.DEFAULT_POLICY), quiet_hours=None,
        caps=(Cap("sms_weekly", "week", 3, frozenset({"sms"})),))
    when = dt.datetime(2027, 1, 13, 12, tzinfo=MSK)

    def writer(n: int) -> bool:
        with open_appdb(url, schema=schema) as db:
            proposed = service.proposal("C1", "sms", "service", when + dt.timedelta(minutes=n))
            _, contact_id, _ = service.record(policy, db, proposed, recorded_by=f"w{n}",
                                              enforce=True)
            return contact_id is not None

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(writer, range(WRITERS)))
    assert sum(results) == 3
    with open_appdb(url, schema=schema) as db:
        assert len(records.contacts(db, "C1")) == 3
        # another customer is not held up by C1's cap
        other = service.proposal("C2", "sms", "service", when)
        assert service.record(policy, db, other, recorded_by="x", enforce=True)[1] is not None
