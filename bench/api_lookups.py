"""Benchmark: profile lookups per second and latency through the HTTP API.

    .venv/bin/python bench/api_lookups.py bench/out/api-demo --customers 20000

Makes a demo workspace at the path if it has none (``jobs.demo``), starts
``uvicorn`` on 127.0.0.1 at a free port in a child process (one worker), then with
``--clients`` concurrent httpx clients, bounded by ``--seconds`` and ``--requests``:

- baseline: ``GET /health`` (no auth, no warehouse), the cost of HTTP + FastAPI;
- lookups: ``GET /customers/{id}/profile`` for random customers, as a marketing
  user (no sensitive fields, so no audit write per lookup).

Prints lookups/s, p50 and p99 against the target (>= 500 lookups/s, p99 < 20 ms on
2 cores) and against the baseline as a ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

TARGET_RPS, TARGET_P99_MS = 500, 20.0

SERVER = """
import sys, uvicorn
from clientlens.faces.api import create_app, log_config
app = create_app(sys.argv[1], tokens={sys.argv[2]: {"user": "bench", "role": "marketing"}})
config = log_config()
config["loggers"]["uvicorn.access"]["level"] = "WARNING"
config["loggers"]["clientlens"]["level"] = "WARNING"
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_config=config)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(base: str, paths: list[str], headers: dict, clients: int, seconds: float,
            limit: int) -> tuple[float, list[float], int]:
    """(requests/s, latencies in ms, non-200 count) with ``clients`` threads."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    counter = iter(range(limit))

    def client() -> None:
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            while time.perf_counter() < deadline:
                try:
                    n = next(counter)
                except StopIteration:
                    break
                t = time.perf_counter()
                r = http.get(paths[n % len(paths)])
                mine.append((time.perf_counter() - t) * 1000)
                bad += r.status_code != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors[0]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()

    from clientlens.services.workspace import Workspace

    root = args.workspace
    if not (root / "clientlens.yaml").exists():
        from clientlens.services import jobs

        print(f"making a demo workspace of {args.customers:,} customers at {root} ...")
        jobs.demo(root, customers=args.customers, seed=1)
    with Workspace(root).engine(read_only=True) as engine:
        ids = [r[0] for r in engine.fetch_all(
            "select customer_id from profiles where as_of = (select max(as_of) from profiles)")]
    token = secrets.token_urlsafe(24)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(root), token, str(port)],
                              stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        random.seed(1)
        sample = [f"/customers/{random.choice(ids)}/profile" for _ in range(2000)]
        headers = {"Authorization": f"Bearer {token}"}
        measure(base, sample[:200], headers, 2, 2, 200)  # warm up
        base_rps, base_lat, base_bad = measure(base, ["/health"], {}, args.clients,
                                               args.seconds, args.requests)
        rps, lat, bad = measure(base, sample, headers, args.clients, args.seconds,
                                args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"data: {len(ids):,} customers in the latest snapshot; {os.cpu_count()} CPUs; "
          f"{args.clients} concurrent clients; one uvicorn worker")
    print(f"baseline GET /health: {base_rps:,.0f} req/s, p50 {pct(base_lat, .5):.1f} ms, "
          f"p99 {pct(base_lat, .99):.1f} ms ({len(base_lat):,} requests, {base_bad} non-200)")
    print(f"profile lookups:      {rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"({len(lat):,} requests, {bad} non-200)")
    print(f"vs target: {rps / TARGET_RPS:.2f}x of {TARGET_RPS} lookups/s "
          f"({'met' if rps >= TARGET_RPS else 'NOT met'}); p99 {p99:.1f} ms vs "
          f"{TARGET_P99_MS:.0f} ms ({'met' if p99 < TARGET_P99_MS else 'NOT met'})")
    print(f"vs baseline: lookups run at {rps / base_rps:.2f}x the /health rate; p50 "
          f"{p50 / pct(base_lat, .5):.1f}x the /health p50")


if __name__ == "__main__":
    main()
