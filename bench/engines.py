"""Benchmark: the nightly job on each engine vs a hand-written query of the same job
on that engine, and a scan-only floor.

    .venv/bin/python bench/engines.py --customers 1000000 --engines duckdb,postgres,spark

The demo bank of bench/nightly.py (about 50 transactions per customer, generated
once and cached under bench/out/) is loaded into each engine first, not timed:

- postgres: the tables are copied into schema ``bench_<customers>`` with the
  engine's own loader (``COPY``, the path ``clientlens import`` takes) and
  ANALYZEd; the load time is printed;
- spark: written as a Parquet lake by ``export_lake`` (transactions and
  interactions partitioned by month), run on ``local[*]``.

Then, per engine, in the same run, alternating, each in a fresh child process:

- engine: clientlens's whole nightly job (``run_segmentation``: profiles,
  ratings, offers, entitlements, summary);
- hand: bench/hand_written_<engine>.sql (bench/hand_written.sql on DuckDB), the
  same result written by hand in that engine's idiom;
- scan: reading the transactions' used columns and grouping them by customer.

Peak memory: DuckDB and Spark count the job's processes (Spark: the Python
driver plus the JVM). PostgreSQL counts the server backend that ran the query
(its peak resident set, which includes the shared buffers it touched; parallel
workers are not included) plus the client. Engine and hand-written results are
compared row by row on every profile column, cast to the engine's types.
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
sys.path.insert(0, str(HERE))

import nightly  # noqa: E402

AS_OF = nightly.AS_OF
OUT = nightly.OUT
JOBS = ("engine", "hand", "scan")
PG_URL = os.environ.get("CLIENTLENS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
SCAN_SQL = nightly.SCAN_SQL
SUMMARY_SQL = ("select segment, count(*), avg(balance_card), avg(balance_deposit), "
               "avg(balance_current), avg(balance_total) from profiles_hand group by segment")


def hand_sql(engine: str) -> list[str]:
    name = "hand_written.sql" if engine == "duckdb" else f"hand_written_{engine}.sql"
    sql = nightly.hand_sql(HERE / name)
    return [s for s in sql.split(";\n") if s.strip()]


def schema(customers: int) -> str:
    return f"bench_{customers}"


def lake(customers: int) -> Path:
    return OUT / f"lake-{customers}"


# -- loading (not timed as part of the job) ------------------------------------------

def load_postgres(warehouse: Path, customers: int, sizes: dict[str, int]) -> float | None:
    """Copies the bank into PostgreSQL unless it is already there; returns seconds."""
    import duckdb

    from clientlens.engines.postgres_engine import PostgresEngine
    from clientlens.model.tables import TABLES

    engine = PostgresEngine(PG_URL, schema=schema(customers))
    have = {name: engine.fetch_all(f"select count(*) from {name}")[0][0] for name in TABLES}
    if have == sizes:
        engine.close()
        return None
    con = duckdb.connect(str(warehouse), read_only=True)

    def reader(name: str):  # noqa: ANN202
        cols = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
        return lambda: con.sql(f'select {cols} from "{name}"').to_arrow_reader(100_000)

    t0 = time.perf_counter()
    engine.load_tables({name: reader(name) for name in TABLES})
    seconds = time.perf_counter() - t0
    engine.execute("analyze")
    engine.close()
    con.close()
    return seconds


def load_lake(warehouse: Path, customers: int) -> float | None:
    from clientlens.engines.duckdb_engine import DuckDBEngine
    from clientlens.services.workspace.lake import export_lake

    folder = lake(customers)
    if (folder / ".done").exists():
        return None
    t0 = time.perf_counter()
    with DuckDBEngine(warehouse, read_only=True) as engine:
        export_lake(engine, folder)
    (folder / ".done").touch()
    return time.perf_counter() - t0


# -- one job in a child process -------------------------------------------------------

def child(engine_name: str, job: str, customers: int, spark_memory: str) -> None:
    t_start = time.perf_counter()
    from clientlens.definitions.rulebook import load_definitions
    from clientlens.services.profiling.segmentation import run_segmentation
    from clientlens.services.workspace.folder import DEFAULTS

    if engine_name == "duckdb":
        from clientlens.engines.duckdb_engine import DuckDBEngine

        engine = DuckDBEngine(OUT / f"warehouse-{customers}.duckdb", threads=os.cpu_count(),
                              memory_limit=nightly.MEMORY_LIMIT, temp_directory=OUT / "spill")
    elif engine_name == "postgres":
        from clientlens.engines.postgres_engine import PostgresEngine

        engine = PostgresEngine(PG_URL, schema=schema(customers))
        backend = engine.fetch_all("select pg_backend_pid()")[0][0]
    else:
        from clientlens.engines.spark_engine import SparkEngine

        engine = SparkEngine(lake(customers), master="local[*]",
                             config={"spark.driver.memory": spark_memory})
    startup = time.perf_counter() - t_start
    t0 = time.perf_counter()
    if job == "engine":
        rows = run_segmentation(engine, load_definitions(DEFAULTS), AS_OF).customers
    elif job == "scan":
        rows = engine.fetch_all(SCAN_SQL)[0][0]
    elif engine_name in ("duckdb", "postgres"):
        for statement in hand_sql(engine_name):
            engine.execute(statement)
        engine.fetch_all(SUMMARY_SQL)
        rows = engine.fetch_all("select count(*) from profiles_hand")[0][0]
    else:
        spark = engine.spark
        target = lake(customers) / "_hand"
        names = ("profiles_hand", "entitlements_hand", "entitlement_events_hand")
        for name, statement in zip(names, hand_sql("spark"), strict=True):
            spark.sql(statement).write.mode("overwrite").parquet(str(target / name))
            spark.read.parquet(str(target / name)).createOrReplaceTempView(name)
        spark.sql(SUMMARY_SQL).collect()
        rows = spark.table("profiles_hand").count()
    seconds = time.perf_counter() - t0
    peak = nightly._own_peak_mb()
    server = 0.0
    if engine_name == "postgres":
        server = _peak_mb(backend)
    elif engine_name == "spark":
        server = sum(_peak_mb(pid) for pid in _children(os.getpid()))
    engine.close()
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak + server,
                      "client_peak_mb": peak, "server_peak_mb": server,
                      "startup_seconds": startup}))


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    """Descendant processes (the Spark JVM is a child of the Python driver)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child_pid = int(stat.parent.name)
            found += [child_pid, *_children(child_pid)]
    return found


def timed_child(engine: str, job: str, customers: int, warehouse: Path,
                spark_memory: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", engine, job, str(customers),
                           spark_memory, nightly.MEMORY_LIMIT or ""], stdout=subprocess.PIPE,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} {job} job failed")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


# -- comparing --------------------------------------------------------------------------

def compare(engine: str, customers: int, warehouse: Path) -> int:
    """Profiles rows that differ between the engine and the hand-written query, every
    column, the hand-written values cast to the engine's types."""
    if engine == "duckdb":
        return nightly.compare(warehouse)
    import duckdb

    if engine == "postgres":
        from clientlens.engines.postgres_engine import PostgresEngine

        pg = PostgresEngine(PG_URL, schema=schema(customers))
        types = dict(pg.fetch_all(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = 'profiles'", [schema(customers)]))
        hand = [r[0] for r in pg.fetch_all(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = 'profiles_hand'", [schema(customers)])]
        run = pg.fetch_all
        where = f"as_of = date '{AS_OF}'"
        left, right = "profiles", "profiles_hand"
    else:
        con = duckdb.connect()
        root = lake(customers)
        con.execute(f"create view p as select * from read_parquet("
                    f"'{root}/_clientlens/profiles/as_of={AS_OF}/*.parquet')")
        con.execute(f"create view h as select * from read_parquet("
                    f"'{root}/_hand/profiles_hand/*.parquet')")
        types = {r[0]: r[1] for r in con.execute("describe p").fetchall()}
        hand = [r[0] for r in con.execute("describe h").fetchall()]
        run = con.execute
        where = "true"
        left, right = "p", "h"
    cols = [c for c in hand if c != "as_of"]
    missing = sorted(set(types) - set(hand) - {"as_of", "rulebook_version"})
    if missing:
        raise SystemExit(f"the hand-written {engine} query lacks columns: {', '.join(missing)}")
    mine = ", ".join(f'"{c}"' for c in cols)
    theirs = ", ".join(f'cast("{c}" as {types[c]}) as "{c}"' for c in cols)
    sql = (f"select count(*) from ((select {mine} from {left} where {where} except all "
           f"select {theirs} from {right}) union all (select {theirs} from {right} "
           f"except all select {mine} from {left} where {where})) d")
    result = run(sql)
    diff = (result if isinstance(result, list) else result.fetchall())[0][0]
    if engine == "postgres":
        pg.close()
    return int(diff)


# -- the report -------------------------------------------------------------------------

def measure(engine: str, customers: int, warehouse: Path, sizes: dict, repeat: int,
            spark_memory: str) -> dict:
    loaded = None
    if engine == "postgres":
        loaded = load_postgres(warehouse, customers, sizes)
    elif engine == "spark":
        loaded = load_lake(warehouse, customers)
    if loaded is not None:
        print(f"  {engine}: bank loaded in {loaded:.1f} s", flush=True)
    for job in JOBS:  # warm caches; not counted
        timed_child(engine, job, customers, warehouse, spark_memory)
    runs: dict[str, list[dict]] = {job: [] for job in JOBS}
    for i in range(repeat):
        for job in JOBS if i % 2 == 0 else tuple(reversed(JOBS)):
            r = timed_child(engine, job, customers, warehouse, spark_memory)
            runs[job].append(r)
            print(f"  {engine:8s} run {i + 1} {job:6s} {r['seconds']:8.2f} s  "
                  f"peak {r['peak_mb']:7.0f} MB", flush=True)
    med = {job: statistics.median(r["seconds"] for r in runs[job]) for job in JOBS}
    peak = {job: max(r["peak_mb"] for r in runs[job]) for job in JOBS}
    return {"engine": engine, "customers": customers, "load_seconds": loaded,
            "seconds": med, "peak_mb": peak,
            "rows_differing": compare(engine, customers, warehouse),
            "engine_to_hand": med["engine"] / med["hand"],
            "engine_to_scan": med["engine"] / med["scan"], "runs": runs}


def chart(results: list[dict], path: Path, customers: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["engine"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    width = 0.27
    for k, (job, label) in enumerate((("engine", "clientlens nightly job"),
                                      ("hand", "hand-written SQL"),
                                      ("scan", "scan-only baseline"))):
        xs = [i + (k - 1) * width for i in range(len(names))]
        bars = ax.bar(xs, [r["seconds"][job] for r in results], width, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"Nightly job at {customers:,} customers, {os.cpu_count()} cores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--engines", default="duckdb,postgres,spark")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--memory-limit", default="1.5GB", help="DuckDB memory_limit")
    parser.add_argument("--spark-driver-memory", default="6g")
    parser.add_argument("--pg-work-mem", default="256MB",
                        help="work_mem for the PostgreSQL sessions (engine, hand and scan)")
    parser.add_argument("--chart", type=Path, default=None,
                        help="PNG to write (default: docs/engines-<customers>.png)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, job, customers, memory, duck_limit = args.child
        nightly.MEMORY_LIMIT = duck_limit or None
        child(engine, job, int(customers), memory)
        return
    nightly.MEMORY_LIMIT = args.memory_limit
    os.environ["PGOPTIONS"] = f"-c work_mem={args.pg_work_mem}"
    OUT.mkdir(exist_ok=True)
    command = "python bench/engines.py " + " ".join(sys.argv[1:])
    print(f"$ {command}")
    warehouse, sizes = nightly.prepare(args.customers, args.seed)
    print("data: " + ", ".join(f"{n}={c:,}" for n, c in sizes.items()))
    results = [measure(e, args.customers, warehouse, sizes, args.repeat,
                       args.spark_driver_memory) for e in args.engines.split(",")]
    print(f"\n{args.customers:,} customers, {sizes['transactions']:,} transactions, "
          f"{os.cpu_count()} cores")
    print(f"{'engine':>9} {'engine s':>9} {'hand s':>8} {'scan s':>8} {'eng/hand':>9} "
          f"{'eng/scan':>9} {'peak MB':>8} {'hand MB':>8} {'differ':>7}")
    for r in results:
        s = r["seconds"]
        print(f"{r['engine']:>9} {s['engine']:>9.2f} {s['hand']:>8.2f} {s['scan']:>8.2f} "
              f"{r['engine_to_hand']:>8.2f}x {r['engine_to_scan']:>8.2f}x "
              f"{r['peak_mb']['engine']:>8.0f} {r['peak_mb']['hand']:>8.0f} "
              f"{r['rows_differing']:>7}")
    png = args.chart or HERE.parent / "docs" / f"engines-{args.customers}.png"
    chart(results, png, args.customers)
    report = {"command": command, "date": dt.datetime.now().isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "data": sizes, "duckdb_memory_limit": args.memory_limit,
              "spark_driver_memory": args.spark_driver_memory,
              "pg_work_mem": args.pg_work_mem, "results": results}
    path = OUT / f"engines-{args.customers}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"chart: {png}\nreport: {path}")


if __name__ == "__main__":
    main()
