"""Benchmark: exporting one date's profiles as CSV (two dialects), XLSX and Parquet.

    .venv/bin/python bench/exports.py --customers 100000

Every export goes through ``platform/exports.py`` (formula-leading text
neutralised, dialects, atomic private files), streamed from DuckDB in batches.
The baseline is DuckDB's own ``COPY ... TO`` of the same query, which does none of
that. Each job runs in a fresh child process, so its peak memory (VmHWM) is its
own; the workspace is a demo bank made once and cached in bench/out/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
AS_OF = dt.date(2026, 10, 31)


def _own_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(job: str, root: str, target: str) -> None:
    from clientlens.services.workspace import jobs
    from clientlens.services.workspace.folder import Workspace

    start = time.perf_counter()
    if job == "copy":
        with Workspace(root).engine(read_only=True) as engine:
            engine.con.execute(f"copy (select * from profiles where as_of = date '{AS_OF}' "
                               f"order by customer_id) to '{target}' (format csv, header)")
    else:
        jobs.export(root, target, AS_OF, csv_dialect=job if job.startswith("excel") else None)
    seconds = time.perf_counter() - start
    print(json.dumps({"job": job, "seconds": seconds, "peak_mb": _own_peak_mb(),
                      "bytes": Path(target).stat().st_size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    root = OUT / f"exports-{args.customers}"
    if not (root / "warehouse.duckdb").exists():
        from clientlens.services.workspace import jobs

        OUT.mkdir(exist_ok=True)
        print(f"making a demo bank of {args.customers:,} customers in {root} ...")
        jobs.demo(root, customers=args.customers, as_of=AS_OF)
    results = []
    for job, name in (("copy", "copy.csv"), ("standard", "profiles.csv"),
                      ("excel-ru", "profiles-ru.csv"), ("parquet", "profiles.parquet"),
                      ("xlsx", "profiles.xlsx")):
        target = OUT / name
        line = subprocess.run([sys.executable, __file__, "--child", job, str(root),
                               str(target)], check=True, capture_output=True, text=True)
        results.append(json.loads(line.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{job:10} {r['seconds']:7.1f} s  peak {r['peak_mb']:6.0f} MB  "
              f"{r['bytes'] / 1e6:8.1f} MB")
    (OUT / f"exports-{args.customers}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
