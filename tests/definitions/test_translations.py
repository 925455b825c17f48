"""Russian and Bulgarian descriptions: every shipped text has one, they are read from
the definitions' translations/ folder, a missing one falls back to English, visibly,
and a broken file is reported with its file and line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.definitions.translations import (
    HOLDS_TERM,
    localize,
    missing,
    source_texts,
    stale,
)
from clientlens.model.errors import DefinitionError
from clientlens.services.workspace.folder import DEFAULTS, init_workspace

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{4,}\b")


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return load_definitions(DEFAULTS)


@pytest.mark.parametrize("lang", ["ru", "bg"])
def test_every_shipped_description_has_a_translation(defs: Definitions, lang: str) -> None:
    """A new term, rule, action, product or derived column without its translations
    fails here: add it to src/clientlens/defaults/translations/<lang>.yaml."""
    assert missing(defs, lang) == []
    assert stale(defs, lang) == []  # nothing translated that no longer exists


@pytest.mark.parametrize("lang", ["ru", "bg"])
def test_translations_are_written_in_cyrillic_not_copied(defs: Definitions, lang: str) -> None:
    english = source_texts(defs)
    assert len(english) > 150
    for key, source in english.items():
        text = defs.translations.get(lang, key)
        assert text is not None and text != source, key
        assert CYRILLIC.search(text), (key, text)
        # Latin words left in a translation are names (BG/NBD, optbinning, clientlens
        # commands, placeholders), never untranslated prose.
        leftovers = set(LATIN_WORD.findall(text)) - set(LATIN_WORD.findall(source))
        assert leftovers <= {"product", "holds"}, (key, leftovers)
    template = defs.translations.get(lang, HOLDS_TERM)
    assert template is not None and "{product}" in template and "{holds}" in template


def test_russian_and_bulgarian_differ(defs: Definitions) -> None:
    same = [k for k in source_texts(defs)
            if defs.translations.get("ru", k) == defs.translations.get("bg", k)]
    assert same == []


def test_catalogue_terms_are_described_from_the_template(defs: Definitions) -> None:
    product = defs.products[0]
    text = localize(defs, "bg")[("terms", product.holds_term, "description")]
    assert not text.fallback
    assert product.labels.bg in text.text and product.holds.text in text.text
    english = localize(defs, "en")[("terms", product.holds_term, "description")]
    assert english.text == defs.terms[product.holds_term].description


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "defs"
    shutil.copytree(DEFAULTS, folder)
    return folder


def test_a_missing_translation_falls_back_to_english_and_says_so(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    ru = folder / "translations" / "ru.yaml"
    text = ru.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("  birth_date:"))
    ru.write_text(text.replace(line + "\n", ""), encoding="utf-8")
    defs = load_definitions(folder)
    assert missing(defs, "ru") == [("terms", "birth_date", "description")]
    shown = localize(defs, "ru")[("terms", "birth_date", "description")]
    assert shown.fallback and shown.text == "Date of birth." and shown.lang == "en"
    assert not localize(defs, "bg")[("terms", "birth_date", "description")].fallback
    # Without the folder at all, everything is English (and marked as such).
    shutil.rmtree(folder / "translations")
    bare = load_definitions(folder)
    assert all(x.fallback for x in localize(bare, "bg").values())
    assert not any(x.fallback for x in localize(bare, "en").values())


def test_translations_do_not_change_the_rulebook_version(tmp_path: Path,
                                                         defs: Definitions) -> None:
    folder = _copy(tmp_path)
    shutil.rmtree(folder / "translations")
    assert load_definitions(folder).version == defs.version


@pytest.mark.parametrize(("text", "message", "line"), [
    ("terms:\n  age_years: {description: Возраст}\nsegmentz: {}\n",
     "unknown section 'segmentz'", 3),
    ("terms:\n  age_years:\n    descripton: Возраст\n", "unknown field 'descripton'", 3),
    ("terms:\n  age_years: {description: ''}\n", "terms.age_years.description must be a "
                                                 "non-empty text", 2),
    ("terms:\n  age_years: Возраст\n", "terms.age_years must be a mapping", 2),
    ("phases:\n  welcome:\n    actions: [a]\n", "phases.welcome.actions must be a mapping", 3),
    ("- a list\n", "must be a YAML mapping", None),
])
def test_a_broken_translation_file_is_reported_with_its_line(
        tmp_path: Path, text: str, message: str, line: int | None) -> None:
    folder = _copy(tmp_path)
    (folder / "translations" / "ru.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_definitions(folder)
    problems = info.value.problems
    assert any(message in p.message and "ru.yaml" in p.file
               and (line is None or p.line == line) for p in problems), problems


def test_a_new_workspace_gets_the_translations(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "bank")
    copied = ws.definitions_dir / "translations"
    assert sorted(p.name for p in copied.glob("*.yaml")) == ["bg.yaml", "ru.yaml"]
    defs = load_definitions(ws.definitions_dir)
    assert missing(defs, "ru") == [] and missing(defs, "bg") == []
