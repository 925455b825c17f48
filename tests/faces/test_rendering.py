"""The documents rendered from faces/templates: the dictionary in three languages and
the migration heat map; what an analyst wrote is shown, never run."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from typer.testing import CliRunner

from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.faces.cli import app
from clientlens.faces.rendering import TEMPLATES, dictionary, dictionary_body, render_matrix
from clientlens.services.analytics.matrices import MigrationMatrix, heat_map_context
from clientlens.services.profiling.dictionary import dictionary_context
from clientlens.services.profiling.dictionary_words import MESSAGES
from clientlens.services.workspace.folder import DEFAULTS, init_workspace
from tests.support.cli import cli

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return load_definitions(DEFAULTS)


class _Page(HTMLParser):
    """Tags, text and whether every element closes where it should."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    assert parser.errors == [] and parser.stack == []
    return parser


@pytest.mark.parametrize("lang", ["ru", "bg"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_russian_and_bulgarian_dictionaries_show_translated_texts(
        defs: Definitions, fmt: str, lang: str) -> None:
    text = dictionary(defs, fmt, lang)
    english = dictionary(defs, fmt, "en")
    t = defs.translations
    for key in (("terms", "balance_total", "description"),
                ("segments", "status", "description"),
                ("phases", "divorce", "actions", "win_back_offer", "description"),
                ("ratings", "loyalty", "otherwise"),
                ("products", "deposit_keep", "description"),
                ("services", "personal_manager", "description"),
                ("parameters", "status_min_balance", "description"),
                ("derived", "accounts.is_open", "description")):
        translated = t.get(lang, key)
        assert translated is not None
        shown = translated.replace("'", "&#39;").replace('"', "&#34;") if fmt == "html" \
            else translated
        assert shown in text, key
        assert shown not in english
    # English descriptions are gone, headings are localised, nothing is marked [en]
    assert "Balances on card, deposit and current accounts together." in english
    assert "Balances on card, deposit and current accounts together." not in text
    for key in ("rules", "parameters", "derived", "phases", "products", "group.customer"):
        heading = (f"{MESSAGES[key][lang]}</h2>" if fmt == "html"
                   else f"## {MESSAGES[key][lang]}\n")
        assert heading in text and heading not in english, heading
    assert "[en]" not in text
    # rule order and ids as in English
    assert [line.split("|")[2] for line in text.splitlines() if line.startswith("| 1 |")] \
        == [line.split("|")[2] for line in english.splitlines() if line.startswith("| 1 |")]
    if fmt == "html":
        assert f'<html lang="{lang}">' in text
        _parse(text)


def _hostile_definitions(tmp_path: Path) -> Definitions:
    """A workspace where an analyst (or an attacker) wrote markup into a label, a
    description and both translations."""
    folder = tmp_path / "defs"
    shutil.copytree(DEFAULTS, folder)
    glossary = folder / "glossary.yaml"
    text = glossary.read_text(encoding="utf-8")
    old = ("    description: Date of birth.\n"
           "    labels: {en: Date of birth, ru: Дата рождения, bg: Дата на раждане}\n")
    assert old in text
    glossary.write_text(text.replace(old, (
        f'    description: "{HOSTILE} & more"\n'
        f'    labels: {{en: "{HOSTILE}", ru: "<img src=x onerror=alert(1)>", '
        f'bg: "</td></tr></table>"}}\n')), encoding="utf-8")
    for lang in ("ru", "bg"):
        path = folder / "translations" / f"{lang}.yaml"
        tr = path.read_text(encoding="utf-8")
        line = next(x for x in tr.splitlines() if x.startswith("  birth_date:"))
        path.write_text(tr.replace(line, f'  birth_date: {{description: "{HOSTILE} | ok"}}'),
                        encoding="utf-8")
    return load_definitions(folder)


@pytest.mark.parametrize("lang", ["en", "ru", "bg"])
def test_hostile_labels_and_translations_render_inert(tmp_path: Path, lang: str) -> None:
    defs = _hostile_definitions(tmp_path)
    page = dictionary(defs, "html", lang)
    parsed = _parse(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" in page
    assert HOSTILE in "".join(parsed.text)  # shown as text, where it was written
    # Markdown keeps the table's shape around the same cell
    md = dictionary(defs, "md", lang)
    row = next(x for x in md.splitlines() if x.startswith("| `birth_date`"))
    header = next(x for x in md.splitlines() if x.startswith(f"| {MESSAGES['col.term'][lang]} |"))
    assert row.replace("\\|", "").count("|") == header.count("|")


def test_a_missing_translation_is_marked_in_both_formats(tmp_path: Path) -> None:
    folder = tmp_path / "defs"
    shutil.copytree(DEFAULTS, folder)
    bg = folder / "translations" / "bg.yaml"
    text = bg.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("  birth_date:"))
    bg.write_text(text.replace(line + "\n", ""), encoding="utf-8")
    defs = load_definitions(folder)
    md = dictionary(defs, "md", "bg")
    assert "| [en] Date of birth. |" in md
    assert MESSAGES["untranslated.note"]["bg"].format(count=1) in md
    page = dictionary(defs, "html", "bg")
    assert '<span class="untranslated" lang="en"' in page and "[en] Date of birth." in page
    assert "[en]" not in dictionary(defs, "md", "en")


def test_the_body_partial_fits_in_another_layout(defs: Definitions) -> None:
    """The console includes the same body in its own page, through its own Jinja
    environment and with its own names (t, languages, page) in the context: the
    partials need nothing but the context the services build."""
    layout = jinja2.Environment(loader=jinja2.ChoiceLoader([
        jinja2.DictLoader({"layout.html": '<main id="console">{% include '
                                          '"_dictionary_body.html" %}</main>',
                           "matrix.html": '<section>{% include "_matrix_table.html" %}'
                                          '</section>'}),
        jinja2.FileSystemLoader(TEMPLATES)]), autoescape=True, trim_blocks=True,
        lstrip_blocks=True)
    console_names = {"t": {"dictionary": "Словарь"}, "languages": {"ru": "Русский"},
                     "page": None}
    page = layout.get_template("layout.html").render(
        **{**dictionary_context(defs, "ru"), **console_names})
    assert page.startswith('<main id="console"><h1>Словарь терминов')
    assert "<html" not in page and "<style" not in page
    assert "Остатки на карточных, вкладных и текущих счетах вместе." in page
    _parse(page)
    labels = ["a", "(absent)"]
    m = MigrationMatrix("need", dt.date(2026, 9, 30), dt.date(2026, 10, 31), "customers",
                        labels, labels, [[3, 1], [2, 0]], None)
    table = layout.get_template("matrix.html").render(**heat_map_context(m), **console_names)
    assert table.count("<td") == 4 + 2 + 3 and 'class="stay"' in table  # cells, totals
    _parse(table)


def test_the_console_dictionary_page_shows_the_shared_body(defs: Definitions) -> None:
    pytest.importorskip("argon2")  # the console's extra
    from markupsafe import Markup

    from clientlens.faces.console.web import render

    for lang in ("en", "ru", "bg"):
        body = dictionary_body(defs, lang)
        assert body in dictionary(defs, "html", lang)  # the CLI's page has the same body
        response = render(None, "dictionary.html", lang=lang, body=Markup(body))
        page = response.body.decode()
        assert response.status_code == 200 and body in page
        assert MESSAGES["rules"][lang] in page
        _parse(page[page.index("<body"):page.index("</body>") + len("</body>")])


def test_heat_map_page_escapes_labels_and_shows_every_cell() -> None:
    labels = ["status", HOSTILE, "(none)", "(absent)"]
    counts = [[5, 1, 0, 2], [0, 3, 1, 0], [1, 0, 0, 1], [4, 2, 0, 0]]
    balances = [[Decimal("1234567.891"), Decimal("10.5"), Decimal(0), Decimal(3)],
                [Decimal(0)] * 4, [Decimal(7)] * 4, [Decimal("1.25")] * 4]
    m = MigrationMatrix("segment", dt.date(2026, 9, 30), dt.date(2026, 10, 31), "balance",
                        labels, labels, counts, balances)
    page = render_matrix(m)
    parsed = _parse(page)
    assert "script" not in parsed.tags and "&lt;script&gt;" in page
    cells = [c for row in heat_map_context(m)["rows"] for c in row["cells"]]
    assert len(cells) == 16 and sum(c["stay"] for c in cells) == 3  # not (absent)
    assert page.count('<td class="stay"') == 3
    assert "1,234,567.89" in page and "(customers below)" in page
    assert "(none): no value" in page  # the label, not Jinja's none
    text = "".join(parsed.text)
    assert f"{HOSTILE} → status: 0 customers" not in text  # titles are attributes
    assert f'title="{HOSTILE}' not in page


def test_glossary_command_in_russian_and_an_unknown_language(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "bank").root
    out = tmp_path / "d.html"
    ok = CliRunner().invoke(app, ["glossary", "-w", str(ws), "--lang", "ru", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    page = out.read_text(encoding="utf-8")
    assert '<html lang="ru">' in page and "Правила сегментации" in page
    assert "Остатки на карточных, вкладных и текущих счетах вместе." in page
    bad = cli("glossary", "-w", str(ws), "--lang", "de", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "unknown language 'de': use en, ru, bg" in bad.stderr
