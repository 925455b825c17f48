"""The command line: Typer + Rich over ``clientlens.services.workspace.jobs``.

No business logic here.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clientlens.engines.duckdb_engine import WarehouseInUse
from clientlens.faces.cli_errors import report
from clientlens.faces.options import OUTPUT_HELP, CsvDialect, Workspace, parse_date
from clientlens.model.errors import ClientlensError
from clientlens.services.workspace import jobs

app = typer.Typer(
    name="clientlens",
    help="Customer segmentation and relationship engine for retail banks.\n\n"
         "Quick start: clientlens demo demo-bank",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
)
out = Console()
err = Console(stderr=True)

AsOf = Annotated[str | None, typer.Option("--as-of", help="As-of date, YYYY-MM-DD.")]


@app.callback()
def _options(ctx: typer.Context, engine: Annotated[str | None, typer.Option(
        "--engine", help="Engine for this command: duckdb, postgres or spark (overrides the "
        "workspace's clientlens.yaml).")] = None) -> None:
    """Customer segmentation and relationship engine for retail banks.

    Quick start: `clientlens demo demo-bank`
    """
    if engine is not None:
        from clientlens.engines.registry import engine_class

        engine_class(engine)  # an unknown name is an error naming the engines
    # Kept for this command's --workspace (faces/options.py), which carries it to the
    # services: no environment variable, nothing left behind for the next command.
    ctx.obj = engine


def _date(value: str | None) -> dt.date | None:
    return parse_date(value, "--as-of")


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                    console=err, transient=False)


@app.command()
def init(path: Annotated[Path, typer.Argument(help="Folder to create.")] = Path("."),
         force: Annotated[bool, typer.Option(help="Reset definitions to the defaults.")] = False
         ) -> None:
    """Create a workspace with the bank's default dictionary and rulebook.

    Example: `clientlens init my-bank`
    """
    ws = jobs.init(path, force=force)
    out.print(f"Workspace ready at [bold]{ws.root}[/]. Edit {ws.definitions_dir}/, then "
              f"`clientlens import -w {ws.root} <exports>`.")


@app.command()
def check(workspace: Workspace = Path(".")) -> None:
    """Check the glossary, rulebook and contact policy; list every problem with file and
    line.

    Example: `clientlens check -w my-bank`
    """
    defs = jobs.check(workspace).definitions
    out.print(f"OK: {len(defs.terms)} terms, {len(defs.parameters)} parameters, "
              f"{len(defs.segments)} segments; rulebook version {defs.version}")


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Files, or folders of files named "
                                                     "like the tables.")],
    workspace: Workspace = Path("."),
    table: Annotated[str | None, typer.Option(help="Target table; default from the name.")]
    = None,
    encoding: Annotated[str, typer.Option(help="auto, utf-8 or cp1251.")] = "auto",
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter; default detected.")]
    = None,
    decimal_comma: Annotated[bool | None, typer.Option(
        "--decimal-comma/--decimal-point", help="Decimal separator; default: comma when "
                                                "the delimiter is ';'.")] = None,
    force: Annotated[bool, typer.Option(help="Import even a file imported before.")] = False,
) -> None:
    """Import CSV or Parquet exports; bad rows go to quarantine with the reason.

    Examples:

    * `clientlens import -w my-bank exports/` (customers.csv, accounts.csv, ...)
    * `clientlens import -w my-bank --table accounts --encoding cp1251 branch.csv`
    """
    try:
        with err.status("importing...") as status:
            reports = jobs.import_files(workspace, files, table=table, encoding=encoding,
                                        delimiter=delimiter, decimal_comma=decimal_comma,
                                        force=force, progress=lambda m: status.update(m))
    except WarehouseInUse as e:
        reports = _import_on_service(workspace, files, e, table=table, encoding=encoding,
                                     delimiter=delimiter, decimal_comma=decimal_comma,
                                     force=force)
    _print_imports(reports)
    if any(r.rows_quarantined for r in reports):
        out.print("Quarantined rows: `clientlens quarantine -w ...` lists them with reasons.")


def _import_on_service(workspace: Path, files: list[Path], e: WarehouseInUse,
                       **options: object) -> list:
    """The import handed to the service that holds the warehouse; its reports."""
    from collections import Counter
    from types import SimpleNamespace

    from clientlens.faces import service_client

    service = service_client.service_for(workspace, e)
    missing = [f for f in files if not f.exists()]
    if missing:
        raise ClientlensError(f"no such file or folder: {missing[0]}")
    err.print(f"The warehouse is held by `clientlens serve` (PID {service.pid}); the import "
              "is handed to it.")
    with err.status("importing (in the service)..."):
        answer = service_client.ask(service, "POST", "/imports", {
            "files": [str(f.resolve()) for f in files], **options})
    return [SimpleNamespace(**{**r, "reasons": Counter(r["reasons"]),
                               "notes": Counter(r["notes"])}) for r in answer["reports"]]


def _print_imports(reports: list) -> None:
    t = Table(title="Import")
    for col in ("file", "table", "read", "new", "updated", "quarantined"):
        t.add_column(col, justify="right" if col in ("read", "new", "updated",
                                                     "quarantined") else "left")
    for r in reports:
        if r.already_imported:
            t.add_row(escape(Path(str(r.file)).name), r.table, "already imported", "", "", "")
            continue
        t.add_row(escape(Path(str(r.file)).name), r.table, f"{r.rows_read:,}",
                  f"{r.rows_loaded:,}",
                  f"{r.rows_updated:,}", f"{r.rows_quarantined:,}")
    out.print(t)
    for r in reports:
        for reason, n in r.reasons.most_common():
            out.print(f"  quarantined in {escape(Path(str(r.file)).name)}: {n:,} × "
                      f"{escape(str(reason))}",
                      highlight=False)
        for note, n in r.notes.most_common():
            out.print(f"  note on {escape(Path(str(r.file)).name)}: {n:,} {escape(note)}",
                      highlight=False)


@app.command()
def quarantine(workspace: Workspace = Path("."),
               limit: Annotated[int, typer.Option(help="Rows to show.")] = 20) -> None:
    """List quarantined rows: file, row number and reason.

    Example: `clientlens quarantine -w my-bank --limit 50`
    """
    from clientlens.services.workspace.folder import Workspace as Ws

    # Imports are validated in the DuckDB warehouse (the staging area for other engines).
    with Ws(workspace).staging_engine() as engine:
        if engine.table_columns("quarantine") is None:
            out.print("No quarantine yet.")
            return
        rows = engine.fetch_all("select table_name, file, row_number, reason from quarantine "
                                "order by file, row_number limit ?", [limit])
    t = Table(title="Quarantine")
    for col in ("table", "file", "line/row", "reason"):
        t.add_column(col)
    for table_name, file, row, reason in rows:
        t.add_row(table_name, escape(Path(file).name), str(row), escape(str(reason)))
    out.print(t)


@app.command()
def run(workspace: Workspace = Path("."), as_of: AsOf = None) -> None:
    """Segment every customer for the as-of date and store the profiles.

    The as-of date defaults to the date of the newest transaction. The run is recorded
    in the application database (`clientlens runs`).

    Example: `clientlens run -w my-bank --as-of 2026-10-31`
    """
    try:
        with err.status("segmenting customers..."):
            result = jobs.run(workspace, _date(as_of), via="cli")
    except WarehouseInUse as e:
        _run_on_service(workspace, as_of, e)
        return
    governed = (f" (approved definitions version {result.definitions_version})"
                if result.definitions_version is not None else "")
    out.print(f"{result.customers:,} customers segmented for {result.as_of} with rulebook "
              f"{result.rulebook_version}{governed} in {result.seconds:.1f} s")
    _print_summary(result.as_of, result.summary)
    _print_changes(result)


def _run_on_service(workspace: Path, as_of: str | None, e: WarehouseInUse) -> None:
    """The run handed to the service that holds the warehouse (faces/service_client.py)."""
    from types import SimpleNamespace

    from clientlens.faces import service_client

    service = service_client.service_for(workspace, e)
    err.print(f"The warehouse is held by `clientlens serve` (PID {service.pid}); the run "
              "is handed to it.")
    with err.status("segmenting customers (in the service)...") as status:
        record = service_client.run(service, _date(as_of), lambda r: status.update(
            f"segmenting customers (in the service): {r.get('stage') or r['status']} "
            f"{(r.get('progress') or 0):.0%}"))
    if record["status"] != "succeeded":
        raise ClientlensError(f"the run {record['run_id']} failed in the service: "
                              f"{record.get('error') or 'no reason given'}")
    r = record["result"]
    out.print(f"{r['customers']:,} customers segmented for {r['as_of']} with rulebook "
              f"{r['rulebook_version']} in {r['seconds']:.1f} s (run {record['run_id']}, "
              "by the service)")
    _print_summary(r["as_of"], [SimpleNamespace(**row) for row in r["segments"]])
    if r.get("phases"):
        total = sum(r["phases"].values()) or 1
        out.print("Relationship phases: " + ", ".join(
            f"{k} {n:,} ({n / total:.0%})" for k, n in r["phases"].items() if n))


def _print_phases(result: jobs.RunResult) -> None:
    if result.phases:
        total = sum(n for _, n in result.phases) or 1
        out.print("Relationship phases: " + ", ".join(
            f"{phase} {n:,} ({n / total:.0%})" for phase, n in result.phases if n))


def _print_changes(result: jobs.RunResult) -> None:
    _print_phases(result)
    ch = result.entitlements
    if ch is None:
        return
    since = f"since {ch.previous}" if ch.previous else "(first run: everything is new)"
    out.print(f"Entitlements {since}: {ch.granted:,} granted, {ch.grace_started:,} in grace, "
              f"{ch.revoked:,} revoked (`clientlens entitlements --events` lists them)")
    if ch.later_dates:
        err.print(f"[yellow]warning:[/] runs after {result.as_of} exist "
                  f"({', '.join(map(str, ch.later_dates[:3]))}); their entitlements were "
                  "computed from the old snapshot: run those dates again, oldest first")


def _print_summary(as_of: dt.date, rows: list) -> None:
    money = list(rows[0].means) if rows else []
    shown = [m for m in ("balance_card", "balance_deposit", "balance_current", "balance_total")
             if m in money] or money[:4]
    t = Table(title=f"Segments on {as_of} (mean balances, base currency)")
    t.add_column("segment")
    t.add_column("customers", justify="right")
    t.add_column("share", justify="right")
    bar = out.width >= 100  # a share bar where the terminal has room for it
    if bar:
        t.add_column("", no_wrap=True)
    for m in shown:
        t.add_column(m.removeprefix("balance_"), justify="right")
    for r in rows:
        t.add_row(r.segment, f"{r.customers:,}", f"{r.share:.1%}",
                  *(["[cyan]" + "█" * round(r.share * 20) + "[/]"] if bar else []),
                  *[f"{r.means[m]:,.0f}" if r.means.get(m) is not None else "—"
                    for m in shown])
    out.print(t)


@app.command()
def summary(workspace: Workspace = Path("."), as_of: AsOf = None) -> None:
    """Show the segment table of a stored run (default: the latest).

    Example: `clientlens summary -w my-bank`
    """
    try:
        date, rows = jobs.summary(workspace, _date(as_of))
    except WarehouseInUse as e:
        from types import SimpleNamespace

        from clientlens.faces import service_client

        service = service_client.service_for(workspace, e)
        query = f"?as_of={_date(as_of)}" if as_of else ""
        answer = service_client.ask(service, "GET", f"/segments{query}")
        date = answer["as_of"]
        rows = [SimpleNamespace(**row) for row in answer["segments"]]
    _print_summary(date, rows)


@app.command()
def explain(customer_id: Annotated[str, typer.Argument(help="Customer id.")],
            workspace: Workspace = Path("."), as_of: AsOf = None,
            as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False
            ) -> None:
    """Why a customer is in their segment, and what would move them to a higher rule.

    Example: `clientlens explain C00000042 -w my-bank`
    """
    from clientlens.compiler.pyplan import fmt

    try:
        x = jobs.explain(workspace, customer_id, _date(as_of))
    except WarehouseInUse as e:
        _explain_on_service(workspace, customer_id, as_of, as_json, e)
        return
    if as_json:
        out.print_json(json.dumps(_explanation_dict(x), default=str, ensure_ascii=False))
        return
    out.print(f"[bold]{x.customer_id}[/] on {x.as_of}: segment [bold green]{x.segment}[/] "
              f"({x.segment_rule.labels.en} / {x.segment_rule.labels.ru} / "
              f"{x.segment_rule.labels.bg}); rulebook {x.rulebook_version}, {x.source}")
    if x.note:
        out.print(f"[yellow]note:[/] {x.note}")
    for rr in x.rules:
        mark = "[green]✓ matched[/]" if rr.matched else "[red]✗ not matched[/]"
        out.print(f"\n[bold]{rr.rule.id}[/] {mark} — {rr.rule.description}")
        for c in rr.conditions:
            sign = "✓" if c.holds is True else "?" if c.holds is None else "✗"
            values = ", ".join(f"{k} = {fmt(v)}" for k, v in c.values.items())
            line = f"  {sign} {c.text}  [dim]({values})[/]"
            if c.need and c.holds is not True:
                line += f"\n      {rr.rule.id}: {c.need}"
            out.print(line)
    if x.matched is None:
        out.print(f"\nNo rule matched: default segment [bold]{x.segment}[/].")
    _print_decisions(x)


def _explain_on_service(workspace: Path, customer_id: str, as_of: str | None,
                        as_json: bool, e: WarehouseInUse) -> None:
    """The explanation from the service that holds the warehouse: its profile answer."""
    from urllib.parse import quote

    from clientlens.faces import service_client

    service = service_client.service_for(workspace, e)
    query = f"?as_of={_date(as_of)}" if as_of else ""
    p = service_client.ask(service, "GET",
                           f"/customers/{quote(customer_id, safe='')}/profile{query}")
    if as_json:
        out.print_json(json.dumps(p, default=str, ensure_ascii=False))
        return
    out.print(f"[bold]{escape(p['customer_id'])}[/] on {p['as_of']}: segment [bold green]"
              f"{p['segment']}[/] ({escape(str(p['segment_label']))}); rulebook "
              f"{p['rulebook_version']}, {p['source']} (answered by `clientlens serve`, "
              f"PID {service.pid})")
    if p.get("note"):
        out.print(f"[yellow]note:[/] {escape(p['note'])}")
    for rr in (p.get("explanation") or {}).get("segment_rules", []):
        mark = "[green]✓ matched[/]" if rr["matched"] else "[red]✗ not matched[/]"
        out.print(f"\n[bold]{rr['rule']}[/] {mark}")
        for c in rr["conditions"]:
            sign = "✓" if c["holds"] is True else "?" if c["holds"] is None else "✗"
            values = ", ".join(f"{k} = {v}" for k, v in c["values"].items())
            line = f"  {sign} {escape(c['condition'])}  [dim]({escape(values)})[/]"
            if c.get("needs") and c["holds"] is not True:
                line += f"\n      {rr['rule']}: {escape(c['needs'])}"
            out.print(line)
    out.print(f"\n[bold]Need:[/] {p.get('need')}   [bold]Phase:[/] {p.get('phase')}")
    for r in p.get("ratings", []):
        out.print(f"  {r['rating']}: {r['grade'] or '—'} "
                  f"({'; '.join(escape(x) for x in r['reasons'])})")
    for w in p.get("withheld", []):
        out.print(f"[dim]withheld ({w['category']}): {', '.join(w['fields'])}[/]")


def _print_decisions(x: jobs.Explanation) -> None:
    from clientlens.compiler.pyplan import fmt

    t = x.terms
    if x.needs or "need" in t:
        out.print(f"\n[bold]Need:[/] {t.get('need')}")
        for rr in x.needs:
            mark = "[green]✓[/]" if rr.matched else "[red]✗[/]"
            out.print(f"  {mark} {rr.rule.id}: " + "; ".join(
                f"{'✓' if c.holds is True else '✗'} {c.text} "
                f"({', '.join(f'{k} = {fmt(v)}' for k, v in c.values.items())})"
                for c in rr.conditions))
    for r in x.ratings:
        score = fmt(r.score) if r.score is not None else "—"
        out.print(f"\n[bold]{r.rating.labels.en} rating:[/] {score} grade [bold]{r.grade}[/]"
                  + (f"; reasons: {', '.join(r.reasons)}" if r.reasons else ""))
        if r.requirement_met:
            for f in r.factors:
                shown = f" = {fmt(f.value)}" if f.factor.kind != "cases" else ""
                out.print(f"  {f.factor.name}{shown}: {f.bin} -> {fmt(f.points)} points "
                          f"([dim]{'+' if f.deviation >= 0 else ''}{fmt(f.deviation)} vs "
                          f"neutral[/])")
    if x.phases or "phase" in t:
        out.print(f"\n[bold]Relationship phase:[/] {t.get('phase')}")
        for rr in x.phases:
            mark = "[green]✓[/]" if rr.matched else "[red]✗[/]"
            out.print(f"  {mark} {rr.rule.id}: " + "; ".join(
                f"{'✓' if c.holds is True else '✗'} {c.text} "
                f"({', '.join(f'{k} = {fmt(v)}' for k, v in c.values.items())})"
                for c in rr.conditions))
        for a in x.actions:
            due = f" within {a.within_days} days of entering the phase" \
                if a.within_days is not None else ""
            out.print(f"  → {a.labels.en} ({a.department or 'any department'}){due}: "
                      f"{a.description}")
    if "next_best_product" in t:
        out.print(f"\n[bold]Next-best product:[/] {t.get('next_best_product') or 'none'}"
                  + (f" — {t['next_best_reason']}" if t.get("next_best_reason") else ""))
        if t.get("lead_product"):
            out.print(f"[bold]Lead:[/] {t['lead_product']} for {t['lead_department']}")
    if x.services:
        out.print("\n[bold]Services qualified for today:[/]")
        for svc, granted, conds in x.services:
            mark = "[green]✓[/]" if granted else "[red]✗[/]"
            out.print(f"  {mark} {svc.id} ({svc.kind}): " + "; ".join(
                f"{'✓' if c.holds is True else '✗'} {c.text}" for c in conds))


def _explanation_dict(x: jobs.Explanation) -> dict:
    return {
        "customer_id": x.customer_id, "as_of": x.as_of, "segment": x.segment,
        "rulebook_version": x.rulebook_version, "source": x.source, "note": x.note,
        "rules": [{"segment": r.rule.id, "matched": r.matched,
                   "conditions": [{"condition": c.text, "holds": c.holds, "values": c.values,
                                   "needs": c.need} for c in r.conditions]} for r in x.rules],
        "terms": {k: v for k, v in x.terms.items() if k not in ("in_population",)},
        "need": {"need": x.need, "rules": [
            {"need": r.rule.id, "matched": r.matched,
             "conditions": [{"condition": c.text, "holds": c.holds, "values": c.values}
                            for c in r.conditions]} for r in x.needs]},
        "phase": {"phase": x.terms.get("phase"), "rules": [
            {"phase": r.rule.id, "matched": r.matched,
             "conditions": [{"condition": c.text, "holds": c.holds, "values": c.values}
                            for c in r.conditions]} for r in x.phases],
            "actions": [{"action": a.id, "label": a.labels.en, "within_days": a.within_days,
                         "department": a.department, "description": a.description}
                        for a in x.actions]},
        "ratings": [{"rating": r.rating.id, "score": r.score, "grade": r.grade,
                     "reasons": r.reasons,
                     "factors": [{"factor": f.factor.name, "value": f.value, "bin": f.bin,
                                  "points": f.points, "deviation": f.deviation}
                                 for f in r.factors]} for r in x.ratings],
        "services": [{"service": svc.id, "qualifies": granted,
                      "conditions": [{"condition": c.text, "holds": c.holds}
                                     for c in conds]} for svc, granted, conds in x.services],
    }


@app.command()
def export(target: Annotated[Path, typer.Argument(
               help=f"{OUTPUT_HELP}: .csv, .xlsx or .parquet.")],
           workspace: Workspace = Path("."), as_of: AsOf = None,
           csv_dialect: CsvDialect = None) -> None:
    """Write one date's profiles (segment, version, every term) to CSV, XLSX or Parquet.

    The file is the path as typed (relative to the current folder), written whole and
    readable by you only; text that a spreadsheet could run as a formula is neutralised.

    Examples:

    * `clientlens export profiles.parquet -w my-bank --as-of 2026-10-31`
    * `clientlens export profiles.csv -w my-bank --csv-dialect excel-ru` (Excel, Russian)
    """
    path = jobs.export(workspace, target, _date(as_of), csv_dialect=csv_dialect)
    out.print(f"Wrote {path}", highlight=False)


@app.command()
def glossary(workspace: Workspace = Path("."),
             format: Annotated[str | None, typer.Option(
                 "--format", "-f", help="md or html; default: the suffix of -o, else md")]
             = None,
             lang: Annotated[str, typer.Option(help="en, ru or bg")] = "en",
             output: Annotated[Path | None, typer.Option(
                 "--out", "--output", "-o", help=f"{OUTPUT_HELP}: .md or .html.")]
             = None) -> None:
    """Render the dictionary of terms (словарь терминов) and the rules for staff.

    Example: `clientlens glossary -w my-bank -o dictionary.html`
    """
    if output is not None:
        # As for every -o: the suffix picks the format.
        suffix = output.suffix.lower().lstrip(".")
        if suffix not in ("md", "html"):
            raise ClientlensError(f"{output}: use .md or .html for the dictionary")
        if format is not None and format != suffix:
            raise ClientlensError(f"--format {format} does not match {output}; leave "
                                  "--format out, the suffix picks it")
        format = suffix
    from clientlens.faces import rendering  # Jinja only for this command

    text = rendering.render_dictionary(jobs.dictionary_context(workspace, lang),
                                       format or "md")
    if output:
        jobs.write_document(output, text)
        out.print(f"Wrote {output}", highlight=False)
    else:
        sys.stdout.write(text)


@app.command()
def demo(path: Annotated[Path, typer.Argument(help="Workspace folder to (re)create.")]
         = Path("demo-bank"),
         customers: Annotated[int, typer.Option(min=1, help="Customers to generate.")]
         = 100_000,
         seed: Annotated[int, typer.Option(help="Random seed; same seed, same bank.")] = 42,
         as_of: Annotated[str, typer.Option("--as-of", help="As-of date of the demo.")]
         = "2026-10-31",
         history: Annotated[bool, typer.Option(
             help="Also segment the month-end before, so the console's migrations and "
                  "trends have two dates.")] = True) -> None:
    """Generate a demo bank, import it, segment it, print and export the segment table,
    and make a first console user (printed once).

    Example: `clientlens demo demo-bank --customers 100000`
    """
    date = _date(as_of)
    assert date is not None
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def on_progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        with err.status("importing...") as status:
            earlier = date.replace(day=1) - dt.timedelta(days=1) if history else None
            reports, result = jobs.demo(path, customers=customers, seed=seed, as_of=date,
                                        progress=on_progress, earlier=earlier,
                                        import_progress=lambda m: status.update(m))
    _print_imports(reports)
    out.print(f"{result.customers:,} customers segmented for {result.as_of} with rulebook "
              f"{result.rulebook_version} in {result.seconds:.1f} s")
    _print_summary(result.as_of, result.summary)
    _print_changes(result)
    out.print(f"Profiles written to {path}/exports/profiles.csv and profiles.parquet.\n"
              f"What really happens to each customer (true need, who leaves or goes "
              f"dormant, when and why) is in {path}/demo-data/truth/, never imported: "
              f"see docs/backtests.md.\n"
              f"Try: {_program()} explain -w {path} C00000001")
    from clientlens.services.workspace.staff_users import first_admin

    password = first_admin(path)
    if password is not None:
        out.print(f"Staff console: {_program()} serve -w {path}, then open "
                  f"http://127.0.0.1:8000/ and sign in as demo-admin with password "
                  f"{password} (shown once; `{_program()} user add` makes more users).",
                  highlight=False)


def _program() -> str:
    """How the user started us (e.g. .venv/bin/clientlens), for copy-paste hints."""
    argv0 = sys.argv[0] if sys.argv else ""
    return argv0 if "/" in argv0 and argv0.endswith("clientlens") else "clientlens"


def main() -> None:
    """Entry point: user errors print one message and exit non-zero (``cli_errors``);
    bugs keep their traceback.

    Every file the process creates is private to the user (umask 077): the warehouse,
    its WAL and spill files, the application database, exports."""
    from clientlens.platform.files import use_private_umask

    use_private_umask()
    warnings.showwarning = _show_warning
    try:
        app(standalone_mode=False)
    except ClientlensError as e:
        # Messages quote user text (rules, values, file names): never read as markup.
        report(e)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.TyperException as e:  # usage errors arrive here in non-standalone mode
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            err.print(f"[red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(getattr(e, "exit_code", 2))


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: object = None, line: str | None = None) -> None:
    """Notices from the services (a workspace made private) as one readable line."""
    from clientlens.services.workspace.folder import PrivacyWarning

    if issubclass(category, PrivacyWarning):
        err.print(f"[yellow]note:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)  # type: ignore


_python_showwarning = warnings.showwarning


Limit = Annotated[int, typer.Option(help="Rows to show; --out writes them all.", min=0)]
Out = Annotated[Path | None, typer.Option(
    "--out", "-o", help=f"Write the whole list to a file. {OUTPUT_HELP}: .csv, .xlsx or "
                        ".parquet.")]


def _customer_list(workspace: Path, kind: str, as_of: dt.date | None, *,
                   out: Path | None = None, **options: object) -> jobs.ListResult:
    """``jobs.customer_list``, handed to the service when it holds the warehouse."""
    try:
        return jobs.customer_list(workspace, kind, as_of, out=out, **options)
    except WarehouseInUse as e:
        import pyarrow as pa

        from clientlens.faces import service_client

        service = service_client.service_for(workspace, e)
        if out is not None:
            from clientlens.platform.exports import format_of

            format_of(out)  # a wrong suffix is refused here, as without the service
        fixed = {k: options.pop(k) for k in ("limit", "csv_dialect") if k in options}
        answer = service_client.ask(service, "POST", "/lists", {
            "kind": kind, "as_of": as_of, **fixed, "options": options,
            "out": str(out.resolve()) if out is not None else None})
        rows = pa.Table.from_pylist(answer["rows"]) if answer["rows"] else pa.table(
            {c: pa.array([], pa.string()) for c in answer["columns"]})
        return jobs.ListResult(answer["as_of"], answer["title"],
                               f"{answer['note']} (answered by `clientlens serve`, PID "
                               f"{service.pid})".strip(), answer["total"],
                               rows.select(answer["columns"]),
                               Path(answer["written"]) if answer["written"] else None,
                               unit=answer["unit"])


def _show_list(result: jobs.ListResult) -> None:
    t = Table(title=f"{result.title}: {result.total:,} {result.unit}")
    for name in result.rows.column_names:
        t.add_column(name)
    for row in result.rows.to_pylist():
        t.add_row(*[("—" if v is None else f"{v:,}" if isinstance(v, int) and
                     not isinstance(v, bool) else str(v)) for v in row.values()])
    out.print(t)
    if result.note:
        out.print(f"[dim]{result.note}[/]")
    if result.written:
        out.print(f"Wrote {result.written}")
    elif result.total > len(result.rows):
        out.print(f"[dim]showing {len(result.rows)} of {result.total:,}; --out FILE writes "
                  "all[/]")


@app.command()
def leads(workspace: Workspace = Path("."), as_of: AsOf = None,
          department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
          limit: Limit = 20, output: Out = None, csv_dialect: CsvDialect = None) -> None:
    """Sales leads per department: customers whose lead rules hold for a product they may
    have and do not hold, best prospects first.

    Example: `clientlens leads -w my-bank --department retail_lending -o car-leads.csv`
    """
    _show_list(_customer_list(workspace, "leads", _date(as_of), limit=limit, out=output,
                                  csv_dialect=csv_dialect, department=department))


@app.command()
def actions(workspace: Workspace = Path("."), as_of: AsOf = None,
            department: Annotated[str | None, typer.Option(help="Only this department.")]
            = None,
            phase: Annotated[str | None, typer.Option(help="Only this phase.")] = None,
            overdue: Annotated[bool, typer.Option(help="Only actions past their due day.")]
            = False,
            limit: Limit = 20, output: Out = None, csv_dialect: CsvDialect = None) -> None:
    """The bank's recommended actions for each customer's relationship phase (welcome
    contact, needs interview, recovery case, retention offer, ...), with the day each is
    due, soonest first.

    Example: `clientlens actions -w my-bank --department branch --overdue -o calls.csv`
    """
    _show_list(_customer_list(workspace, "actions", _date(as_of), limit=limit,
                                  out=output, csv_dialect=csv_dialect, department=department,
                                  phase=phase, overdue_only=overdue))


@app.command("survey-due")
def survey_due(workspace: Workspace = Path("."), as_of: AsOf = None, limit: Limit = 20,
               output: Out = None, csv_dialect: CsvDialect = None) -> None:
    """Customers due for a survey: their loyalty rating has too little data.

    Example: `clientlens survey-due -w my-bank -o survey.csv`
    """
    _show_list(_customer_list(workspace, "survey-due", _date(as_of), limit=limit,
                                  out=output, csv_dialect=csv_dialect))


@app.command()
def lookalike(product: Annotated[str, typer.Argument(help="Product id from the catalogue.")],
              workspace: Workspace = Path("."), as_of: AsOf = None,
              min_lift: Annotated[float, typer.Option(help="Holder share against the bank's.")]
              = 2.0,
              min_holders: Annotated[int, typer.Option(help="Holders a group needs.")] = 20,
              limit: Limit = 20, output: Out = None, csv_dialect: CsvDialect = None) -> None:
    """Look-alike targeting: customers who do not hold a product but share need, segment
    and grades with groups where many do.

    Example: `clientlens lookalike deposit_keep -w my-bank -o keep-lookalikes.csv`
    """
    _show_list(_customer_list(workspace, "lookalike", _date(as_of), limit=limit,
                                  out=output, csv_dialect=csv_dialect, product=product,
                                  min_lift=min_lift,
                                  min_holders=min_holders))


@app.command()
def entitlements(workspace: Workspace = Path("."), as_of: AsOf = None,
                 events: Annotated[bool, typer.Option("--events", help="List the day's "
                                                      "granted, grace and revoked events.")]
                 = False,
                 service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
                 limit: Limit = 20, output: Out = None, csv_dialect: CsvDialect = None
                 ) -> None:
    """Services and benefits held per service, and the events of a run for downstream
    systems (granted, grace_started, revoked).

    Example: `clientlens entitlements -w my-bank --events -o events.csv`
    """
    if events or output:
        _show_list(_customer_list(workspace, "events", _date(as_of), limit=limit,
                                      out=output, csv_dialect=csv_dialect, service=service))
        return
    date, rows = jobs.entitlements(workspace, _date(as_of))
    t = Table(title=f"Entitlements on {date}")
    for name in ("service", "holders", "in grace", "granted", "grace started", "revoked"):
        t.add_column(name, justify="left" if name == "service" else "right")
    for row in rows:
        t.add_row(row[0], *[f"{v:,}" for v in row[1:]])
    out.print(t)


@app.command("train-scorecard")
def train_scorecard(
    labels: Annotated[Path, typer.Argument(help="CSV or Parquet with customer_id and the "
                                                "0/1 target (1 = bad).")],
    workspace: Workspace = Path("."), as_of: AsOf = None,
    target: Annotated[str, typer.Option(help="Target column.")] = "bad",
    rating: Annotated[str, typer.Option(help="Rating id to write.")] = "solvency",
    features: Annotated[str | None, typer.Option(help="Comma-separated glossary terms; "
                                                      "default every number and text term.")]
    = None,
    holdout: Annotated[float, typer.Option(help="Share held out for AUC and KS.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the stratified split.")] = 0,
    output: Annotated[Path | None, typer.Option("--out", "-o", help="YAML file; default "
                                                "definitions/scorecards/<rating>.yaml")]
    = None,
) -> None:
    """Fit a credit scorecard (optbinning: monotonic bins, WoE, logistic regression) on the
    bank's outcomes and write it as rulebook YAML; it then runs inside the engine.

    Features are the glossary terms on the as-of date. Nothing is written unless the
    in-engine score equals optbinning's for every labelled customer.

    Example: `clientlens train-scorecard outcomes.csv -w my-bank --features
    declared_income,age_years,overdue_max_days,loan_debt,balance_total`
    """
    names = [f.strip() for f in features.split(",") if f.strip()] if features else None
    with err.status("fitting the scorecard..."):
        r = jobs.train_scorecard(workspace, labels, as_of=_date(as_of), target=target,
                                 rating_id=rating, features=names, holdout=holdout, seed=seed,
                                 out=output)
    out.print(f"Wrote {r.path}: {len(r.kept)} of {len(r.candidates)} factors kept "
              f"({', '.join(r.kept)})")
    out.print(f"{r.rows:,} customers, bad rate {r.bad_rate:.1%}; fitted on {r.train_rows:,}, "
              f"held out {r.holdout_rows:,}" + (f": AUC {r.auc:.3f}, KS {r.ks:.3f}"
                                                if r.auc is not None else ""))
    out.print(f"In-engine score equals optbinning's for all {r.checked_rows:,} customers.")


@app.command("lake-export")
def lake_export(lake: Annotated[Path, typer.Argument(help="Folder of the Parquet lake.")],
                workspace: Workspace = Path(".")) -> None:
    """Write the warehouse's tables as a Parquet lake for the Spark engine (transactions
    and interactions partitioned by month).

    Example: `clientlens lake-export /data/lake -w my-bank`, then set `engine: spark` and
    `lake: /data/lake` in a workspace's clientlens.yaml
    """
    with err.status("writing the lake..."):
        tables = jobs.lake_export(workspace, lake)
    t = Table(title=f"Lake at {lake}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    t.add_column("folder")
    for item in tables:
        t.add_row(item.table, f"{item.rows:,}", str(item.path))
    out.print(t)

# -- the relationship over time, cases and departures ---------------------------------
from clientlens.faces import lifecycle_cli, relationship_cli  # noqa: E402
from clientlens.faces.cases_cli import cases_app  # noqa: E402

app.command("history")(relationship_cli.history)
app.command("backfill")(relationship_cli.backfill)
app.command("win-back")(relationship_cli.win_back)
app.command("fit-activity")(relationship_cli.fit_activity)
app.add_typer(relationship_cli.departures_app)
app.add_typer(cases_app)
app.command("migrations")(lifecycle_cli.migrations)
app.command("kpis")(lifecycle_cli.kpis)

# -- re-evaluation on demand and recorded runs ------------------------------------------
from clientlens.faces import reevaluation_cli  # noqa: E402

app.command("reevaluate")(reevaluation_cli.reevaluate)
app.command("reevaluations")(reevaluation_cli.reevaluations)
app.add_typer(reevaluation_cli.runs_app)


# -- the HTTP service and its tokens ----------------------------------------------------
from clientlens.faces.backtest_cli import backtest_app  # noqa: E402

app.add_typer(backtest_app)

from clientlens.faces.api_cli import serve as api_serve  # noqa: E402
from clientlens.faces.api_cli import token_app  # noqa: E402
from clientlens.faces.referrals_cli import referrals_app  # noqa: E402

app.command("serve")(api_serve)
app.add_typer(token_app)
app.add_typer(referrals_app)

# -- the contact policy: consents and contacts ------------------------------------------
from clientlens.faces.contact_cli import consent_app, contact_app  # noqa: E402

app.add_typer(consent_app)
app.add_typer(contact_app)

# -- the console's users ------------------------------------------------------------------
from clientlens.faces.users_cli import user_app  # noqa: E402

app.add_typer(user_app)

# -- rule governance ---------------------------------------------------------------------
from clientlens.faces.definitions_cli import definitions_app  # noqa: E402

app.add_typer(definitions_app)


if __name__ == "__main__":
    main()
