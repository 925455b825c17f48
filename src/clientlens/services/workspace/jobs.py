"""The Python API: everything the CLI does, as plain functions over a workspace path.

For notebooks and schedulers::

    from clientlens.services.workspace import jobs
    jobs.init("my-bank")
    jobs.import_files("my-bank", ["exports/customers.csv", "exports/accounts.csv"])
    result = jobs.run("my-bank", as_of=date(2026, 10, 31))
    why = jobs.explain("my-bank", "C0000042")
    jobs.export("my-bank", "profiles.xlsx")   # a path as given: here, ./profiles.xlsx

A workspace path may carry the engine to use instead of the one in its settings::

    jobs.run(WorkspaceFolder(Path("my-bank"), engine="postgres"))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from clientlens.engines.query import col, parse, table
from clientlens.model.errors import ClientlensError
from clientlens.platform import exports
from clientlens.services.profiling.explain import Explanation, explain_customer
from clientlens.services.profiling.segmentation import (
    RunResult,
    latest_as_of,
    run_segmentation,
    segment_summary,
)
from clientlens.services.programmes import referral_lookups
from clientlens.services.workspace.folder import Workspace, init_workspace

Progress = Callable[[str, int, int], None]


def init(path: str | Path, *, force: bool = False) -> Workspace:
    """Create a workspace with the bank's default glossary and rulebook."""
    return init_workspace(path, force=force)


def check(path: str | Path) -> Workspace:
    """Load and check the workspace's definitions and its contact policy; raises
    DefinitionError listing problems."""
    from clientlens.services.contact.policy import load_policy

    ws = Workspace(path)
    ws.definitions  # noqa: B018 - loading is the check
    load_policy(ws.definitions_dir)
    return ws


def import_files(path: str | Path, files: Sequence[str | Path], *, table: str | None = None,
                 encoding: str = "auto", delimiter: str | None = None,
                 decimal_comma: bool | None = None, force: bool = False,
                 progress: Callable[[str], None] | None = None,
                 staging: Any = None) -> list:
    """Import files (or folders of files named like the tables) into the warehouse.
    ``staging``: the DuckDB warehouse already open (the service's), else it is opened."""
    ws = Workspace(path)
    if staging is not None:
        return _import_into(ws, staging, files, table, encoding, delimiter, decimal_comma,
                            force, progress)
    with ws.staging_engine() as engine:
        return _import_into(ws, engine, files, table, encoding, delimiter, decimal_comma,
                            force, progress)


def _import_into(ws: Workspace, staging: Any, files: Sequence[str | Path], table: str | None,
                 encoding: str, delimiter: str | None, decimal_comma: bool | None,
                 force: bool, progress: Callable[[str], None] | None) -> list:
    from clientlens.services.ingest.importer import import_directory, import_file, table_for_file

    reports = []
    # Files are always validated into the embedded DuckDB warehouse (bad rows go to
    # its quarantine); another engine then takes the validated tables whole.
    options = {"encoding": encoding, "delimiter": delimiter, "decimal_comma": decimal_comma,
               "base_currency": ws.settings.base_currency,
               "time_zone": ws.settings.time_zone, "progress": progress,
               "force": force}
    for item in files:
        item = Path(item)
        if item.is_dir():
            reports.extend(import_directory(staging, item, **options))
        else:
            name = table or table_for_file(item)
            reports.append(import_file(staging, name, item, **options))
    if ws.settings.engine != "duckdb":
        touched = list(dict.fromkeys(r.table for r in reports))
        publish_tables(ws, staging, touched, progress)
    return reports


def publish_tables(ws: Workspace, staging: Any, tables: Sequence[str],
                   progress: Callable[[str], None] | None = None) -> None:
    """Copy validated tables from the DuckDB staging warehouse to the workspace's engine:
    PostgreSQL takes them by COPY in one transaction, Spark as lake folders."""
    from clientlens.model.tables import TABLES

    tables = sorted(tables, key=list(TABLES).index)
    say = progress or (lambda _m: None)
    if ws.settings.engine == "spark":
        from clientlens.services.workspace.lake import export_lake

        say(f"writing {', '.join(tables)} to the lake {ws.settings.lake}")
        export_lake(staging, ws.lake_path, tables=tables)
        return

    def reader(name: str) -> Callable[[], Any]:
        query = exp.select(*(col(c) for c in TABLES[name].column_names)).from_(table(name))
        # Streamed (DuckDB reads each from a cursor of its own: a streamed result keeps
        # its connection busy).
        return lambda: staging.fetch_batches(query, 100_000)

    say(f"copying {', '.join(tables)} to engine '{ws.settings.engine}'")
    with ws.engine() as engine:
        engine.load_tables({name: reader(name) for name in tables})


def default_as_of(path: str | Path) -> dt.date:
    """The date of the newest transaction in the warehouse, else today."""
    ws = Workspace(path)
    with ws.engine() as engine:
        rows = engine.fetch_all(parse("select cast(max(ts) as date) from transactions"))
    return rows[0][0] or dt.date.today()


def run(path: str | Path, as_of: dt.date | None = None, *, record: bool = True,
        via: str = "python", requested_by: str | None = None) -> RunResult:
    """Segment every customer for ``as_of`` and store the profile snapshot.

    The run is recorded in the application database with its status, result or error
    (``services/workspace/runs.py``, ``clientlens runs``); ``record=False`` when the caller
    records it itself (the HTTP service)."""
    ws = Workspace(path)
    if not record:
        return _run(ws, as_of or default_as_of(path))
    from clientlens.services.workspace import runs

    with ws.app_db() as db:
        rec, _ = runs.begin(db, as_of=as_of, requested_by=requested_by or runs.current_user(),
                            via=via, status="running", exclusive=False)
        runs.update(db, rec.run_id, stage="segmenting", progress=0.1)
        try:
            result = _run(ws, as_of or default_as_of(path))
        except BaseException as e:
            stage, error = "failed", f"internal error ({type(e).__name__}: {e})"
            if isinstance(e, KeyboardInterrupt):
                stage, error = "interrupted", "interrupted (Ctrl-C)"
            elif isinstance(e, ClientlensError):
                error = str(e)
            runs.update(db, rec.run_id, status="failed", stage=stage, error=error,
                        finished_at=dt.datetime.now(dt.UTC))
            raise
        runs.update(db, rec.run_id, status="succeeded", stage="done", progress=1.0,
                    as_of=result.as_of, result=runs.result_summary(result),
                    finished_at=dt.datetime.now(dt.UTC))
    return result


def _run(ws: Workspace, as_of: dt.date) -> RunResult:
    # Only the definitions in force on the date: the approved version once the workspace
    # is governed, never an unapproved edit of the files (docs/governance.md).
    found = ws.in_force(as_of)
    defs = found.definitions
    with ws.engine() as engine:
        sync_operational(ws, engine)
        result = run_segmentation(engine, defs, as_of, money_unit=ws.settings.base_currency)
    _archive(ws, defs, as_of)
    return replace(result, definitions_version=found.version_id)


def _archive(ws: Workspace, defs: Any, as_of: dt.date) -> None:
    from clientlens.services.profiling.history import archive_rulebook

    with ws.app_db() as db:
        archive_rulebook(db, defs, as_of)


@dataclass(frozen=True)
class BackfillResult:
    dates: list[dt.date]     # the whole range asked for
    ran: list[RunResult]     # the dates run now
    skipped: list[dt.date]   # already run with the current rulebook (resumed past them)
    # Dates run before that follow a date run now: run again, so that their entitlement
    # events compare with the new previous snapshot, not with nothing ("first run").
    rerun: list[RunResult] = field(default_factory=list)


def backfill(path: str | Path, start: dt.date, end: dt.date, every: str = "month", *,
             force: bool = False,
             progress: Callable[[int, int, dt.date], None] | None = None) -> BackfillResult:
    """Run a range of as-of dates, oldest first; dates already run with the current
    rulebook are skipped unless ``force``, so an interrupted backfill resumes."""
    from clientlens.services.profiling.history import backfill_dates, pending_dates

    ws = Workspace(path)
    days = backfill_dates(start, end, every)
    if not days:
        raise ClientlensError(f"no {every} ends between {start} and {end}")
    # Each date with the definitions in force on it (one version or several); all are
    # resolved first, so a date without approved definitions stops nothing half-way.
    found = {day: ws.in_force(day) for day in days}
    ran: list[RunResult] = []
    with ws.engine() as engine:
        todo = days if force else [d for d in days if pending_dates(
            engine, [d], found[d].definitions.version)]
        sync_operational(ws, engine)
        for n, day in enumerate(todo):
            if progress:
                progress(n, len(todo), day)
            ran.append(replace(run_segmentation(engine, found[day].definitions, day,
                                                money_unit=ws.settings.base_currency),
                               definitions_version=found[day].version_id))
        if progress:
            progress(len(todo), len(todo), todo[-1] if todo else end)
        # A date run earlier (say the demo's, or last night's) whose previous snapshot is
        # now one of these has events computed against an older one, or against none:
        # "first run, everything granted". Run each such date again, oldest first.
        from clientlens.services.profiling.entitlements import later_dates

        done = set(todo)
        stale: set[dt.date] = set()
        for day in todo:
            after = [d for d in later_dates(engine, day) if d not in done]
            if after:
                stale.add(after[0])
        rerun = []
        for day in sorted(stale):
            again = ws.in_force(day)
            rerun.append(replace(run_segmentation(engine, again.definitions, day,
                                                  money_unit=ws.settings.base_currency),
                                 definitions_version=again.version_id))
    archived: set[str] = set()
    for result in ran:
        if result.rulebook_version not in archived:
            archived.add(result.rulebook_version)
            _archive(ws, found[result.as_of].definitions, result.as_of)
    return BackfillResult(dates=days, ran=ran, skipped=[d for d in days if d not in todo],
                          rerun=rerun)


def win_back(path: str | Path, as_of: dt.date | None = None, limit: int | None = None) -> Any:
    """Divorced customers to approach after the cooling-off period, likeliest first."""
    from clientlens.services.relationship.departures import win_back_list

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine:
        as_of = as_of or latest_as_of(engine)
        return win_back_list(engine, ws.definitions, as_of, limit=limit)


def fit_activity(path: str | Path, as_of: dt.date | None = None) -> Any:
    """Fit the BG/NBD probability-alive model on a snapshot; writes activity_model.yaml."""
    from clientlens.services.models.activity import fit_activity as fit

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine:
        as_of = as_of or latest_as_of(engine)
        return fit(engine, ws.definitions, as_of, ws.definitions_dir)


def publish_referral_programmes(path: str | Path, files: Sequence[str | Path] = ()) -> list:
    """Publish the workspace's referral programmes (definitions/referrals/*.yaml, or the
    files given); unchanged content publishes nothing new."""
    from clientlens.services.programmes.referrals import publish_programme

    ws = Workspace(path)
    found = [Path(f) for f in files] or sorted((ws.definitions_dir / "referrals").glob("*.yaml"))
    if not found:
        raise ClientlensError(f"no referral programmes in {ws.definitions_dir / 'referrals'}")
    with ws.app_db() as db:
        return [publish_programme(db, f) for f in found]


def referrer_profile(path: str | Path, customer_id: str) -> dict[str, Any]:
    """The referrer's segment, phase and grades from the latest snapshot."""
    from clientlens.services.profiling.segmentation import profile_row

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine:
        as_of = latest_as_of(engine)
        row = profile_row(engine, customer_id, as_of)
    if row is None:
        raise ClientlensError(f"customer '{customer_id}' has no profile on {as_of}, the latest "
                              "run")
    return referral_lookups.referrer_profile(row)


def is_customer(path: str | Path) -> Callable[[str], bool]:
    """Whether an id is already a customer in the warehouse (for the referral checks)."""
    ws = Workspace(path)

    def check(customer_id: str) -> bool:
        with ws.engine(read_only=True) as engine:
            return referral_lookups.is_customer(engine)(customer_id)
    return check


@dataclass(frozen=True)
class History:
    customer_id: str
    intervals: list
    snapshots: list[dt.date]


def history(path: str | Path, customer_id: str,
            attributes: tuple[str, ...] | None = None) -> History:
    """The customer's effective-dated segment, phase, need (and any other columns)."""
    from clientlens.services.profiling.history import ATTRIBUTES, intervals, snapshot_dates

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine:
        found = intervals(engine, customer_id, attributes or ATTRIBUTES)
        return History(customer_id=customer_id, intervals=found,
                       snapshots=snapshot_dates(engine))


def sync_operational(ws: Workspace, engine: Any) -> dict[str, int]:
    """Cases, departures and programme referrals from the application database into
    the warehouse."""
    from clientlens.services.ingest.operational import sync_operational_tables

    with ws.app_db() as db:
        return sync_operational_tables(db, engine)


def summary(path: str | Path, as_of: dt.date | None = None) -> tuple[dt.date, list]:
    ws = Workspace(path)
    # Read-only: any number of such commands may read the warehouse at once.
    with ws.engine(read_only=True) as engine:
        as_of = as_of or latest_as_of(engine)
        return as_of, segment_summary(engine, ws.definitions, as_of,
                                      money_unit=ws.settings.base_currency)


def explain(path: str | Path, customer_id: str, as_of: dt.date | None = None) -> Explanation:
    """Why the customer is in their segment, and what would move them up.

    A date without a snapshot of its own is explained from the newest snapshot before
    it; a snapshot made with an older rulebook is explained with that rulebook (from
    the archive), so the answer is the one given at the time."""
    from clientlens.services.profiling.history import archived_definitions, snapshot_on
    from clientlens.services.profiling.segmentation import profile_row

    ws = Workspace(path)
    defs = ws.definitions
    note = None
    with ws.engine() as engine:
        if as_of is None:
            as_of = latest_as_of(engine)
        else:
            day = snapshot_on(engine, as_of)
            if day is not None and day != as_of:
                note = f"no run on {as_of}; explained from the snapshot of {day}"
                as_of = day
        row = profile_row(engine, customer_id, as_of)
        version = row.get("rulebook_version") if row else None
        if version and version != defs.version:
            with ws.app_db() as db:
                old = archived_definitions(db, version)
            if old is not None:
                defs = old
        x = explain_customer(engine, defs, customer_id, as_of)
    if note:
        x = replace(x, note=f"{note}; {x.note}" if x.note else note)
    return x


def export(path: str | Path, target: str | Path, as_of: dt.date | None = None, *,
           csv_dialect: str | None = None) -> Path:
    """Write one date's profiles to a .csv, .xlsx or .parquet file.

    ``target`` is a path as given (relative to the current folder, like every output of
    clientlens); the file is written whole and private (``platform/exports.py``)."""
    from clientlens.services.analytics.lists import profiles

    ws = Workspace(path)
    target = Path(target)
    exports.format_of(target)  # a wrong suffix is an error before anything runs
    with ws.engine(read_only=True) as engine:  # several exports may run at once
        as_of = as_of or latest_as_of(engine)
        return profiles(engine, as_of).write(engine, target, _dialect(ws, csv_dialect))


def _dialect(ws: Workspace, name: str | None) -> str:
    """The CSV dialect asked for, else the workspace's ``export_csv_dialect``."""
    return exports.csv_dialect(name or ws.settings.export_csv_dialect).name


def export_rows(path: str | Path, target: str | Path, columns: list[str], rows: list, *,
                csv_dialect: str | None = None,
                allowed: tuple[str, ...] = exports.TABLE_FORMATS, sheet: str = "data"
                ) -> Path:
    """Write a small result (a win-back list, KPI rows) the way every export is
    written: by suffix, whole, private, formula-leading text neutralised."""
    ws = Workspace(path)
    return exports.write_rows(target, columns, rows, dialect=_dialect(ws, csv_dialect),
                              allowed=allowed, sheet=sheet)


def write_document(target: str | Path, text: str) -> Path:
    """A rendered document (the dictionary as Markdown or HTML), whole and private."""
    return exports.write_document(target, text)


def dictionary_context(path: str | Path, lang: str = "en") -> dict[str, Any]:
    """What the dictionary of terms (словарь терминов) shows, in ``lang`` (en, ru, bg),
    as data; ``clientlens.faces.rendering.render_dictionary`` makes Markdown or HTML
    of it."""
    from clientlens.definitions.common import LANGUAGES
    from clientlens.services.profiling.dictionary import dictionary_context as context

    if lang not in LANGUAGES:
        raise ClientlensError(f"unknown language '{lang}': use {', '.join(LANGUAGES)}")
    return context(Workspace(path).definitions, lang)


def demo(path: str | Path, *, customers: int = 100_000, seed: int = 42,
         as_of: dt.date = dt.date(2026, 10, 31), bad_rows: int = 5,
         progress: Progress | None = None,
         import_progress: Callable[[str], None] | None = None,
         earlier: dt.date | None = None) -> tuple[list, RunResult]:
    """Generate a demo bank, import it, segment it, export the profiles. ``earlier``:
    a date to segment first, so that migrations and trends have two snapshots."""
    from clientlens.demo.generator import generate_bank

    root = Path(path)
    init_workspace(root, force=True)
    data_dir = root / "demo-data"
    generate_bank(data_dir, customers=customers, seed=seed, as_of=as_of, bad_rows=bad_rows,
                  progress=progress)
    reports = import_files(root, [data_dir], force=True, progress=import_progress)
    if earlier is not None and earlier < as_of:
        run(root, earlier)
    result = run(root, as_of)
    export(root, root / "exports" / "profiles.csv", as_of)
    export(root, root / "exports" / "profiles.parquet", as_of)
    return reports, result


@dataclass(frozen=True)
class ListResult:
    as_of: dt.date
    title: str
    note: str
    total: int
    rows: Any  # pyarrow.Table, the first ``limit`` rows
    written: Path | None
    unit: str = "customers"  # what ``total`` counts: customers, or events


def backtest_early_warning(path: str | Path, start: dt.date, end: dt.date, *,
                           horizon_days: int = 90, quiet_days: int = 60,
                           phase: str = "potential_divorce") -> Any:
    """The early-warning phase's signs against who left or went dormant within the
    horizon, over the stored snapshots from ``start`` to ``end``."""
    from clientlens.services.analytics.backtest import early_warning

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine:
        return early_warning(engine, ws.definitions, start, end, horizon_days=horizon_days,
                             quiet_days=quiet_days, phase=phase)


def backtest_offers(path: str | Path, start: dt.date, end: dt.date, *,
                    horizon_days: int = 90) -> Any:
    """Needs and next-best products against the products opened within the horizon,
    over the stored snapshots from ``start`` to ``end``."""
    from clientlens.services.analytics.offer_backtest import offers

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine:
        return offers(engine, ws.definitions, start, end, horizon_days=horizon_days)


def customer_list(path: str | Path, kind: str, as_of: dt.date | None = None, *,
                  limit: int = 20, out: str | Path | None = None,
                  csv_dialect: str | None = None, engine: Any = None,
                  **options: Any) -> ListResult:
    """A customer list over a stored run: leads, survey-due, lookalike or events;
    ``out`` (a path as given) gets the whole list as .csv, .xlsx or .parquet.
    ``engine``: the warehouse already open (the service's), else it is opened."""
    ws = Workspace(path)
    if out is not None:
        exports.format_of(Path(out))  # a wrong suffix is an error before anything runs
    dialect = _dialect(ws, csv_dialect)
    if engine is not None:
        return _customer_list(ws, engine, kind, as_of, limit, out, dialect, options)
    with ws.engine(read_only=True) as opened:
        return _customer_list(ws, opened, kind, as_of, limit, out, dialect, options)


def _customer_list(ws: Workspace, engine: Any, kind: str, as_of: dt.date | None, limit: int,
                   out: str | Path | None, dialect: str, options: dict[str, Any]
                   ) -> ListResult:
    from clientlens.services.analytics import lists as targeting

    as_of = as_of or latest_as_of(engine)
    if kind == "events":
        made = targeting.entitlement_events(engine, as_of, **options)
    else:
        make = {"leads": targeting.leads, "survey-due": targeting.survey_due,
                "lookalike": targeting.lookalikes, "actions": targeting.phase_actions}[kind]
        made = make(engine, ws.definitions, as_of, **options)
    written = None
    if out is not None:
        written = made.write(engine, Path(out), dialect)
    return ListResult(as_of, made.title, made.note, made.count(engine),
                      made.fetch(engine, limit), written,
                      unit="events" if kind == "events" else "customers")


def entitlements(path: str | Path, as_of: dt.date | None = None) -> tuple[dt.date, list]:
    from clientlens.services.analytics.lists import entitlement_counts

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine:
        as_of = as_of or latest_as_of(engine)
        return as_of, entitlement_counts(engine, as_of)


def train_scorecard(path: str | Path, labels: str | Path, *, as_of: dt.date | None = None,
                    target: str = "bad", rating_id: str = "solvency",
                    features: list[str] | None = None, holdout: float = 0.3, seed: int = 0,
                    out: Path | None = None) -> Any:
    """Fit a scorecard on labelled outcomes and write it to the rulebook's scorecards/."""
    from clientlens.services.models.training import train_scorecard as train

    ws = Workspace(path)
    as_of = as_of or default_as_of(path)
    with ws.engine() as engine:
        return train(engine, ws.definitions, Path(labels), as_of=as_of, target=target,
                     rating_id=rating_id, features=features, holdout=holdout, seed=seed,
                     out=out)


def lake_export(path: str | Path, lake: str | Path) -> list:
    """Write the workspace's DuckDB warehouse as a Parquet lake for the Spark engine."""
    from clientlens.services.workspace.lake import export_lake

    ws = Workspace(path)
    if not ws.warehouse_path.exists():
        raise ClientlensError(f"{ws.warehouse_path}: no DuckDB warehouse to export; import "
                              "the bank's files first (clientlens import)")
    # With another engine, the DuckDB warehouse is the staging area imports went through.
    with ws.staging_engine(read_only=True) as engine:
        return export_lake(engine, Path(lake))


def reevaluate(path: str | Path, customer_id: str, as_of: dt.date | None = None, *,
               reason: str | None = None, note: str | None = None,
               requested_by: str | None = None, via: str = "python") -> Any:
    """Re-evaluate one customer now from the warehouse and record it like a nightly
    change (``services/relationship/reevaluation.py``); returns its ``Outcome``."""
    from clientlens.services.relationship.reevaluation import reevaluate as reevaluate_customer
    from clientlens.services.workspace.runs import current_user

    ws = Workspace(path)
    with ws.engine(read_only=True) as engine, ws.app_db() as db:
        day = as_of
        if day is None:  # the service's default: the latest snapshot's date
            try:
                day = latest_as_of(engine)
            except ClientlensError:
                day = dt.date.today()
        defs = ws.in_force(day).definitions
        return reevaluate_customer(engine, db, defs, customer_id, as_of,
                                   requested_by=requested_by or current_user(), via=via,
                                   reason=reason, note=note)


def reevaluations(path: str | Path, customer_id: str | None = None, limit: int = 50) -> list:
    """Recorded re-evaluations (of one customer, or all), newest first."""
    from clientlens.services.relationship.reevaluation import list_reevaluations

    ws = Workspace(path)
    with ws.app_db() as db, ws.engine(read_only=True) as engine:
        return list_reevaluations(db, customer_id, limit=limit, engine=engine)


def recorded_runs(path: str | Path, limit: int = 20) -> list:
    """Runs recorded in the application database (HTTP and CLI), newest first."""
    from clientlens.services.workspace.runs import list_runs

    with Workspace(path).app_db() as db:
        return list_runs(db, limit)


def recorded_run(path: str | Path, run_id: str) -> Any:
    from clientlens.services.workspace.runs import get_run

    with Workspace(path).app_db() as db:
        return get_run(db, run_id)
