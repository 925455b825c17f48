"""Regression guard (run by scripts/test): the nightly job at a small size against
the hand-written DuckDB query of the same result.

    .venv/bin/python bench/guard.py                 # 20,000 customers, about 30 s
    .venv/bin/python bench/guard.py --repeat 3      # steadier ratio

Fails (exit status 1, one line on stderr) when bench/hand_written.sql lacks a column
the engine writes, or when its profiles, entitlements or events differ from the
engine's in any row. It then prints, and never asserts, the figures a change that
doubles the job's cost shows up in: the engine's and the hand-written query's
seconds (median, each job in a fresh process as in bench/nightly.py), their ratio,
the ratio to the scan-only floor, and one customer evaluated in-process (median and
p99). On a shared CI machine the seconds are noisy; compare ratios, not seconds.

The demo bank has no rows in the tables clientlens records itself (recovery cases,
departures, member-get-member referrals), so the guard adds a few hundred
deterministic ones to its copy of the warehouse: the lifecycle and win-back columns
are then compared on real values, not only on empty aggregates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nightly  # noqa: E402  (bench/ is not a package)

# Rows for the tables recorded in clientlens, picked and spread by a hash of the
# customer id (the same rows on every run of one DuckDB version). Dates are around
# the as-of date so every window of the lifecycle terms has rows on both sides.
RECORDED_ROWS = """
insert into recovery_cases
select 'G' || customer_id, customer_id, opened_on, opened_on + 10,
       case when h % 3 = 0 then null else opened_on + cast(h % 40 as integer) end,
       case when h % 3 = 0 then 'open' when h % 3 = 1 then 'failed' else 'resolved' end
from (select customer_id, hash(customer_id || 'case') as h,
             date '{as_of}' - cast(hash(customer_id || 'opened') % 200 as integer) as opened_on
      from customers) c
where h % 40 = 0;

insert into departures  -- most of them customers who hold nothing now
select 'G' || customer_id, customer_id, date '{as_of}' - cast(h % 900 as integer),
       case h % 3 when 0 then 'situational' when 1 then 'dissatisfaction' else 'unknown' end,
       h % 4 = 0
from (select customer_id, hash(customer_id || 'left') as h from accounts
      group by customer_id having bool_and(closed_on is not null) or customer_id like '%7') c
where h % 3 <> 2 or h % 5 = 0;

insert into programme_referrals
select 'G' || customer_id, customer_id, invited_on,
       case when h % 2 = 0 then 'F' || customer_id end,
       case when h % 2 = 0 then invited_on + cast(h % 60 as integer) end
from (select customer_id, hash(customer_id || 'ref') as h,
             date '{as_of}' + 20 - cast(hash(customer_id || 'invited') % 900 as integer)
                 as invited_on
      from customers) c
where h % 25 = 0;
"""


def guard_warehouse(warehouse: Path) -> tuple[Path, dict[str, int]]:
    """A copy of the cached warehouse with the recorded rows added."""
    import duckdb

    copy = warehouse.with_name("guard-" + warehouse.name)
    shutil.copyfile(warehouse, copy)
    con = duckdb.connect(str(copy))
    con.execute(RECORDED_ROWS.replace("{as_of}", str(nightly.AS_OF)))
    added = {t: con.execute(f"select count(*) from {t}").fetchone()[0]
             for t in ("recovery_cases", "departures", "programme_referrals")}
    con.close()
    return copy, added


def differing_columns(warehouse: Path) -> str:
    """The profile columns whose values differ, customer by customer (for the message)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    cols = [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_name = "
        "'profiles_hand' and column_name not in ('as_of', 'customer_id')").fetchall()]
    counts = con.execute(
        "select " + ", ".join(f'count(*) filter (where e."{c}" is distinct from h."{c}")'
                              for c in cols) +
        " from profiles e join profiles_hand h using (customer_id) where e.as_of = ?",
        [nightly.AS_OF]).fetchone()
    con.close()
    found = [f"{c} ({n})" for c, n in zip(cols, counts, strict=True) if n]
    return ", ".join(found) or "none in profiles (see entitlements and their events)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=2,
                        help="timed runs of each job, alternating (default 2)")
    parser.add_argument("--sample", type=int, default=5_000,
                        help="customers for the in-process latency (default 5,000)")
    args = parser.parse_args()
    started = time.perf_counter()
    command = "python bench/guard.py " + " ".join(sys.argv[1:])
    print(f"$ {command}".rstrip(), flush=True)
    nightly.OUT.mkdir(exist_ok=True)
    cached, sizes = nightly.prepare(args.customers, args.seed)
    warehouse, added = guard_warehouse(cached)
    sizes.update(added)
    print("data: " + ", ".join(f"{n}={c:,}" for n, c in sizes.items()), flush=True)

    runs: dict[str, list[dict]] = {"engine": [], "hand": [], "scan": []}
    for i in range(max(args.repeat, 1)):
        for job in ("hand", "engine") if i % 2 else ("engine", "hand"):
            runs[job].append(nightly.timed_child(job, warehouse))
        if i == 0:  # fail fast: columns and rows are checked after the first pair
            diff = nightly.compare(warehouse)
            if diff:
                raise SystemExit(
                    f"the hand-written query (bench/hand_written.sql) differs from the "
                    f"engine in {diff} rows at {args.customers:,} customers; columns that "
                    f"differ: {differing_columns(warehouse)}")
    runs["scan"].append(nightly.timed_child("scan", warehouse))
    latency = nightly.in_process_latency(warehouse, args.sample)

    def median(job: str) -> float:
        return statistics.median(r["seconds"] for r in runs[job])

    engine_s, hand_s, scan_s = median("engine"), median("hand"), median("scan")
    report = {"command": command, "data": sizes, "cpus": os.cpu_count(),
              "engine_seconds_median": engine_s, "hand_seconds_median": hand_s,
              "scan_seconds": scan_s, "ratio_engine_to_hand": engine_s / hand_s,
              "ratio_engine_to_scan": engine_s / scan_s, "rows_differing": 0,
              "in_process": latency, "load_average": os.getloadavg()[0], "runs": runs}
    print(f"guard: nightly job at {sizes['customers']:,} customers / "
          f"{sizes['transactions']:,} transactions, {os.cpu_count()} cores, "
          f"{args.repeat} run(s) each")
    print(f"  engine {engine_s:.2f} s, hand-written {hand_s:.2f} s, scan-only floor "
          f"{scan_s:.2f} s (medians)")
    print(f"  ratio engine/hand-written: {engine_s / hand_s:.2f}x   engine/scan floor: "
          f"{engine_s / scan_s:.1f}x")
    print("  hand-written query: every engine column, 0 rows differing (profiles, "
          "entitlements, events)")
    print(f"  one customer in-process: median {latency['median_us']:.1f} us, p99 "
          f"{latency['p99_us']:.1f} us over {latency['customers']:,} customers "
          f"({latency['mismatches']} with a decision differing from the engine)")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):  # a preempted call takes a scheduler tick (~4 ms)
        print(f"  (load average {load:.1f} on {os.cpu_count()} cores: the p99 mostly "
              "measures preemption by other work)")
    path = nightly.OUT / f"guard-{args.customers}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"  written to {path.relative_to(nightly.HERE.parent)} "
          f"(guard took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
