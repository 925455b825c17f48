"""The dictionary of terms as staff read it: complete, ordered, escaped."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.faces.rendering import dictionary as render_dictionary
from clientlens.services.profiling.dictionary import used_by
from clientlens.services.workspace.folder import DEFAULTS


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return load_definitions(DEFAULTS)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_every_term_parameter_and_segment_appears_with_three_labels(defs: Definitions,
                                                                    fmt: str) -> None:
    text = render_dictionary(defs, fmt)
    items = [*defs.terms.values(), *defs.parameters.values(), *defs.segments, *defs.all_needs,
             *defs.ratings, *defs.products, *defs.services]
    assert defs.ratings and defs.products and defs.services and defs.all_needs
    for item in items:
        name = getattr(item, "name", None) or item.id
        assert name in text, name
        for label in (item.labels.en, item.labels.ru, item.labels.bg):
            assert label.replace("'", "&#39;") in text or label in text, (name, label)


def test_rules_appear_in_priority_order_with_parameter_values(defs: Definitions) -> None:
    text = render_dictionary(defs, "md")
    section = text.split("## Segmentation rules")[1].split("\n## ")[0]
    rule_rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line
                 and line.split("|")[1].strip() in {str(i) for i in range(1, 20)} | {"default"}]
    ids = [row.split("|")[2].strip().strip("`") for row in rule_rows]
    assert ids == [s.id for s in defs.segments]
    assert "status_min_balance (1,500,000 RUB)" in text


def test_used_by_follows_definitions(defs: Definitions) -> None:
    users = used_by(defs)
    assert "segment status" in users["balance_total"]
    assert "term balance_total" in users["balance_deposit"]
    assert "term tx_count_recent" in users["activity_window_days"]
    assert "registered_on" not in users  # defined, read by nothing


def _load_with(tmp_path: Path, old: str, new: str) -> Definitions:
    folder = tmp_path / "defs"
    shutil.copytree(DEFAULTS, folder)
    glossary = folder / "glossary.yaml"
    text = glossary.read_text(encoding="utf-8")
    assert old in text
    glossary.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_definitions(folder)


class _Balance(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()


def test_html_is_well_formed_and_escapes_what_analysts_write(tmp_path: Path) -> None:
    defs = _load_with(tmp_path, "description: Date of birth.",
                      "description: \"<script>alert('x')</script> & more\"")
    page = render_dictionary(defs, "html")
    parser = _Balance()
    parser.feed(page)
    assert parser.errors == []
    assert parser.stack == []
    assert parser.scripts == 0
    assert "&lt;script&gt;" in page


def test_markdown_cells_with_pipes_keep_the_table_shape(tmp_path: Path) -> None:
    defs = _load_with(tmp_path, "description: Date of birth.",
                      "description: \"born | date\"")
    text = render_dictionary(defs, "md")
    row = next(line for line in text.splitlines() if line.startswith("| `birth_date`"))
    header = next(line for line in text.splitlines() if line.startswith("| term |"))
    unescaped = row.replace("\\|", "")
    assert unescaped.count("|") == header.count("|")


def test_rating_bins_are_listed_with_their_points(defs: Definitions) -> None:
    text = render_dictionary(defs, "md")
    for rating in defs.ratings:
        section = text.split(f"(`{rating.id}`)")[1].split("\n## ")[0]
        rows = [r for r in section.splitlines() if r.startswith("| `")]
        # every bin, plus "other"/"empty" rows, for every factor
        expected = sum(len(f.bins) + (f.kind != "numeric") + (f.kind != "cases")
                       for f in rating.factors)
        assert len(rows) == expected, rating.id
        for grade in rating.grades:
            assert f"{grade.grade} from" in section
