"""The contact policy over a workspace: what ``clientlens consent`` and ``clientlens
contact`` do, as functions of a workspace path (the CLI calls these, a program can too).

Each opens the workspace's application database and, to read the bank's imported
consents and complaints, its warehouse read-only. A customer id the warehouse does not
know is refused with a "did you mean" unless ``force`` is given (a customer the next
import brings), as for cases and departures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clientlens.definitions.contact_policy import ContactPolicy
from clientlens.model.errors import NotFoundError
from clientlens.services.contact import policy as service
from clientlens.services.contact import records
from clientlens.services.contact.rules import ConsentRecord, Decision, Pause, Preference


@dataclass
class Opened:
    policy: ContactPolicy
    db: Any
    warehouse: service.Warehouse | None


@contextmanager
def opened(path: str | Path, *, db_url: str | None = None,
           warehouse: bool = True) -> Iterator[Opened]:
    from clientlens.services.workspace.folder import Workspace, open_app_db

    ws = Workspace(path)
    policy = service.load_policy(ws.definitions_dir)
    with open_app_db(db_url, path) as db:
        if not warehouse or (ws.settings.engine == "duckdb" and not ws.warehouse_path.exists()):
            yield Opened(policy, db, None)
            return
        with ws.engine(read_only=True) as engine:
            yield Opened(policy, db, service.Warehouse(engine, ws.settings.time_zone))


def _known(o: Opened, customer_id: str, force: bool) -> None:
    if force:
        return
    from clientlens.engines.query import parse

    engine = o.warehouse.engine if o.warehouse else None
    if engine is None or engine.table_columns("customers") is None:
        raise NotFoundError(f"customer '{customer_id}': no customers are imported yet; "
                            "import them first, or pass --force")
    if engine.fetch_all(parse("select 1 from customers where customer_id = $c"),
                        {"c": customer_id}):
        return
    close = engine.fetch_all(parse(
        "select customer_id from customers where upper(customer_id) = upper($c) or "
        "ltrim(substr(customer_id, 2), '0') = ltrim(substr($c, 2), '0') limit 1"),
        {"c": customer_id})
    hint = f" Did you mean '{close[0][0]}'?" if close else ""
    raise NotFoundError(f"customer '{customer_id}' is not among the imported customers.{hint}"
                        " Check the id, or pass --force")


def _at(o: Opened, customer_id: str, at: dt.datetime | None) -> dt.datetime:
    """``at`` (naive: the customer's local time), or now."""
    if at is None:
        return dt.datetime.now(dt.UTC)
    return service.localize(at, service.customer_zone(o.policy, o.db, customer_id))


def check(path: str | Path, customer_id: str, channel: str, purpose: str, *,
          at: dt.datetime | None = None, campaign: str | None = None,
          offer: str | None = None, db_url: str | None = None,
          force: bool = False) -> Decision:
    with opened(path, db_url=db_url) as o:
        proposed = service.proposal(customer_id, channel, purpose, _at(o, customer_id, at),
                                    campaign=campaign, offer=offer)
        _known(o, proposed.customer_id, force)
        return service.check(o.policy, o.db, proposed, o.warehouse)


def log(path: str | Path, customer_id: str, channel: str, purpose: str, *,
        recorded_by: str, at: dt.datetime | None = None, campaign: str | None = None,
        offer: str | None = None, outcome: str | None = None,
        source_ref: str | None = None, enforce: bool = False, db_url: str | None = None,
        force: bool = False) -> tuple[Decision, int | None, bool]:
    with opened(path, db_url=db_url) as o:
        proposed = service.proposal(customer_id, channel, purpose, _at(o, customer_id, at),
                                    campaign=campaign, offer=offer)
        _known(o, proposed.customer_id, force)
        return service.record(o.policy, o.db, proposed, recorded_by=recorded_by,
                              outcome=outcome, source_ref=source_ref, enforce=enforce,
                              warehouse=o.warehouse)


def history(path: str | Path, customer_id: str, *, db_url: str | None = None) -> list:
    with opened(path, db_url=db_url, warehouse=False) as o:
        return records.contacts(o.db, customer_id.strip())


def record_consent(path: str | Path, customer_id: str, *, purpose: str, channel: str,
                   status: str, source: str, recorded_by: str,
                   effective_from: dt.datetime | None = None, reference: str | None = None,
                   db_url: str | None = None, force: bool = False) -> ConsentRecord:
    with opened(path, db_url=db_url) as o:
        customer = customer_id.strip()
        _known(o, customer, force)
        return records.record_consent(o.db, customer, purpose=purpose, channel=channel,
                                      status=status,
                                      effective_from=_at(o, customer, effective_from),
                                      source=source, recorded_by=recorded_by,
                                      reference=reference)


@dataclass(frozen=True)
class ConsentView:
    customer_id: str
    do_not_contact: ConsentRecord | None
    grid: dict[tuple[str, str], tuple[str, str]]
    records: list[ConsentRecord]
    preference: Preference
    pauses: list[Pause]
    time_zone: str
    policy_version: str


def show_consent(path: str | Path, customer_id: str, *, at: dt.datetime | None = None,
                 db_url: str | None = None, force: bool = False) -> ConsentView:
    with opened(path, db_url=db_url) as o:
        customer = customer_id.strip()
        _known(o, customer, force)
        when = _at(o, customer, at)
        dnc, grid, every = service.consent_state(o.policy, o.db, customer, when, o.warehouse)
        return ConsentView(customer, dnc, grid, every, records.preference(o.db, customer),
                           records.pauses(o.db, customer),
                           service.customer_zone(o.policy, o.db, customer), o.policy.version)


def prefer(path: str | Path, customer_id: str, *, recorded_by: str,
           db_url: str | None = None, force: bool = False, **fields: str | None
           ) -> Preference:
    with opened(path, db_url=db_url) as o:
        _known(o, customer_id.strip(), force)
        return records.set_preference(o.db, customer_id, recorded_by=recorded_by, **fields)


def pause(path: str | Path, customer_id: str, starts_on: dt.date, ends_on: dt.date, *,
          recorded_by: str, reason: str = "", db_url: str | None = None,
          force: bool = False) -> Pause:
    with opened(path, db_url=db_url) as o:
        _known(o, customer_id.strip(), force)
        return records.add_pause(o.db, customer_id, starts_on, ends_on,
                                 recorded_by=recorded_by, reason=reason)


def check_policy(path: str | Path) -> ContactPolicy:
    """Load and check the workspace's contact policy (every problem with its line)."""
    from clientlens.services.workspace.folder import Workspace

    return service.load_policy(Workspace(path).definitions_dir)
