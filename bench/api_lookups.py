"""Benchmark: profile lookups per second and latency through the HTTP API.

    .venv/bin/python bench/api_lookups.py bench/out/api-demo --customers 20000

Makes a demo workspace at the path if it has none (``jobs.demo``), starts
``uvicorn`` on 127.0.0.1 at a free port in a child process (one worker), and runs
three measurements, each bounded by ``--seconds`` and ``--requests``:

- baseline: ``GET /health`` (no auth, no warehouse), the cost of HTTP + FastAPI, in a
  closed loop of ``--clients`` keep-alive connections;
- capacity: ``GET /customers/{id}/profile`` (with its explanation) for random
  customers as a marketing user (no sensitive fields, so no audit write per lookup),
  closed loop: the most lookups per second the service gives;
- latency under the target load: the same lookups offered at ``--rate`` per second
  (open loop, 16 connections), latency counted from each request's due time;
- the same two for ``?explain=false`` (the stored decisions without the why).

Prints lookups/s, p50 and p99 against the target (>= 500 lookups/s with p99 < 20 ms
on 2 cores) and the lookup rate as a ratio of the baseline's. The load generator runs
on the same two cores as the server.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TARGET_RPS, TARGET_P99_MS = 500, 20.0

SERVER = """
import sys, uvicorn
from clientlens.faces.http.app import create_app
from clientlens.platform.http_guard import log_config
app = create_app(sys.argv[1], tokens={sys.argv[2]: {"user": "bench", "role": sys.argv[4]}})
config = log_config()
config["loggers"]["uvicorn.access"]["level"] = "WARNING"
config["loggers"]["clientlens"]["level"] = "WARNING"
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_config=config)
"""


@contextmanager
def serving(root: Path, role: str, wait: float = 60.0) -> Iterator[tuple[int, str]]:
    """``clientlens serve``'s app over ``root`` in a child process (one uvicorn worker)
    on a free loopback port, with one bench token of ``role``: yields (port, token)
    once ``/health`` answers, and stops the server at the end."""
    token = secrets.token_urlsafe(24)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(root), token, str(port),
                               role], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.perf_counter() + wait
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if server.poll() is not None:
                    raise SystemExit("the server stopped: " + server.stderr.read()) from None
                if time.perf_counter() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        yield port, token
    finally:
        server.terminate()
        server.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A keep-alive HTTP/1.1 connection (the standard library's: far lighter than httpx,
    so the load generator leaves the server its CPU)."""

    def __init__(self, port: int, headers: dict) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = headers

    def get(self, path: str) -> int:
        self.conn.request("GET", path, headers=self.headers)
        r = self.conn.getresponse()
        r.read()
        return r.status

    def close(self) -> None:
        self.conn.close()


def measure(port: int, paths: list[str], headers: dict, clients: int, seconds: float,
            limit: int, rate: float | None = None) -> tuple[float, list[float], int]:
    """(requests/s, latencies in ms, non-200 count) with ``clients`` threads.

    Closed loop (``rate`` None): each client sends its next request when the last one
    answered. Open loop: request k is due at start + k / rate whatever happened
    before, and its latency counts from that due time (so a stalled server is not
    hidden by clients that waited for it)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(limit))
    started = time.perf_counter() + 0.05
    deadline = started + seconds

    def client() -> None:
        mine: list[float] = []
        bad = 0
        http = Client(port, headers)
        try:
            while True:
                try:
                    n = next(counter)
                except StopIteration:
                    break
                due = started + n / rate if rate else time.perf_counter()
                if due >= deadline:
                    break
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                bad += http.get(paths[n % len(paths)]) != 200
                mine.append((time.perf_counter() - due) * 1000)
        finally:
            http.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors[0]


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``; NaN when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=4,
                        help="concurrent connections of the closed-loop runs")
    parser.add_argument("--rate", type=float, default=TARGET_RPS,
                        help="requests/s of the open-loop run (default: the target)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=20_000)
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
    with serving(root, "marketing") as (port, token):
        random.seed(1)
        sample = [f"/customers/{random.choice(ids)}/profile" for _ in range(20_000)]
        headers = {"Authorization": f"Bearer {token}"}
        measure(port, sample[-500:], headers, 2, 2, 500)  # warm up: loads the snapshot
        runs = {
            "GET /health, closed loop": measure(port, ["/health"], {}, args.clients,
                                                args.seconds, args.requests),
            "lookups, closed loop": measure(port, sample, headers, args.clients,
                                            args.seconds, args.requests),
            f"lookups, open loop at {args.rate:,.0f}/s": measure(
                port, sample[::-1], headers, 16, args.seconds, args.requests, args.rate),
            "explain=false, closed loop": measure(
                port, [f"{p}?explain=false" for p in sample], headers, args.clients,
                args.seconds, args.requests),
            f"explain=false, open loop {args.rate:,.0f}/s": measure(
                port, [f"{p}?explain=false" for p in sample[::-1]], headers, 16,
                args.seconds, args.requests, args.rate),
        }
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"data: {len(ids):,} customers in the latest snapshot; {os.cpu_count()} CPUs "
          f"shared by server and load generator; one uvicorn worker; closed loop "
          f"{args.clients} connections, open loop 16; {args.seconds:g} s each")
    for name, (rps, lat, bad) in runs.items():
        print(f"{name:32} {rps:7,.0f} req/s  p50 {pct(lat, .5):6.1f} ms  p99 "
              f"{pct(lat, .99):6.1f} ms  ({len(lat):,} requests, {bad} non-200)")
    base_rps = runs["GET /health, closed loop"][0]
    rps = runs["lookups, closed loop"][0]
    _, open_lat, _ = runs[f"lookups, open loop at {args.rate:,.0f}/s"]
    open_rps = runs[f"lookups, open loop at {args.rate:,.0f}/s"][0]
    p99 = pct(open_lat, .99)
    print(f"vs target: capacity {rps:,.0f} lookups/s = {rps / TARGET_RPS:.2f}x of "
          f"{TARGET_RPS} ({'met' if rps >= TARGET_RPS else 'NOT met'}); at "
          f"{open_rps:,.0f}/s offered, p99 {p99:.1f} ms vs {TARGET_P99_MS:.0f} ms "
          f"({'met' if p99 < TARGET_P99_MS and open_rps >= 0.98 * TARGET_RPS else 'NOT met'})")
    print(f"vs baseline: lookups run at {rps / base_rps:.2f}x the /health rate")
    short = runs["explain=false, closed loop"][0]
    _, short_lat, _ = runs[f"explain=false, open loop {args.rate:,.0f}/s"]
    print(f"without the explanation (?explain=false): capacity {short:,.0f}/s "
          f"({short / rps:.2f}x the explained lookups), p99 at {args.rate:,.0f}/s offered "
          f"{pct(short_lat, .99):.1f} ms")


if __name__ == "__main__":
    main()
