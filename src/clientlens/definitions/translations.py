"""Descriptions in Russian and Bulgarian, kept beside the definitions they translate.

Labels are short and live with each definition (``labels: {en, ru, bg}``); the
longer free texts (descriptions, a rating's "otherwise", the phase actions' texts)
are written in English in the definitions and translated in one file per language,
``translations/ru.yaml`` and ``translations/bg.yaml``, keyed by kind and id::

    rulebook: {description: ...}
    parameters: {NAME: {description: ...}}
    terms: {NAME: {description: ...}}
    segments: {ID: {description: ...}}          # needs, products, services alike
    phases: {ID: {description: ..., actions: {ACTION: {description: ...}}}}
    ratings: {ID: {description: ..., otherwise: ...,
                   factors: {FACTOR: {description: ...}}}}
    derived: {TABLE.COLUMN: {description: ...}}  # the source tables' derived columns
    generated: {holds_term: "... {product} ... {holds} ..."}  # made from the catalogue

So the bank's analysts change a rule without touching a translation, and a
translator works in one file. A text with no translation is shown in English and
marked as such (:class:`Localized`); ``missing`` lists them, and the tests fail when
a shipped default has none. Translations never change what the engine computes,
nor the rulebook version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clientlens.definitions.common import LANGUAGES
from clientlens.definitions.yamlsrc import Located, load_yaml
from clientlens.model.errors import DefinitionError, Problem
from clientlens.model.tables import ENTITY_TABLE, TABLES

if TYPE_CHECKING:
    from clientlens.definitions.rulebook import Definitions

TRANSLATIONS_FOLDER = "translations"
SOURCE_LANGUAGE = "en"
# The sections of a translation file and the text fields their entries may have.
SECTIONS = ("rulebook", "parameters", "terms", "segments", "needs", "phases", "ratings",
            "products", "services", "derived", "generated")
FIELDS = ("description", "otherwise")
NESTED = {"phases": "actions", "ratings": "factors"}
HOLDS_TERM = ("generated", "holds_term")

Key = tuple[str, ...]


@dataclass(frozen=True)
class Localized:
    """A text in the language asked for, or in English when it has no translation."""

    text: str
    lang: str  # the language the text is in
    wanted: str  # the language asked for

    @property
    def fallback(self) -> bool:
        """True when the text is English standing in for a missing translation."""
        return self.lang != self.wanted

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Translations:
    """Every translated text, by language and key (``("terms", "age_years",
    "description")``)."""

    texts: dict[str, dict[Key, str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def get(self, lang: str, key: Key) -> str | None:
        return self.texts.get(lang, {}).get(key)


def load_translations(folder: str | Path) -> Translations:
    """``translations/<lang>.yaml`` for each language but English; none is fine."""
    root = Path(folder) / TRANSLATIONS_FOLDER
    texts: dict[str, dict[Key, str]] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for lang in LANGUAGES:
        path = root / f"{lang}.yaml"
        if lang == SOURCE_LANGUAGE or not path.exists():
            continue
        try:
            doc = load_yaml(path)
        except DefinitionError as e:
            problems.extend(e.problems)
            continue
        fname = f"{TRANSLATIONS_FOLDER}/{lang}.yaml"
        files[lang] = str(path)
        if doc is None:
            texts[lang] = {}
            continue
        if not isinstance(doc, Located):
            problems.append(Problem(f"{fname} must be a YAML mapping of sections", str(path)))
            continue
        texts[lang] = dict(_read(doc, problems))
    if problems:
        raise DefinitionError(problems)
    return Translations(texts, files)


def _problem(message: str, node: Located, key: str | None = None) -> Problem:
    return Problem(message, node.file, node.line_of(key) if key is not None else node.line)


def _read(doc: Located, problems: list[Problem]) -> Iterator[tuple[Key, str]]:
    for section, body in doc.items():
        if section not in SECTIONS:
            problems.append(_problem(f"unknown section '{section}'; expected one of "
                                     f"{', '.join(SECTIONS)}", doc, section))
            continue
        if body is None:
            continue
        if not isinstance(body, Located):
            problems.append(_problem(f"'{section}' must be a mapping", doc, section))
            continue
        if section in ("rulebook", "generated"):
            for name, text in body.items():
                if _is_text(text, f"{section}.{name}", body, name, problems):
                    yield (section, str(name)), text.strip()
            continue
        yield from _entries(body, (section,), problems, NESTED.get(section))


def _entries(body: Located, prefix: Key, problems: list[Problem],
             nested: str | None) -> Iterator[tuple[Key, str]]:
    for ident, entry in body.items():
        what = f"{'.'.join(prefix)}.{ident}"
        if not isinstance(entry, Located):
            problems.append(_problem(f"{what} must be a mapping such as "
                                     "{description: ...}", body, ident))
            continue
        for name, text in entry.items():
            if nested is not None and name == nested:
                if isinstance(text, Located):
                    yield from _entries(text, (*prefix, str(ident), name), problems,
                                        None)
                else:
                    problems.append(_problem(f"{what}.{name} must be a mapping", entry, name))
            elif name not in FIELDS:
                problems.append(_problem(f"{what}: unknown field '{name}'; expected "
                                         f"{' or '.join(FIELDS)}", entry, name))
            elif _is_text(text, f"{what}.{name}", entry, name, problems):
                yield (*prefix, str(ident), str(name)), text.strip()


def _is_text(value: object, what: str, node: Located, key: str,
             problems: list[Problem]) -> bool:
    if isinstance(value, str) and value.strip():
        return True
    problems.append(_problem(f"{what} must be a non-empty text", node, key))
    return False


def source_texts(defs: Definitions) -> dict[Key, str]:
    """Every free text of the definitions that a translation should cover, in English,
    by key: what the translation files are checked against."""
    out: dict[Key, str] = {}

    def add(key: Key, text: str) -> None:
        if text and text.strip():
            out[key] = text.strip()

    add(("rulebook", "description"), defs.description)
    for p in defs.parameters.values():
        add(("parameters", p.name, "description"), p.description)
    holds = {p.holds_term for p in defs.products if p.holds is not None}
    for t in defs.terms.values():
        if t.name not in holds:  # made from the catalogue: see ``generated``
            add(("terms", t.name, "description"), t.description)
    for kind, rules in (("segments", defs.segments), ("needs", defs.all_needs),
                        ("phases", defs.all_phases)):
        for rule in rules:
            add((kind, rule.id, "description"), rule.description)
    for phase, actions in defs.phase_actions.items():
        for a in actions:
            add(("phases", phase, "actions", a.id, "description"), a.description)
    for r in defs.ratings:
        add(("ratings", r.id, "description"), r.description)
        if r.requires is not None:
            add(("ratings", r.id, "otherwise"), r.requires.otherwise)
        for f in r.factors:
            add(("ratings", r.id, "factors", f.name, "description"), f.description)
    for p in defs.products:
        add(("products", p.id, "description"), p.description)
    for s in defs.services:
        add(("services", s.id, "description"), s.description)
    for table in TABLES.values():
        if table.name != ENTITY_TABLE:
            for name, (_, _, description) in table.derived.items():
                add(("derived", f"{table.name}.{name}", "description"), description)
    if holds:
        add(HOLDS_TERM, "Holds an open {product} ({holds}). Made from the product catalogue.")
    return out


def localize(defs: Definitions, lang: str) -> dict[Key, Localized]:
    """Every text of :func:`source_texts` (and each product's ``holds_`` term) in
    ``lang``, English where no translation is given."""
    wanted = lang if lang in LANGUAGES else SOURCE_LANGUAGE
    out: dict[Key, Localized] = {}
    for key, english in source_texts(defs).items():
        found = None if wanted == SOURCE_LANGUAGE else defs.translations.get(wanted, key)
        out[key] = (Localized(found, wanted, wanted) if found is not None
                    else Localized(english, SOURCE_LANGUAGE, wanted))
    template = out.get(HOLDS_TERM)
    for p in defs.products:
        term = defs.terms.get(p.holds_term)
        if term is None or p.holds is None or template is None:
            continue
        key = ("terms", term.name, "description")
        if template.fallback or wanted == SOURCE_LANGUAGE:
            out[key] = Localized(term.description, SOURCE_LANGUAGE, wanted)
        else:
            try:
                text = template.text.format(product=p.labels.get(wanted), holds=p.holds.text)
            except (KeyError, IndexError, ValueError):  # a translator's broken placeholder
                out[key] = Localized(term.description, SOURCE_LANGUAGE, wanted)
            else:
                out[key] = Localized(text, wanted, wanted)
    return out


def missing(defs: Definitions, lang: str) -> list[Key]:
    """Keys of the texts that have no translation into ``lang``."""
    if lang == SOURCE_LANGUAGE:
        return []
    return [k for k in source_texts(defs) if defs.translations.get(lang, k) is None]


def stale(defs: Definitions, lang: str) -> list[Key]:
    """Keys translated into ``lang`` that no definition has (a renamed or removed one)."""
    wanted = source_texts(defs)
    return sorted(k for k in defs.translations.texts.get(lang, {}) if k not in wanted)
