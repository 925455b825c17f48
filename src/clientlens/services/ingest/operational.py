"""Operational records into the warehouse: the application database's service-recovery
cases, departures and member-get-member referrals become the warehouse tables
``recovery_cases``, ``departures`` and ``programme_referrals`` before each run, so the
glossary (and through it the phase rules, ratings and services) sees them like any
other source table.

The whole tables are replaced in one transaction of the engine. The warehouse keeps
each record's dates and final outcome; which cases were open on a given as-of date is
the glossary's business (``is_open_case`` and friends in the data model), so a
backfill of past dates sees the cases as they stood then. Likewise a referral counts
from the day its invitation code was issued (``invited_on``) and as qualified from
the day of its qualifying fact (``is_qualified``).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from clientlens.appdb import AppDB
from clientlens.engines.base import Engine
from clientlens.model.tables import TABLES
from clientlens.services.programmes.referrals import referral_facts
from clientlens.services.relationship.departures import departure_rows
from clientlens.services.relationship.recovery import case_facts


def case_rows(db: AppDB) -> pa.Table:
    """Every case with its final dates and status, in the warehouse table's columns."""
    facts = case_facts(db, dt.date.max)
    return pa.table({
        "case_id": pa.array([str(c) for c in facts.column("case_id").to_pylist()],
                            pa.string()),
        "customer_id": facts.column("customer_id"),
        "opened_on": facts.column("opened_on"),
        "due_on": facts.column("due_on"),
        "closed_on": facts.column("closed_on"),
        "status": facts.column("status"),
    })


def sync_operational_tables(db: AppDB, engine: Engine) -> dict[str, int]:
    """Copy cases, departures and programme referrals into the warehouse, all in one
    transaction of the engine; returns rows per table."""
    tables = {"recovery_cases": case_rows(db), "departures": departure_rows(db),
              "programme_referrals": referral_facts(db)}
    for name, table in tables.items():
        assert table.column_names == list(TABLES[name].column_names), name
    engine.load_tables({name: (lambda t=table: pa.RecordBatchReader.from_batches(
        t.schema, t.to_batches())) for name, table in tables.items()})
    return {name: table.num_rows for name, table in tables.items()}
