"""Benchmark: point redemptions per second and latency through the HTTP API.

    .venv/bin/python bench/referral_redemptions.py bench/out/api-demo --customers 2000

Makes a demo workspace at the path if it has none (``jobs.demo``), publishes its
referral programmes, and before the timing seeds points through the service layer:
``--accounts`` / 2 referrers (a synthetic eligible profile) each get a code, a new
customer registers with it and meets the programme's qualifying event, so both earn
the programme's rewards (1,000 points each with the default ``friends``). The
application database is the workspace's (SQLite by default) or ``--app-db URL``
(PostgreSQL: a fresh schema, dropped afterwards unless ``--keep``).

Then starts ``uvicorn`` on 127.0.0.1 at a free port in a child process (one worker)
and measures, each bounded by ``--seconds`` and ``--requests``, in a closed loop of
``--clients`` keep-alive connections:

- baseline: ``GET /health`` (no auth, no database), the cost of HTTP + FastAPI;
- redemptions: ``POST /customers/{id}/points/redemptions`` of 1 to ``--max-points``
  points from a random seeded account, each with its own ``Idempotency-Key``, as a
  marketing user (each is also an audit write). A redemption larger than what is
  left is a 409 (counted apart; with the defaults few accounts run dry).

Prints redemptions/s, p50 and p99, answers by status, the ratio to ``/health``, and
the final check: no customer balance below zero, every transaction and the whole
ledger sum to zero, every balance equals its entries, and the points the ledger says
were redeemed during the run equal the sum of the 201 answers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api_lookups import pct, serving  # bench/ is the script's folder


def measure(port: int, make: Callable[[int], tuple[str, str, bytes | None, dict]],
            clients: int, seconds: float, limit: int
            ) -> tuple[float, list[float], Counter, int]:
    """Closed loop: (requests/s, latencies in ms, answers by status, points redeemed
    by the 201 answers). ``make(n)`` gives request n as (method, path, body, headers)."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    spent = [0]
    lock = threading.Lock()
    counter = iter(range(limit))
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        mine: list[float] = []
        seen: Counter = Counter()
        points = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while time.perf_counter() < deadline:
                try:
                    n = next(counter)
                except StopIteration:
                    break
                method, path, body, headers = make(n)
                t = time.perf_counter()
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                mine.append((time.perf_counter() - t) * 1000)
                seen[r.status] += 1
                if r.status == 201:
                    points += json.loads(data)["points"]
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(seen)
            spent[0] += points

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies, statuses, spent[0]


def qualifying_fact(programme: Any, on: Any) -> dict:
    """A fact that meets the programme's qualifying event."""
    event = programme.qualifying_event
    if event.kind == "product_opened":
        if event.product_types:
            return {"kind": event.kind, "on": on, "product_type": event.product_types[0]}
        return {"kind": event.kind, "on": on, "product_code": event.product_codes[0]}
    if event.kind == "min_balance":
        return {"kind": event.kind, "on": on, "amount": event.amount, "held_days": event.days}
    return {"kind": event.kind, "on": on, "amount": event.min_amount or 1}


def seed(root: Path, pairs: int, tag: str) -> tuple[list[str], str, float]:
    """Points for 2 * ``pairs`` customers through the service layer: (account ids,
    programme id, seconds)."""
    import datetime as dt

    from clientlens.services.programmes import referrals as rf
    from clientlens.services.workspace import jobs
    from clientlens.services.workspace.folder import Workspace

    started = time.perf_counter()
    published = jobs.publish_referral_programmes(root)
    programme = published[0].programme
    rule = programme.referrer
    profile = {"segment": rule.segments[0] if rule.segments else None,
               "phase": rule.phases[0] if rule.phases else None,
               **{name: allowed[0] for name, allowed in rule.grades.items()}}
    today = dt.date.today()
    accounts = []
    with Workspace(root).app_db() as db:
        for i in range(pairs):
            referrer, friend = f"BR-{tag}-{i:05d}", f"BN-{tag}-{i:05d}"
            code = rf.issue_code(db, programme.id, referrer, profile,
                                 today - dt.timedelta(days=2)).code
            reg = rf.register(db, code, friend, {"phone": f"+7 900 {i:07d}"},
                              today - dt.timedelta(days=1))
            assert not reg.rejected, reg
            q = rf.qualify(db, friend, qualifying_fact(programme, today), today)
            assert q.newly_rewarded, q
            accounts += [referrer, friend]
    return accounts, programme.id, time.perf_counter() - started


def ledger_check(root: Path, before_redeemed: int) -> tuple[dict, int]:
    from sqlalchemy import func, select

    from clientlens.appdb.schema import LedgerAccount, LedgerEntry
    from clientlens.services.programmes.referrals import REDEMPTIONS_ACCOUNT
    from clientlens.services.workspace.folder import Workspace

    with Workspace(root).app_db() as db, db.transaction() as s:
        total = s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))
        unbalanced = s.scalar(select(func.count()).select_from(
            select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount) != 0).subquery()))
        sums = dict(s.execute(select(LedgerEntry.account, func.sum(LedgerEntry.amount))
                              .group_by(LedgerEntry.account)).all())
        accounts = list(s.scalars(select(LedgerAccount)))
        negative = sum(a.kind == "customer" and a.balance < 0 for a in accounts)
        mismatched = sum(a.balance != sums.get(a.account, 0) for a in accounts)
        redeemed = int(sums.get(REDEMPTIONS_ACCOUNT, 0))
    return {"ledger sum": int(total), "unbalanced transactions": unbalanced,
            "negative balances": negative, "balances != entries": mismatched,
            "customer accounts": sum(a.kind == "customer" for a in accounts)}, \
        redeemed - before_redeemed


def redeemed_so_far(root: Path) -> int:
    from sqlalchemy import func, select

    from clientlens.appdb.schema import LedgerEntry
    from clientlens.services.programmes.referrals import REDEMPTIONS_ACCOUNT
    from clientlens.services.workspace.folder import Workspace

    with Workspace(root).app_db() as db, db.transaction() as s:
        return int(s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                            .where(LedgerEntry.account == REDEMPTIONS_ACCOUNT)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--customers", type=int, default=2_000,
                        help="size of the demo workspace made when there is none")
    parser.add_argument("--accounts", type=int, default=200,
                        help="customers seeded with points (half referrers, half friends)")
    parser.add_argument("--max-points", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--app-db", help="application database URL, e.g. "
                        "postgresql://root@127.0.0.1:5432/test (a fresh schema)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    args = parser.parse_args()

    root = args.workspace
    if not (root / "clientlens.yaml").exists():
        from clientlens.services.workspace import jobs

        print(f"making a demo workspace of {args.customers:,} customers at {root} ...")
        jobs.demo(root, customers=args.customers, seed=1)
    schema = None
    if args.app_db:  # the workspace's settings, overridden for this process and the server
        schema = f"bench_ref_{uuid.uuid4().hex[:10]}"
        os.environ["CLIENTLENS_APP_DB"] = args.app_db
        os.environ["CLIENTLENS_APP_DB_SCHEMA"] = schema
    from clientlens.services.workspace.folder import Workspace

    app_db = Workspace(root).app_db_url.split("://")[0] + (f" (schema {schema})" if schema
                                                           else "")
    tag = uuid.uuid4().hex[:6]
    try:
        accounts, programme, seeding = seed(root, args.accounts // 2, tag)
        with serving(root, "marketing") as (port, token):
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            rng = random.Random(1)
            plan = [(rng.choice(accounts), rng.randint(1, args.max_points))
                    for _ in range(args.requests)]

            def redemption(n: int) -> tuple[str, str, bytes, dict]:
                customer, points = plan[n]
                body = json.dumps({"points": points, "reason": f"bench order {n}"})
                return ("POST", f"/customers/{customer}/points/redemptions", body.encode(),
                        {**auth, "Idempotency-Key": f"bench-{tag}-{n}"})

            warm = [(rng.choice(accounts), 1) for _ in range(50)]
            measure(port, lambda n: ("POST", f"/customers/{warm[n][0]}/points/redemptions",
                                     json.dumps({"points": 1, "reason": "warm-up"}).encode(),
                                     {**auth, "Idempotency-Key": f"warm-{tag}-{n}"}),
                    2, 5, len(warm))
            before = redeemed_so_far(root)
            base = measure(port, lambda n: ("GET", "/health", None, {}), args.clients,
                           args.seconds, args.requests * 4)
            runs = measure(port, redemption, args.clients, args.seconds, args.requests)
        check, redeemed = ledger_check(root, before)
    finally:
        if schema and not args.keep:
            from sqlalchemy import create_engine, text

            from clientlens.appdb.database import database_url

            engine = create_engine(database_url(args.app_db))
            with engine.begin() as conn:
                conn.execute(text(f'drop schema if exists "{schema}" cascade'))
            engine.dispose()

    rps, lat, statuses, spent = runs
    base_rps, base_lat, _, _ = base
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"data: {len(accounts):,} accounts seeded with points through the service layer "
          f"({programme}, {seeding:.1f} s); application database {app_db}; "
          f"{os.cpu_count()} CPUs shared by server and load generator; one uvicorn "
          f"worker; closed loop of {args.clients} connections; {args.seconds:g} s each")
    print(f"{'GET /health':24} {base_rps:7,.0f} req/s  p50 {pct(base_lat, .5):6.1f} ms  "
          f"p99 {pct(base_lat, .99):6.1f} ms  ({len(base_lat):,} requests)")
    print(f"{'redemptions':24} {rps:7,.0f} req/s  p50 {pct(lat, .5):6.1f} ms  "
          f"p99 {pct(lat, .99):6.1f} ms  ({len(lat):,} requests: "
          + ", ".join(f"{n:,} x {s}" for s, n in sorted(statuses.items())) + ")")
    print(f"vs baseline: redemptions run at {rps / base_rps:.3f}x the /health rate; p50 "
          f"{pct(lat, .5) / pct(base_lat, .5):.1f}x the /health p50")
    ok = (check["ledger sum"] == 0 and not check["unbalanced transactions"]
          and not check["negative balances"] and not check["balances != entries"]
          and redeemed == spent and set(statuses) <= {201, 409})
    print("check: " + ", ".join(f"{k} {v:,}" for k, v in check.items())
          + f"; points redeemed in the ledger {redeemed:,} vs 201 answers {spent:,} -> "
          + ("OK" if ok else "FAILED"))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
