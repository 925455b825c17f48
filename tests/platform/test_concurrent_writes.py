"""Files several processes write at once stay whole (issue 16).

Every file clientlens writes goes through a private temporary file with a unique
name in the target's folder, renamed over the target (platform/files.py), so with
several writers the last one wins and nobody ever sees half a file. Each test
starts real ``clientlens`` processes together and checks the result: every
process succeeded, and the file is exactly what one of them wrote.

Covered: the same export (profiles CSV in two dialects, an XLSX list), the
dictionary in three languages, ``fit-activity``'s definitions/activity_model.yaml,
KPI and migration files, and a Parquet lake written by several ``lake-export`` at
once. (The API tokens move to the application database with issue 16's HTTP work.)
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from clientlens.demo.generator import generate_bank
from clientlens.faces.cli import app
from clientlens.faces.rendering import render_dictionary
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import Workspace

WRITERS = 4  # real processes on a small CI machine: enough to overlap


def together(commands: list[list[str]], cwd: Path) -> list[subprocess.CompletedProcess]:
    """Start every command at once, then wait for all."""
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": os.environ.get("HOME", "/")}
    procs = [subprocess.Popen([sys.executable, "-m", "clientlens.faces.cli", *c], cwd=cwd,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for c in commands]
    done = []
    for c, p in zip(commands, procs, strict=True):
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, f"{c}: exit {p.returncode}: {err}"
        done.append(subprocess.CompletedProcess(c, p.returncode, out, err))
    return done


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("concurrent")
    generate_bank(tmp / "data", customers=150, seed=3)
    root = tmp / "ws"
    jobs.init(root)
    jobs.import_files(root, [tmp / "data"])
    jobs.run(root, dt.date(2026, 9, 30))
    jobs.run(root, dt.date(2026, 10, 31))
    return root


def no_leftovers(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if ".partial" in p.name or
                p.name.endswith(".writing") or p.name.endswith(".old")]


def test_the_same_export_written_at_once_is_one_whole_file(ws: Path, tmp_path: Path) -> None:
    w = str(ws)
    # What each writer would write alone.
    jobs.export(ws, tmp_path / "alone-standard.csv", csv_dialect="standard")
    jobs.export(ws, tmp_path / "alone-ru.csv", csv_dialect="excel-ru")
    wanted = {(tmp_path / "alone-standard.csv").read_bytes(),
              (tmp_path / "alone-ru.csv").read_bytes()}
    assert len(wanted) == 2
    together([["export", "same.csv", "-w", w, "--csv-dialect",
               "standard" if i % 2 else "excel-ru"] for i in range(WRITERS)], tmp_path)
    assert (tmp_path / "same.csv").read_bytes() in wanted
    due = jobs.customer_list(ws, "survey-due", limit=0).total
    assert due > 20, "too few customers due for a survey to tell a torn file"
    together([["survey-due", "-w", w, "-o", "due.xlsx"] for _ in range(WRITERS)], tmp_path)
    rows = list(openpyxl.load_workbook(tmp_path / "due.xlsx").active.iter_rows())
    assert len(rows) == due + 1  # the whole list and its header (a torn zip would not open)
    no_leftovers(tmp_path)


def test_dictionaries_written_at_once(ws: Path, tmp_path: Path) -> None:
    langs = ["en", "ru", "bg"]
    wanted = {render_dictionary(jobs.dictionary_context(ws, lang), "md") for lang in langs}
    assert len(wanted) == 3  # each language its own text
    together([["glossary", "-w", str(ws), "--lang", langs[i % 3], "-o", "docs/d.md"]
              for i in range(WRITERS)], tmp_path)
    assert (tmp_path / "docs" / "d.md").read_text(encoding="utf-8") in wanted
    no_leftovers(tmp_path)


def test_summaries_written_at_once(ws: Path, tmp_path: Path) -> None:
    w = str(ws)
    together([["kpis", "-w", w, "-o", "k.csv"] for _ in range(2)]
             + [["migrations", "-w", w, "-o", "m.csv", "-o", "m.png"] for _ in range(2)],
             tmp_path)
    alone = tmp_path / "alone"
    for args in (["kpis", "-w", w, "-o", str(alone / "k.csv")],
                 ["migrations", "-w", w, "-o", str(alone / "m.csv")]):
        result = CliRunner().invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "k.csv").read_bytes() == (alone / "k.csv").read_bytes()
    assert (tmp_path / "m.csv").read_bytes() == (alone / "m.csv").read_bytes()
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    no_leftovers(tmp_path)


def test_fit_activity_at_once_leaves_a_whole_model(ws: Path) -> None:
    model = ws / "definitions" / "activity_model.yaml"
    together([["fit-activity", "-w", str(ws)] for _ in range(3)], ws.parent)
    data = yaml.safe_load(model.read_text(encoding="utf-8"))
    assert data, model.read_text(encoding="utf-8")
    Workspace(ws).definitions  # noqa: B018 - the definitions still load
    no_leftovers(ws / "definitions")


def test_lake_exports_at_once_leave_whole_tables(ws: Path, tmp_path: Path) -> None:
    together([["lake-export", "lake", "-w", str(ws)] for _ in range(3)], tmp_path)
    with Workspace(ws).staging_engine(read_only=True) as engine:
        for table in ("customers", "accounts", "transactions"):
            want = engine.fetch_all(f'select count(*) from "{table}"')[0][0]
            got = pq.ParquetDataset(tmp_path / "lake" / table).read().num_rows
            assert got == want, table
    assert sorted(p.name for p in (tmp_path / "lake").iterdir() if p.name.startswith("."))\
        == []
