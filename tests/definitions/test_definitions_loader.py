"""Loading the dictionary of terms and the rulebook: every problem, at once, with its line."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from clientlens.definitions.rulebook import load_definitions
from clientlens.model.errors import DefinitionError
from clientlens.services.workspace.folder import DEFAULTS

LABELS = "labels: {en: X, ru: Икс, bg: Икс}"

GOOD_RULEBOOK = f"""\
segments:
  - id: rich
    {LABELS}
    description: Rich customers.
    when: total >= 10
default:
  id: other
  {LABELS}
  description: Everyone else.
"""


def write_defs(folder: Path, glossary: str, rulebook: str = GOOD_RULEBOOK) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "glossary.yaml").write_text(textwrap.dedent(glossary), encoding="utf-8")
    (folder / "rulebook.yaml").write_text(textwrap.dedent(rulebook), encoding="utf-8")
    return folder


def term(name: str, body: str, typ: str = "decimal", extra: str = "") -> str:
    return f"""\
  - name: {name}
    type: {typ}
    unit: RUB
    description: A term.
    {LABELS}
    {body}
{extra}"""


def problems(folder: Path) -> list:
    with pytest.raises(DefinitionError) as info:
        load_definitions(folder)
    return info.value.problems


def test_default_definitions_load() -> None:
    defs = load_definitions(DEFAULTS)
    assert [s.id for s in defs.segments] == ["loyal", "new", "status", "investor", "social",
                                             "regular"]
    assert len(defs.version) == 12


def test_a_small_good_glossary_loads(tmp_path: Path) -> None:
    folder = write_defs(tmp_path, "terms:\n" + term(
        "total", "aggregate: {source: accounts, function: sum, of: balance_base, default: 0}"))
    defs = load_definitions(folder)
    assert defs.terms["total"].aggregate.default == 0


def test_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    folder = write_defs(tmp_path, "terms:\n" + term("total", "expression: a + 1")
                        + term("a", "expression: b * 2") + term("b", "expression: total - 1"))
    found = problems(folder)
    assert len(found) == 1
    assert "terms form a cycle: a -> b -> total -> a" in found[0].message
    assert found[0].file.endswith("glossary.yaml")


def test_many_mistakes_are_reported_together_each_with_its_line(tmp_path: Path) -> None:
    glossary = """\
terms:
  - name: total
    type: decimal
    unit: RUB
    description: Total.
    labels: {en: Total, ru: Итого, bg: Общо}
    expression: summd + 1
  - name: flag
    type: boolean
    unit: flag
    descripton: typo in the key.
    labels: {en: Flag, ru: Флаг}
    expression: total + true
  - name: counted
    type: integer
    unit: count
    description: Count.
    labels: {en: C, ru: С, bg: С}
    aggregate: {source: acounts, function: count}
  - name: summed
    type: decimal
    unit: RUB
    description: Sum of text.
    labels: {en: S, ru: С, bg: С}
    aggregate: {source: accounts, function: sum, of: subtype}
  - name: total
    type: number
    unit: RUB
    description: Twice.
    labels: {en: T, ru: Т, bg: Т}
    expression: 1
  - name: Bad-Name
    type: integer
    unit: x
    description: x
    labels: {en: X, ru: Х, bg: Х}
    expression: 1
  - name: typed
    type: money
    unit: x
    description: x
    labels: {en: X, ru: Х, bg: Х}
    expression: 1
  - name: no_unit
    type: integer
    description: x
    labels: {en: X, ru: Х, bg: Х}
    expression: 1
"""
    found = problems(write_defs(tmp_path, glossary))
    by_line = {p.line: p.message for p in found}
    assert "unknown name 'summd'" in by_line[7] and "Did you mean 'summed'?" in by_line[7]
    assert "unknown key 'descripton'. Did you mean 'description'?" in by_line[11]
    assert "needs a non-empty 'description'" in by_line[8]
    assert "no label in bg" in by_line[12]
    assert "'+' needs integer or decimal or number" in by_line[13]
    assert "'acounts' is not a table to aggregate. Did you mean 'accounts'?" in by_line[19]
    assert "sum needs a number, but 'subtype' is text" in by_line[25]
    assert "defined twice (also at" in by_line[26]
    assert "must be lower-case letters" in by_line[32]
    assert "needs 'type', one of" in by_line[39]
    assert "needs a 'unit'" in by_line[44]
    # The broken 'total' also leaves the rulebook's condition on it unknown.
    assert "unknown name 'total'" in next(str(p) for p in found
                                          if p.file.endswith("rulebook.yaml"))
    assert len(found) == 12


def test_rulebook_mistakes(tmp_path: Path) -> None:
    rulebook = f"""\
parameters:
  total: {{value: 1, type: integer, unit: x, description: clash, {LABELS}}}
  cap: {{value: lots, type: decimal, unit: RUB, description: bad value, {LABELS}}}
segments:
  - id: rich
    {LABELS}
    description: Rich.
    when: total + 1
  - id: rich
    {LABELS}
    description: Again.
    when: [total >= 10]
  - id: select
    {LABELS}
    description: Reserved.
    when: total > 1
extra_section: 1
"""
    folder = write_defs(tmp_path, "terms:\n" + term(
        "total", "aggregate: {source: accounts, function: sum, of: balance_base, default: 0}"),
        rulebook)
    messages = [str(p) for p in problems(folder)]
    joined = "\n".join(messages)
    assert "term 'total' has the same name as a parameter" in joined
    assert "parameter cap: value 'lots' is not a number" in joined
    assert "segment rich: 'total + 1' is integer, but boolean is needed" in joined
    assert "segment 'rich' appears twice" in joined
    assert "segment name 'select' is a reserved word" in joined
    assert "unknown section 'extra_section'" in joined
    assert "needs a 'default' segment" in joined


def test_yaml_syntax_errors_and_duplicate_keys_have_lines(tmp_path: Path) -> None:
    folder = write_defs(tmp_path, "terms:\n  - name: a\n    type: [unclosed\n")
    found = problems(folder)
    assert found[0].line == 4 and found[0].message.startswith("YAML:")
    folder = write_defs(tmp_path / "dup", "terms:\n  - name: a\n    name: b\n")
    found = problems(folder)
    assert found[0].line == 3 and "duplicate key 'name'" in found[0].message


def test_missing_files_are_named(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    found = problems(tmp_path)
    assert {Path(p.file).name for p in found} == {"glossary.yaml", "rulebook.yaml"}
    assert all(p.message == "file not found" for p in found)


def _copy_defaults(folder: Path) -> Path:
    shutil.copytree(DEFAULTS, folder)
    return folder


def test_version_changes_with_content_not_with_comments(tmp_path: Path) -> None:
    base = load_definitions(_copy_defaults(tmp_path / "a")).version
    commented = _copy_defaults(tmp_path / "b")
    rb = commented / "rulebook.yaml"
    rb.write_text("# a new comment\n\n" + rb.read_text(encoding="utf-8") + "\n# end\n",
                  encoding="utf-8")
    assert load_definitions(commented).version == base
    changed = _copy_defaults(tmp_path / "c")
    rb = changed / "rulebook.yaml"
    rb.write_text(rb.read_text(encoding="utf-8").replace("value: 1500000", "value: 1000000"),
                  encoding="utf-8")
    assert load_definitions(changed).version != base
