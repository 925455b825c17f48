"""Benchmark: the nightly job vs a hand-written DuckDB query of the same result.

    .venv/bin/python bench/nightly.py --customers 1000000

Generates (once, cached under bench/out/) a demo bank, loads it into a DuckDB
warehouse, then in the same run, alternating, times:

- engine: clientlens's compiled plan, stored as the profile snapshot, plus the
  segment summary (``run_segmentation``);
- hand: bench/hand_written.sql (CREATE TABLE AS) plus the same summary query;
- scan: the floor, the transactions' used columns grouped by customer (SCAN_SQL).

Each job runs in a fresh child process so its peak memory (max RSS) is its own;
one uncounted run of each warms the page cache first.
The engine's and the hand-written results (profiles, entitlements, events) are
compared row by row; the bench stops with one line when the hand-written query
lacks a column the engine writes. Then one customer's segment is
evaluated in-process (rules compiled to Python once) for a sample of customers:
median and p99 latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
AS_OF = dt.date(2026, 10, 31)
MEMORY_LIMIT: str | None = None
# The scan-only floor: the transactions' used columns grouped by customer. Every
# aggregate feeds the result, so no optimizer can skip reading a column.
SCAN_SQL = ("select count(*), sum(n), sum(total), max(last_ts), sum(salaries) from "
            "(select customer_id, count(*) as n, sum(amount) as total, max(ts) as last_ts, "
            "count(*) filter (where kind = 'salary') as salaries from transactions "
            f"where ts < timestamp '{AS_OF + dt.timedelta(days=1)}' group by customer_id) s")


# The dates bench/hand_written.sql is written with: the first day of each window of
# the default definitions (a window of N days ending on the as-of date starts N - 1
# days before it).
HAND_DATES = {"as_of": AS_OF, "next_day": AS_OF + dt.timedelta(days=1),
              "window_start": AS_OF - dt.timedelta(days=89),         # activity, 90 days
              "complaint_start": AS_OF - dt.timedelta(days=364),     # complaints, 365 days
              "needs_start": AS_OF - dt.timedelta(days=179),         # needs, 180 days
              "year_start": AS_OF - dt.timedelta(days=364),          # fee income, 1 year
              "gap_start": AS_OF - dt.timedelta(days=44),            # salary gap, 45 days
              "baseline_start": AS_OF - dt.timedelta(days=89 + 365),  # baseline, 365 before
              "care_start": AS_OF - dt.timedelta(days=29)}           # care window, 30 days


def hand_sql(path: Path = HERE / "hand_written.sql") -> str:
    """The hand-written query with its dates filled in."""
    sql = path.read_text()
    for name, value in HAND_DATES.items():  # not str.format: the SQL has struct braces
        sql = sql.replace("{" + name + "}", str(value))
    return sql


def prepare(customers: int, seed: int) -> tuple[Path, dict[str, int]]:
    from clientlens.demo.generator import generate_bank
    from clientlens.engines.duckdb_engine import DuckDBEngine
    from clientlens.model.tables import TABLES

    data = OUT / f"data-{customers}"
    warehouse = OUT / f"warehouse-{customers}.duckdb"
    if not (data / ".done").exists():
        t0 = time.perf_counter()
        generate_bank(data, customers=customers, seed=seed, as_of=AS_OF, fmt="parquet",
                      progress=lambda step, done, total: print(
                          f"\r  generating {step}: {done:,}/{total:,}", end="", flush=True))
        (data / ".done").touch()
        print(f"\n  generated in {time.perf_counter() - t0:.1f} s")
    if not warehouse.exists():
        t0 = time.perf_counter()
        tmp = warehouse.with_suffix(".loading")
        tmp.unlink(missing_ok=True)
        engine = DuckDBEngine(tmp)
        for name, table in TABLES.items():
            if table.origin != "import":  # recorded in clientlens, not in the bank's exports
                continue
            files = sorted(data.glob(f"{name}*.parquet"))
            cols = ", ".join(table.column_names)
            engine.execute(f"insert into {name} select {cols} from read_parquet("
                           f"{[str(f) for f in files]})")
        engine.close()
        tmp.rename(warehouse)
        print(f"  loaded into {warehouse.name} in {time.perf_counter() - t0:.1f} s")
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    sizes = {name: con.execute(f"select count(*) from {name}").fetchone()[0]
             for name in TABLES}
    con.close()
    return warehouse, sizes


def child(job: str, warehouse: str, memory_limit: str | None) -> None:
    """Runs one job and prints its seconds and peak memory as JSON (in a child process)."""
    # Imports happen before the clock: process start-up is not the job (it is reported
    # once, as `startup_seconds`, for the engine).
    t_start = time.perf_counter()
    from clientlens.definitions.rulebook import load_definitions
    from clientlens.engines.duckdb_engine import DuckDBEngine
    from clientlens.services.profiling.segmentation import run_segmentation
    from clientlens.services.workspace.folder import DEFAULTS

    startup = time.perf_counter() - t_start
    engine = DuckDBEngine(warehouse, threads=os.cpu_count(), memory_limit=memory_limit,
                          temp_directory=OUT / "spill")
    t0 = time.perf_counter()
    if job == "engine":
        # Loading and checking the definitions and compiling the plan are timed.
        result = run_segmentation(engine, load_definitions(DEFAULTS), AS_OF)
        rows = result.customers
    elif job == "scan":
        # The floor: read the transactions' used columns and group by customer.
        rows = engine.fetch_all(SCAN_SQL)[0][0]
    else:
        engine.execute(hand_sql())
        engine.fetch_all("select segment, count(*), avg(balance_card), avg(balance_deposit), "
                         "avg(balance_current), avg(balance_total) from profiles_hand "
                         "group by segment")
        rows = engine.fetch_all("select count(*) from profiles_hand")[0][0]
    seconds = time.perf_counter() - t0
    engine.close()
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": _own_peak_mb(),
                      "startup_seconds": startup}))


def _own_peak_mb() -> float:
    """This process's peak RSS. (ru_maxrss of a child is useless here: Linux keeps the
    parent's peak across fork and exec, and the parent may just have generated data.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_child(job: str, warehouse: Path) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--child", job, str(warehouse),
                             MEMORY_LIMIT or ""], stdout=subprocess.PIPE)
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{job} job failed")
    return json.loads(stdout.decode().strip().splitlines()[-1])


# The engine's tables and the hand-written query's, compared column by column.
COMPARED = (("profiles", "profiles_hand"), ("entitlements", "entitlements_hand"),
            ("entitlement_events", "entitlement_events_hand"))


class HandBehind(SystemExit):
    """The hand-written query no longer computes what the engine writes."""


def compare(warehouse: Path) -> int:
    """Rows that differ between the engine's tables for AS_OF and the hand-written ones.

    Raises HandBehind (exit status 1, one line) when bench/hand_written.sql lacks a
    column the engine writes (only ``rulebook_version`` is the engine's own) or has
    one the engine does not write."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)

    def columns(table: str) -> list[str]:
        return [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_name = ? "
            "order by ordinal_position", [table]).fetchall()]

    diff = 0
    for engine_table, hand_table in COMPARED:
        engine_cols, hand_cols = columns(engine_table), columns(hand_table)
        missing = sorted(set(engine_cols) - set(hand_cols) - {"rulebook_version"})
        extra = sorted(set(hand_cols) - set(engine_cols))
        if missing or extra:
            con.close()
            what = (f"lacks columns of {engine_table}: {', '.join(missing)}" if missing else
                    f"has columns {engine_table} does not: {', '.join(extra)}")
            raise HandBehind(f"the hand-written query (bench/hand_written.sql) {what}; bring "
                             "it up to date with what the engine writes")
        col_sql = ", ".join(f'"{c}"' for c in hand_cols if c != "as_of")
        diff += con.execute(
            f"select count(*) from ((select {col_sql} from {engine_table} where as_of = ? "
            f"except all select {col_sql} from {hand_table}) union all "
            f"(select {col_sql} from {hand_table} except all "
            f"select {col_sql} from {engine_table} where as_of = ?))",
            [AS_OF, AS_OF]).fetchone()[0]
    con.close()
    return diff


def in_process_latency(warehouse: Path, sample: int) -> dict:
    import duckdb

    from clientlens.compiler.decisions import decision_columns
    from clientlens.compiler.pyplan import CompiledRulebook
    from clientlens.definitions.rulebook import load_definitions
    from clientlens.services.workspace.folder import DEFAULTS

    defs = load_definitions(DEFAULTS)
    compiled = CompiledRulebook(defs)
    base_terms = [n for n, t in defs.terms.items() if t.kind != "expression"]
    con = duckdb.connect(str(warehouse), read_only=True)
    decided = ["segment", *decision_columns(defs)]
    rows = con.execute(
        f"select {', '.join(decided)}, {', '.join(base_terms)} from profiles where as_of = ? "
        f"using sample {sample} rows (reservoir, 7)", [AS_OF]).fetchall()
    con.close()
    n = len(decided)
    bases = [(dict(zip(decided, r[:n], strict=True)), dict(zip(base_terms, r[n:], strict=True)))
             for r in rows]
    for _, base in bases[:200]:  # warm up
        compiled.evaluate(base, AS_OF)
    times = []
    mismatches = 0
    clock = time.perf_counter_ns
    for expected, base in bases:
        t0 = clock()
        out = compiled.evaluate(base, AS_OF)
        times.append(clock() - t0)
        mismatches += any(out[c] != v for c, v in expected.items())
    times.sort()
    return {"customers": len(times), "median_us": statistics.median(times) / 1000,
            "p99_us": times[int(len(times) * 0.99) - 1] / 1000, "mismatches": mismatches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each job, alternating")
    parser.add_argument("--sample", type=int, default=20_000,
                        help="customers for the in-process latency")
    parser.add_argument("--memory-limit", default=None,
                        help="DuckDB memory_limit for both jobs, e.g. 1.5GB (default: DuckDB's "
                             "own, 80%% of RAM)")
    parser.add_argument("--child", nargs=3, metavar=("JOB", "WAREHOUSE", "LIMIT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job, warehouse, limit = args.child
        child(job, warehouse, limit or None)
        return
    global MEMORY_LIMIT
    MEMORY_LIMIT = args.memory_limit
    OUT.mkdir(exist_ok=True)
    command = "python bench/nightly.py " + " ".join(sys.argv[1:])
    print(f"$ {command}")
    warehouse, sizes = prepare(args.customers, args.seed)
    print("data: " + ", ".join(f"{n}={c:,}" for n, c in sizes.items()))
    runs: dict[str, list[dict]] = {"engine": [], "hand": [], "scan": []}
    for job in ("engine", "hand"):  # warm the page cache; not counted
        timed_child(job, warehouse)
    for i in range(args.repeat):
        for job in ("hand", "engine", "scan") if i % 2 else ("engine", "hand", "scan"):
            r = timed_child(job, warehouse)
            runs[job].append(r)
            print(f"  run {i + 1} {job:6s} {r['seconds']:7.2f} s  peak {r['peak_mb']:7.0f} MB")
    diff = compare(warehouse)
    engine_s = statistics.median(r["seconds"] for r in runs["engine"])
    hand_s = statistics.median(r["seconds"] for r in runs["hand"])
    scan_s = statistics.median(r["seconds"] for r in runs["scan"])
    latency = in_process_latency(warehouse, args.sample)
    report = {
        "command": command, "memory_limit": MEMORY_LIMIT,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "data": sizes,
        "engine_seconds_median": engine_s, "hand_seconds_median": hand_s,
        "ratio_engine_to_hand": engine_s / hand_s,
        "scan_seconds_median": scan_s, "ratio_engine_to_scan": engine_s / scan_s,
        "engine_peak_mb": max(r["peak_mb"] for r in runs["engine"]),
        "hand_peak_mb": max(r["peak_mb"] for r in runs["hand"]),
        "rows_differing": diff, "in_process": latency, "runs": runs,
        "import_seconds_median": statistics.median(r["startup_seconds"]
                                                   for r in runs["engine"]),
    }
    print(f"\nnightly job, {sizes['customers']:,} customers / {sizes['accounts']:,} accounts / "
          f"{sizes['transactions']:,} transactions, {os.cpu_count()} cores")
    print(f"  engine (compiled plan): {engine_s:.2f} s median, peak "
          f"{report['engine_peak_mb']:.0f} MB")
    print(f"  hand-written SQL:       {hand_s:.2f} s median, peak "
          f"{report['hand_peak_mb']:.0f} MB")
    print(f"  scan-only floor:        {scan_s:.2f} s median (the used transaction columns "
          "grouped by customer)")
    print(f"  ratio engine/hand:      {report['ratio_engine_to_hand']:.2f}x")
    print(f"  ratio engine/scan:      {report['ratio_engine_to_scan']:.1f}x")
    print(f"  (python imports before each job, not timed: "
          f"{report['import_seconds_median']:.2f} s)")
    print(f"  rows differing:         {diff}")
    print(f"  one customer in-process: median {latency['median_us']:.1f} us, p99 "
          f"{latency['p99_us']:.1f} us over {latency['customers']:,} customers "
          f"({latency['mismatches']} profiles with any decision differing)")
    path = OUT / f"nightly-{args.customers}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"  written to {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
