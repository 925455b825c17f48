"""Benchmark: on-demand re-evaluations through the HTTP API, and in-process.

    .venv/bin/python bench/reevaluate.py bench/out/api-demo --customers 20000

Makes a demo workspace at the path if it has none (``jobs.demo``), starts ``uvicorn``
on 127.0.0.1 at a free port in a child process (one worker) and measures, each run
bounded by ``--seconds`` and ``--requests``:

- baseline: ``GET /health`` (no auth, no warehouse), the cost of HTTP + FastAPI;
- ``POST /customers/{id}/reevaluate`` for random customers (a different one each
  time) as an analyst, with a reason in the body: the terms computed from the
  warehouse, the rulebook applied in-process, the re-evaluation and its entitlement
  events recorded in the application database, the audit entry written;
- then, with the server stopped (DuckDB lets one process open the warehouse), the
  service function ``services.relationship.reevaluation.reevaluate`` in-process for other random
  customers: the same work without HTTP, JSON and audit, and its base-terms query alone.

Requests run in a closed loop of ``--clients`` keep-alive connections. Prints
throughput, p50 and p99 against the target (p99 < 50 ms) and against the /health
baseline. ``--profile`` prints where the in-process time goes (cProfile).

Every request records a re-evaluation in the workspace's application database, like
a real one; the records accumulate over runs of the benchmark.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import random
import sys
import threading
import time
from pathlib import Path

from api_lookups import pct, serving  # bench/ is the script's folder

TARGET_P99_MS = 50.0

BODY = json.dumps({"reason": "balance_moved", "note": "bench"}).encode()


def measure(port: int, requests: list[tuple[str, str]], headers: dict, clients: int,
            seconds: float, limit: int) -> tuple[float, list[float], int]:
    """(requests/s, latencies in ms, non-200 count): ``clients`` keep-alive connections
    in a closed loop (each sends its next request when the last one answered)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(limit))
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        mine: list[float] = []
        bad = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while time.perf_counter() < deadline:
                try:
                    n = next(counter)
                except StopIteration:
                    break
                method, path = requests[n % len(requests)]
                t = time.perf_counter()
                conn.request(method, path, body=BODY if method == "POST" else None,
                             headers={**headers, "Content-Type": "application/json"}
                             if method == "POST" else headers)
                r = conn.getresponse()
                r.read()
                mine.append((time.perf_counter() - t) * 1000)
                bad += r.status != 200
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies, errors[0]


def in_process(root: Path, ids: list[str], seconds: float, limit: int, profile: bool
               ) -> tuple[float, list[float], list[float]]:
    """(re-evaluations/s, latencies of the service call in ms, of its base-terms query
    alone in ms), one thread, for customers not used over HTTP."""
    from clientlens.compiler.pyplan import CompiledRulebook
    from clientlens.services.profiling.segmentation import latest_as_of
    from clientlens.services.relationship.reevaluation import base_terms_for, reevaluate
    from clientlens.services.workspace.folder import Workspace

    ws = Workspace(root)
    defs = ws.definitions
    compiled, base = CompiledRulebook(defs), base_terms_for(defs)
    latencies: list[float] = []
    queries: list[float] = []
    with ws.engine() as engine, ws.app_db() as db:
        day = latest_as_of(engine)
        for cid in ids[:5]:  # warm up: compiles and prepares the base-terms query
            reevaluate(engine, db, defs, cid, requested_by="bench", compiled=compiled,
                       base_terms=base, via="python", reason="balance_moved", note="bench")
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        for n, cid in enumerate(ids[5:limit + 5]):
            if time.perf_counter() - started > seconds:
                break
            if profiler:
                profiler.enable()
            t = time.perf_counter()
            reevaluate(engine, db, defs, cid, requested_by="bench", compiled=compiled,
                       base_terms=base, via="python", reason="balance_moved", note="bench")
            latencies.append((time.perf_counter() - t) * 1000)
            if profiler:
                profiler.disable()
            if n % 4 == 0:  # the engine's share: the base-terms query alone
                t = time.perf_counter()
                base.fetch(engine, ids[-1 - n], day)
                queries.append((time.perf_counter() - t) * 1000)
        elapsed = time.perf_counter() - started - sum(queries) / 1000
    if profiler:
        print("\nin-process re-evaluation, cProfile (top 25 by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return len(latencies) / elapsed, latencies, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=1,
                        help="concurrent keep-alive connections (closed loop)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the in-process re-evaluations")
    args = parser.parse_args()

    from clientlens.services.workspace.folder import Workspace

    root = args.workspace
    if not (root / "clientlens.yaml").exists():
        from clientlens.services.workspace import jobs

        print(f"making a demo workspace of {args.customers:,} customers at {root} ...")
        jobs.demo(root, customers=args.customers, seed=1)
    with Workspace(root).engine(read_only=True) as engine:
        ids = [r[0] for r in engine.fetch_all(
            "select customer_id from profiles where as_of = (select max(as_of) from profiles)")]
    random.seed(1)
    random.shuffle(ids)
    half = len(ids) // 2
    over_http, here = ids[:half], ids[half:]  # different customers for the two parts

    with serving(root, "analyst") as (port, token):
        headers = {"Authorization": f"Bearer {token}"}
        posts = [("POST", f"/customers/{cid}/reevaluate") for cid in over_http]
        measure(port, posts[-20:], headers, 1, 30, 20)  # warm up: snapshot, query plan
        health = measure(port, [("GET", "/health")], {}, args.clients, args.seconds,
                         args.requests * 10)
        http_run = measure(port, posts, headers, args.clients, args.seconds, args.requests)
    local = in_process(root, here, args.seconds, args.requests, args.profile)

    print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")
    with Workspace(root).engine(read_only=True) as engine:
        (transactions,) = engine.fetch_all("select count(*) from transactions")[0]
    load = os.getloadavg()
    print(f"data: {len(ids):,} customers in the latest snapshot, {transactions:,} "
          f"transactions; {os.cpu_count()} CPUs shared by server and load generator; one "
          f"uvicorn worker; {args.clients} connection(s), closed loop; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    rows = [("GET /health", *health),
            ("POST /customers/{id}/reevaluate", *http_run),
            ("service in-process (no HTTP)", local[0], local[1], 0)]
    for name, rps, lat, bad in rows:
        print(f"{name:34} {rps:7,.1f} req/s  p50 {pct(lat, .5):6.1f} ms  p99 "
              f"{pct(lat, .99):6.1f} ms  ({len(lat):,} requests, {bad} non-200)")
    print(f"{'  of which the base-terms query':34} {'':13}p50 {pct(local[2], .5):6.1f} ms  "
          f"p99 {pct(local[2], .99):6.1f} ms  ({len(local[2]):,} queries)")
    p99 = pct(http_run[1], .99)
    print(f"vs target: p99 {p99:.1f} ms over HTTP vs {TARGET_P99_MS:.0f} ms "
          f"({'met' if p99 < TARGET_P99_MS else 'NOT met'})")
    print(f"vs baseline: re-evaluations run at {http_run[0] / health[0]:.3f}x the /health "
          f"rate; p50 {pct(http_run[1], .5) / pct(health[1], .5):.0f}x the /health p50")


if __name__ == "__main__":
    main()
