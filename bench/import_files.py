"""Benchmark: the importer vs plain loads of the same Parquet files.

    .venv/bin/python bench/import_files.py --customers 1000000

The importer checks every row (types, vocabularies, duplicates, foreign keys,
ownership, dates), quarantines bad ones, upserts by primary key and logs the
file, each file in one transaction. The baseline is
``INSERT INTO t SELECT ... FROM read_parquet(...)`` with no checks at all: the
ratio is the price of validation. Each job runs in a fresh child process into a
fresh warehouse; data comes from bench/nightly.py's cache (generated if
missing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _own_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(job: str, data: str, warehouse: str, memory_limit: str) -> None:
    from clientlens.engines.duckdb_engine import DuckDBEngine
    from clientlens.model.tables import TABLES
    from clientlens.services.ingest.importer import import_directory

    engine = DuckDBEngine(warehouse, memory_limit=memory_limit,
                          temp_directory=OUT / "spill")
    t0 = time.perf_counter()
    if job == "importer":
        reports = import_directory(engine, Path(data))
        rows = sum(r.rows_loaded + r.rows_updated for r in reports)
        refused = sum(r.rows_quarantined for r in reports)
    else:
        rows, refused = 0, 0
        for name, table in TABLES.items():
            files = [str(f) for f in sorted(Path(data).glob(f"{name}_*.parquet"))]
            cols = ", ".join(table.column_names)
            engine.execute(f"insert into {name} select {cols} from read_parquet({files})")
            rows += engine.fetch_all(f"select count(*) from {name}")[0][0]
    seconds = time.perf_counter() - t0
    engine.close()
    print(json.dumps({"seconds": seconds, "rows": rows, "refused": refused,
                      "peak_mb": _own_peak_mb()}))


def run(job: str, data: Path, memory_limit: str) -> dict:
    warehouse = OUT / f"import-{job}.duckdb"
    warehouse.unlink(missing_ok=True)
    shutil.rmtree(OUT / "spill", ignore_errors=True)
    proc = subprocess.run([sys.executable, __file__, "--child", job, str(data), str(warehouse),
                           memory_limit], capture_output=True, check=False)
    warehouse.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise SystemExit(f"{job} failed: {proc.stderr.decode()[-2000:]}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    OUT.mkdir(exist_ok=True)
    print(f"$ python bench/import_files.py {' '.join(sys.argv[1:])}")
    data = OUT / f"data-{args.customers}"
    if not (data / ".done").exists():
        from clientlens.demo.generator import generate_bank

        generate_bank(data, customers=args.customers, seed=42)
        (data / ".done").touch()
    results: dict[str, list[dict]] = {"importer": [], "baseline": []}
    for i in range(args.repeat):
        for job in ("baseline", "importer") if i % 2 else ("importer", "baseline"):
            r = run(job, data, args.memory_limit)
            results[job].append(r)
            print(f"  run {i + 1} {job:8s} {r['seconds']:7.1f} s  peak {r['peak_mb']:6.0f} MB  "
                  f"rows {r['rows']:,}")
    best = {job: min(r["seconds"] for r in rs) for job, rs in results.items()}
    rows = results["importer"][0]["rows"]
    print(f"\nimport of {args.customers:,} customers' files ({rows:,} rows), "
          f"{os.cpu_count()} cores, memory_limit {args.memory_limit}")
    print(f"  importer (all checks, quarantine, upsert, log): {best['importer']:.1f} s "
          f"({rows / best['importer']:,.0f} rows/s), peak "
          f"{max(r['peak_mb'] for r in results['importer']):.0f} MB")
    print(f"  plain INSERT ... FROM read_parquet:           {best['baseline']:.1f} s, peak "
          f"{max(r['peak_mb'] for r in results['baseline']):.0f} MB")
    print(f"  ratio importer/plain: {best['importer'] / best['baseline']:.1f}x (best of "
          f"{args.repeat})")
    (OUT / f"import-{args.customers}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
