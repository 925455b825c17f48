"""Benchmark: the contact policy's decision, alone and with its facts from the app DB.

    .venv/bin/python bench/contact_policy.py [--contacts 50] [--rounds 2000]

Three figures, on the shipped policy (6 caps, quiet hours, cooling-off):

- ``decide``: the pure decision for one proposal over a customer with ``--contacts``
  logged contacts in the last 40 days and two consent records (microseconds);
- ``check``: the same with the facts read from a SQLite application database in a
  temporary folder (consents, preferences, pauses, the log, cases, departures), no
  warehouse (milliseconds, p50 and p99);
- ``record --enforce``: check and write under the customer's lock (ms, p50 and p99).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
import zoneinfo
from pathlib import Path

from clientlens.appdb import open_appdb
from clientlens.definitions.contact_policy import load_contact_policy
from clientlens.services.contact import policy as service
from clientlens.services.contact import records
from clientlens.services.contact.rules import (
    ConsentRecord,
    CustomerFacts,
    PastContact,
    Proposal,
    decide,
)

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    policy = load_contact_policy(service.DEFAULT_POLICY)
    rng = random.Random(1)
    base = dt.datetime(2027, 1, 1, tzinfo=MSK)
    when = base + dt.timedelta(days=40, hours=12)
    channels, purposes = ("sms", "email", "atm", "outbound_call"), ("marketing", "service")
    contacts = [PastContact(rng.choice(channels), rng.choice(purposes),
                            base + dt.timedelta(minutes=rng.randrange(40 * 24 * 60)))
                for _ in range(args.contacts)]
    consents = (ConsentRecord("marketing", "any", "granted", base - dt.timedelta(days=300),
                              "branch"),
                ConsentRecord("marketing", "post", "withdrawn", base, "branch"))
    facts = CustomerFacts(consents=consents, contacts=tuple(contacts))
    proposal = Proposal("C1", "email", "marketing", when)
    decide(policy, proposal, facts)
    start = time.perf_counter()
    for _ in range(args.rounds):
        decide(policy, proposal, facts)
    per = (time.perf_counter() - start) / args.rounds
    print(f"decide: {per * 1e6:.0f} us per proposal ({args.contacts} logged contacts)")

    with tempfile.TemporaryDirectory() as tmp, \
            open_appdb(f"sqlite:///{Path(tmp) / 'app.sqlite'}") as db:
        for c in contacts:
            records.log_contact(db, "C1", channel=c.channel, purpose=c.purpose, at=c.at,
                                recorded_by="bench")
        for r in consents:
            records.record_consent(db, "C1", purpose=r.purpose, channel=r.channel,
                                   status=r.status, effective_from=r.effective_from,
                                   source=r.source, recorded_by="bench")
        rounds = max(50, args.rounds // 10)
        for name, call in (
                ("check", lambda: service.check(policy, db, proposal)),
                ("record --enforce", lambda: service.record(
                    policy, db, Proposal("C2", "email", "service", when),
                    recorded_by="bench", enforce=True))):
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            times.sort()
            p99 = times[int(len(times) * 0.99) - 1]
            print(f"{name}: p50 {statistics.median(times) * 1e3:.1f} ms, "
                  f"p99 {p99 * 1e3:.1f} ms over {rounds} calls (SQLite app DB)")


if __name__ == "__main__":
    main()
