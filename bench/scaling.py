"""Benchmark: how the nightly job's cost grows with the bank, on DuckDB.

    .venv/bin/python bench/scaling.py --sizes 100000,1000000 --repeat 3

For each size (demo banks of about 50 transactions per customer, generated
once and cached under bench/out/), in the same run, alternating, in fresh child
processes (see bench/nightly.py):

- engine: clientlens's whole nightly job (profiles, ratings, offers,
  entitlements, summary);
- hand: bench/hand_written.sql, the same result written by hand;
- scan: the floor, reading the transactions' used columns and grouping them
  by customer.

Prints a table with each ratio and writes docs/scaling-duckdb.png (seconds
against customers, log-log) and bench/out/scaling.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nightly  # noqa: E402

JOBS = ("engine", "hand", "scan")


def measure(customers: int, repeat: int, seed: int) -> dict:
    warehouse, sizes = nightly.prepare(customers, seed)
    for job in JOBS:  # warm the page cache; not counted
        nightly.timed_child(job, warehouse)
    runs: dict[str, list[dict]] = {job: [] for job in JOBS}
    for i in range(repeat):
        order = JOBS if i % 2 == 0 else tuple(reversed(JOBS))
        for job in order:
            r = nightly.timed_child(job, warehouse)
            runs[job].append(r)
            print(f"  {customers:>10,} run {i + 1} {job:6s} {r['seconds']:8.2f} s  "
                  f"peak {r['peak_mb']:7.0f} MB", flush=True)
    med = {job: statistics.median(r["seconds"] for r in runs[job]) for job in JOBS}
    peak = {job: max(r["peak_mb"] for r in runs[job]) for job in JOBS}
    return {"customers": customers, "data": sizes, "seconds": med, "peak_mb": peak,
            "rows_differing": nightly.compare(warehouse),
            "engine_to_hand": med["engine"] / med["hand"],
            "engine_to_scan": med["engine"] / med["scan"], "runs": runs}


def chart(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["customers"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for job, label in (("engine", "clientlens nightly job"), ("hand", "hand-written SQL"),
                       ("scan", "scan-only baseline")):
        ax.plot(xs, [r["seconds"][job] for r in results], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("customers (about 50 transactions each)")
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"Nightly job on DuckDB, {os.cpu_count()} cores")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--memory-limit", default="1.5GB")
    args = parser.parse_args()
    nightly.MEMORY_LIMIT = args.memory_limit
    nightly.OUT.mkdir(exist_ok=True)
    command = "python bench/scaling.py " + " ".join(sys.argv[1:])
    print(f"$ {command}")
    results = [measure(int(n), args.repeat, args.seed) for n in args.sizes.split(",")]
    print(f"\n{'customers':>11} {'transactions':>13} {'engine s':>9} {'hand s':>8} "
          f"{'scan s':>8} {'eng/hand':>9} {'eng/scan':>9} {'peak MB':>8} {'differ':>7}")
    for r in results:
        s = r["seconds"]
        print(f"{r['customers']:>11,} {r['data']['transactions']:>13,} {s['engine']:>9.2f} "
              f"{s['hand']:>8.2f} {s['scan']:>8.2f} {r['engine_to_hand']:>8.2f}x "
              f"{r['engine_to_scan']:>8.2f}x {r['peak_mb']['engine']:>8.0f} "
              f"{r['rows_differing']:>7}")
    png = HERE.parent / "docs" / "scaling-duckdb.png"
    chart(results, png)
    report = {"command": command, "date": dt.datetime.now().isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "memory_limit": args.memory_limit, "results": results}
    (nightly.OUT / "scaling.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"chart: {png}\nreport: {nightly.OUT / 'scaling.json'}")


if __name__ == "__main__":
    main()
