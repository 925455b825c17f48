"""Everyday use from the command line (issue 17): ids are checked, the CLI registers
referrals as the service does (tests/test_referrals_cli.py), a backfill after the demo
does not leave the latest date announcing everything as granted, hints for a missing
extra are printed whole, lists count what they list, and glossary's -o picks the format
by the suffix like every other -o."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from clientlens.services.workspace import jobs
from tests.support.cli import cli

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("everyday") / "bank"
    jobs.demo(root, customers=1500, seed=7, as_of=AS_OF)
    return root


def test_cases_and_departures_refuse_unknown_customers(bank: Path) -> None:
    w = str(bank)
    # The README's old spelling: one zero short of the demo's ids.
    refused = cli("cases", "open", "C0000042", "--category", "card_fee", "--owner", "ivanova",
                  "-w", w, check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == (
        f"error: customer 'C0000042' is not among the imported customers of {w}. Did you "
        "mean 'C00000042'? Check the id, or pass --force to record it anyway")
    assert "Opened case 1 for C00000042" in cli(
        "cases", "open", "C00000042", "--category", "card_fee", "--owner", "ivanova",
        "-w", w).stdout
    assert "Opened case 2 for NEW7" in cli(
        "cases", "open", "NEW7", "--category", "card_fee", "--owner", "ivanova", "-w", w,
        "--force").stdout
    gone = cli("departures", "record", "X1", "--kind", "situational", "--by", "petrova",
               "-w", w, check=False)
    assert gone.returncode == 1 and "customer 'X1' is not among" in gone.stderr


def test_a_departure_of_a_customer_with_open_products_warns(bank: Path) -> None:
    from clientlens.services.workspace.folder import Workspace

    with Workspace(bank).engine(read_only=True) as engine:
        holder, n = engine.fetch_all(
            "select customer_id, count(*) from accounts where closed_on is null and "
            "opened_on <= ? group by 1 order by 2 desc, 1 limit 1", [AS_OF])[0]
    done = cli("departures", "record", holder, "--kind", "situational", "--by", "petrova",
               "--left-on", str(AS_OF), "-w", str(bank))
    assert f"Recorded departure 1 of {holder}" in done.stdout
    assert done.stderr.startswith(f"warning: {holder} still holds {n} open product(s) on "
                                  f"{AS_OF}")


def test_a_backfill_after_the_demo_reruns_the_latest_date(bank: Path) -> None:
    first = jobs.run(bank, AS_OF)  # the demo's date again: its events are a first run
    assert first.entitlements is not None and first.entitlements.previous is None
    result = jobs.backfill(bank, dt.date(2026, 8, 1), dt.date(2026, 9, 30), "month")
    assert [r.as_of for r in result.ran] == [dt.date(2026, 8, 31), dt.date(2026, 9, 30)]
    assert [r.as_of for r in result.rerun] == [AS_OF]
    again = result.rerun[0].entitlements
    assert again.previous == dt.date(2026, 9, 30)
    assert again.granted < first.entitlements.granted / 5  # not "everything is new"
    events = cli("entitlements", "--events", "-w", str(bank), "--limit", "1").stdout
    n = again.granted + again.grace_started + again.revoked
    assert f"Entitlement events on {AS_OF}: {n:,} events" in events


def test_a_missing_extra_is_named_whole(tmp_path: Path, bank: Path) -> None:
    # psycopg made unimportable: the hint must keep its [postgres], which Rich would
    # take for markup.
    code = ("import sys; sys.modules['psycopg'] = None; "
            "sys.argv = ['clientlens', '--engine', 'postgres', 'summary', '-w', sys.argv[1]]; "
            "from clientlens.faces.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, str(bank)], capture_output=True,
                          text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin",
                                          "CLIENTLENS_POSTGRES_URL": "postgresql://x@h/db"})
    assert proc.returncode == 1
    assert "pip install 'clientlens[postgres]'" in proc.stderr, proc.stderr


def test_glossary_out_picks_the_format_by_its_suffix(tmp_path: Path, bank: Path) -> None:
    cli("glossary", "-w", str(bank), "-o", "new/dictionary.html", cwd=tmp_path)
    assert (tmp_path / "new" / "dictionary.html").read_text().lstrip().startswith("<")
    wrong = cli("glossary", "-w", str(bank), "-f", "md", "-o", "d.html", cwd=tmp_path,
                check=False)
    assert wrong.returncode == 1 and "does not match" in wrong.stderr
    assert "Traceback" not in wrong.stderr
