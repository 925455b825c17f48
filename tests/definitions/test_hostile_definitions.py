"""Hostile definitions through the command line: each is refused with one readable
message naming the file and line, a non-zero exit and no traceback (issue 16).

Each test edits the default definitions of a fresh workspace the way an attacker
(or a careless author) would, then runs ``clientlens check`` (and ``run`` where the
old failure was at run time) as a real process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clientlens.definitions.language.literals import literal
from clientlens.model.errors import ExpressionError
from clientlens.services.workspace.folder import init_workspace
from tests.support.cli import cli


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "bank"
    init_workspace(root)
    return root


def edit(ws: Path, file: str, old: str, new: str) -> None:
    path = ws / "definitions" / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {file}: the default definitions changed"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refused(ws: Path, *words: str, command: str = "check") -> str:
    """Run ``command``; it must fail with a message, no traceback, naming ``words``."""
    args = [command, "-w", str(ws)] + (["--as-of", "2026-10-31"] if command == "run" else [])
    proc = cli(*args, check=False)
    assert proc.returncode != 0, proc.stdout
    text = proc.stderr + proc.stdout
    assert "Traceback" not in text, text
    assert "MarkupError" not in text, text
    problems = [line for line in text.splitlines() if line.strip().startswith("- ")]
    message = problems[0] if problems else text.strip().splitlines()[0]
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


THRESHOLD = "value: 1500000\n    type: decimal"


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", ".nan", ".inf",
                                   "-.inf", "'NaN'", "1e400"])
def test_non_finite_decimal_parameters(ws: Path, value: str) -> None:
    edit(ws, "rulebook.yaml", THRESHOLD, f"value: {value}\n    type: decimal")
    msg = refused(ws, "rulebook.yaml:", "status_min_balance")
    assert "finite" in msg or "out of range" in msg
    refused(ws, "status_min_balance", command="run")


def test_a_bare_nan_never_becomes_sql() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ExpressionError, match="not a finite number"):
            literal(bad)


def test_huge_window(ws: Path) -> None:
    edit(ws, "glossary.yaml", "within_days(ts, activity_window_days)",
         "within_days(ts, 99999999999)")
    refused(ws, "glossary.yaml:", "within_days takes at most 36600 days")


def test_huge_window_through_a_parameter(ws: Path) -> None:
    edit(ws, "glossary.yaml", "value: 90\n    type: integer",
         "value: 99999999999\n    type: integer")
    refused(ws, "glossary.yaml:", "within_days takes at most")


def test_impossible_yaml_date(ws: Path) -> None:
    edit(ws, "rulebook.yaml", "parameters:\n",
         "parameters:\n  launch_day:\n    value: 0000-00-00\n    type: date\n    unit: day\n"
         "    description: x\n    labels: {en: a, ru: b, bg: c}\n")
    msg = refused(ws, "rulebook.yaml:", "0000-00-00", "not a valid date")
    assert ":1" in msg or "rulebook.yaml:" in msg


def test_alias_bomb_in_labels(ws: Path) -> None:
    bomb = ("labels: {en: &a [x, x, x, x, x, x, x, x, x], ru: &b [*a, *a, *a, *a, *a, *a, "
            "*a, *a, *a], bg: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]}")
    edit(ws, "glossary.yaml",
         "labels: {en: Activity window, ru: Окно активности, bg: Период на активност}", bomb)
    refused(ws, "glossary.yaml:", "aliases (*a) are not allowed")


def test_term_name_ending_in_a_newline(ws: Path) -> None:
    edit(ws, "glossary.yaml", "- name: has_salary_card", '- name: "has_salary_card\\n"')
    refused(ws, "glossary.yaml:", "must be lower-case letters")


@pytest.mark.parametrize("places", ["99999999999", "10", "-1", "1.5"])
def test_round_places_out_of_range(ws: Path, places: str) -> None:
    edit(ws, "glossary.yaml", "expression: days_between(first_opened_on, as_of)",
         f"expression: round(days_between(first_opened_on, as_of), {places})")
    refused(ws, "glossary.yaml:", "ROUND")


@pytest.mark.parametrize("text", ["123456789012345678901 > 0", "1e400 > 0",
                                  "0.1234567890123456789 > 0"])
def test_number_literals_out_of_range(ws: Path, text: str) -> None:
    edit(ws, "rulebook.yaml", "- open_products = 0", f"- products_ever > 0 and {text}")
    refused(ws, "rulebook.yaml:", "out of range")


def test_between_symmetric(ws: Path) -> None:
    edit(ws, "rulebook.yaml", "- open_products = 0",
         "- open_products between symmetric 5 and 0")
    refused(ws, "rulebook.yaml:", "BETWEEN SYMMETRIC is not supported")


def test_rating_id_too_long_for_postgres(ws: Path) -> None:
    long = "current_" + "x" * 50  # _rank_<id>_0 passes 63 bytes
    edit(ws, "ratings.yaml", "- id: current", f"- id: {long}")
    refused(ws, "ratings.yaml:", "too long", "63-byte")


def test_service_id_too_long_for_postgres(ws: Path) -> None:
    text = (ws / "definitions" / "catalogue.yaml").read_text(encoding="utf-8")
    start = text.index("services:")
    sid = text[start:].split("- id: ", 1)[1].split("\n", 1)[0].strip()
    edit(ws, "catalogue.yaml", f"- id: {sid}", f"- id: {sid}_{'y' * (62 - len(sid))}")
    refused(ws, "catalogue.yaml:", "too long")


def test_rich_markup_in_a_rule(ws: Path) -> None:
    edit(ws, "rulebook.yaml", "- open_products = 0", "- open_products [/]")
    msg = refused(ws, "rulebook.yaml:")
    assert "[/]" in msg


def test_rich_markup_in_a_quarantined_value(ws: Path, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,full_name,customer_type,registered_on,birth_date,city,"
                   "declared_monthly_income,owns_car,car_year,owns_home,document_id,phone\n"
                   "C1,Name [/],retail,[/],,City,,,,,,\n"
                   "C2,Other,retail,2020-01-01,,City,[bold]x,,,,,\n", encoding="utf-8")
    cli("import", "-w", str(ws), str(csv), check=False)
    shown = cli("quarantine", "-w", str(ws))
    assert "Traceback" not in shown.stderr and "MarkupError" not in shown.stderr
    assert "[/]" in shown.stdout and "[bold]x" in shown.stdout
