"""The command line as a user meets it: real processes, exit codes, files written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clientlens.services.workspace.folder import Workspace, init_workspace
from tests.support.cli import cli

AS_OF = "2026-10-31"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "bank"
    ws = init_workspace(root)
    with ws.engine() as engine:
        engine.execute("""insert into customers values
            ('C1', 'Иванова Мария Петровна', 'retail', date '2019-03-01', date '1960-05-02',
             'Казань', 40000, true, 2006, false, null, null),
            ('C2', 'Петров Пётр', 'retail', date '2018-01-01', null, 'Москва', null, null,
             null, null, null, null),
            ('B1', 'ООО Ромашка', 'business', date '2018-01-01', null, 'Москва', null, null,
             null, null, null, null)""")
        engine.execute("""insert into accounts (account_id, customer_id, account_type, subtype,
            product_code, currency, opened_on, closed_on, balance, balance_base) values
            ('A1', 'C1', 'deposit', 'term', null, 'RUB', date '2020-01-01', null, 1120000,
             1120000),
            ('A2', 'C2', 'card', 'debit', null, 'RUB', date '2019-01-01', date '2025-01-01',
             5000, 5000)""")
    return root


def test_run_explain_export_round_trip(workspace: Path) -> None:
    run = cli("run", "-w", str(workspace), "--as-of", AS_OF)
    assert "2 customers segmented" in run.stdout  # the business customer is not segmented
    assert "investor" in run.stdout and "loyal" in run.stdout

    why = cli("explain", "C1", "-w", str(workspace), "--as-of", AS_OF)
    assert "segment investor" in why.stdout
    assert "needs balance_total >= 1,500,000 (status_min_balance); has 1,120,000" in why.stdout
    assert "new: needs products_ever = 0 (has 1) or relationship_days <= 180 " \
           "(new_customer_days) (has 2," in why.stdout
    as_json = json.loads(cli("explain", "C1", "-w", str(workspace), "--as-of", AS_OF,
                             "--json").stdout)
    assert as_json["segment"] == "investor"
    assert [r["segment"] for r in as_json["rules"]] == ["loyal", "new", "status", "investor"]
    assert as_json["rules"][-1]["matched"] is True

    # An output path is the path as typed, relative to the current folder (issue 17).
    here = workspace.parent
    cli("export", "profiles.parquet", "-w", str(workspace), "--as-of", AS_OF, cwd=here)
    table = pq.read_table(here / "profiles.parquet").to_pylist()
    by_id = {r["customer_id"]: r for r in table}
    assert by_id["C1"]["segment"] == "investor"
    assert by_id["C2"]["segment"] == "loyal"
    version = Workspace(workspace).definitions.version
    assert {r["rulebook_version"] for r in table} == {version}
    assert not list(here.glob("*.partial"))


def test_rerunning_a_date_replaces_its_snapshot(workspace: Path) -> None:
    cli("run", "-w", str(workspace), "--as-of", AS_OF)
    cli("run", "-w", str(workspace), "--as-of", AS_OF)
    cli("run", "-w", str(workspace), "--as-of", "2026-09-30")
    with Workspace(workspace).engine() as engine:
        counts = dict(engine.fetch_all("select as_of::varchar, count(*) from profiles "
                                       "group by all"))
    assert counts == {AS_OF: 2, "2026-09-30": 2}


@pytest.mark.parametrize("args, message", [
    (("run", "-w", "/nonexistent/ws"), "is not a clientlens workspace"),
    (("run", "--as-of", "2026-13-01"), "is not a date"),
    (("explain", "C999"), "unknown customer 'C999'"),
    (("explain", "B1", "--as-of", AS_OF), "outside the rulebook's population"),
    (("export", "profiles.ods", "--as-of", AS_OF), "use a .csv, .xlsx or .parquet file"),
    (("export", "profiles.csv", "--as-of", "2020-01-01"), "no profiles for 2020-01-01"),
    (("lookalike", "deposit_kep"), "Did you mean 'deposit_keep'?"),
    (("leads", "--department", "mortgage"), "no lead products belong to department"),
    (("train-scorecard", "/nonexistent/outcomes.csv"), "labels file not found"),
    (("survey-due", "-o", "due.ods"), "use a .csv, .xlsx or .parquet file"),
    (("export", "profiles.csv", "--csv-dialect", "excel-de"), "unknown CSV dialect 'excel-de'"),
    (("glossary", "-o", "notes.md/dictionary.md"), "notes.md is a file"),
])
def test_user_errors_are_one_line_and_non_zero(workspace: Path, args: tuple, message: str
                                               ) -> None:
    cli("run", "-w", str(workspace), "--as-of", AS_OF)
    if "-w" not in args:
        args = (*args, "-w", str(workspace))
    (workspace / "notes.md").write_text("a file, not a folder\n", encoding="utf-8")
    proc = cli(*args, check=False, cwd=workspace)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_broken_rulebook_lists_every_problem_with_lines(workspace: Path) -> None:
    rulebook = workspace / "definitions" / "rulebook.yaml"
    text = rulebook.read_text(encoding="utf-8")
    text = text.replace("balance_total >= status_min_balance", "balanse_total >= status_min")
    text = text.replace("when: is_deposit_only", "when: open_deposits + 1")
    rulebook.write_text(text, encoding="utf-8")
    proc = cli("check", "-w", str(workspace), check=False)
    assert proc.returncode == 1
    assert "2 problems" in proc.stderr
    assert "Did you mean 'balance_total'?" in proc.stderr
    assert "rulebook.yaml:" in proc.stderr and "boolean is needed" in proc.stderr
    # Nothing ran: no snapshot was written with a broken rulebook.
    proc = cli("run", "-w", str(workspace), "--as-of", AS_OF, check=False)
    assert proc.returncode == 1
    with Workspace(workspace).engine() as engine:
        assert engine.table_columns("profiles") is None


def test_every_command_has_help_with_an_example() -> None:
    for command in ("init", "check", "import", "quarantine", "run", "summary", "explain",
                    "export", "glossary", "demo"):
        proc = cli(command, "--help")
        assert "Example" in proc.stdout, command


def test_ratings_lists_and_entitlements_from_the_cli(workspace: Path) -> None:
    w = str(workspace)
    run = cli("run", "-w", w, "--as-of", AS_OF)
    assert "Entitlements (first run: everything is new)" in run.stdout
    shown = cli("explain", "C1", "-w", w, "--as-of", AS_OF).stdout
    for part in ("Need:", "Current value rating:", "Loyalty rating:", "insufficient data",
                 "Solvency rating:", "Next-best product:", "Services qualified for today:"):
        assert part in shown, part
    data = json.loads(cli("explain", "C1", "-w", w, "--as-of", AS_OF, "--json").stdout)
    assert {r["rating"] for r in data["ratings"]} == {"current", "prospect", "security",
                                                      "loyalty", "win_back", "solvency"}
    due = cli("survey-due", "-w", w, "-o", "due.csv", cwd=workspace.parent).stdout
    assert "2 customers" in due  # nobody answered a survey
    lines = (workspace.parent / "due.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("customer_id,") and len(lines) == 3
    table = cli("entitlements", "-w", w).stdout
    assert "free_transfers" in table or "priority_queue" in table or "holders" in table
