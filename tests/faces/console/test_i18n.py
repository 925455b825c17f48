"""The console's own words exist in English, Russian and Bulgarian, and every word a
template asks for is in the table."""

from __future__ import annotations

import re
from pathlib import Path

from clientlens.faces.console import i18n

TEMPLATES = Path(__file__).resolve().parents[3] / "src/clientlens/faces/templates/console"
CYRILLIC = re.compile("[А-Яа-яЁё]")


def test_every_word_has_three_languages_and_cyrillic_where_it_should() -> None:
    for key, (en, ru, bg) in i18n.all_keys().items():
        assert en and ru and bg, key
        assert CYRILLIC.search(ru) and CYRILLIC.search(bg), key
        assert not CYRILLIC.search(en), key


def test_every_word_the_templates_use_is_in_the_table() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        used |= set(re.findall(r"\bt\.([a-z_]+)", text))
        used |= set(re.findall(r"\bt\[\"([a-z_]+)\"\]", text))
    assert used, "no word found: the pattern is wrong"
    missing = used - set(i18n.all_keys())
    assert not missing, sorted(missing)


def test_the_language_comes_from_the_request_then_the_cookie_then_the_browser() -> None:
    assert i18n.pick("bg", "ru", "en-GB") == "bg"
    assert i18n.pick(None, "ru", "bg-BG,bg;q=0.9") == "ru"
    assert i18n.pick("xx", None, "de-DE, bg;q=0.5") == "bg"
    assert i18n.pick(None, None, None) == "en"
