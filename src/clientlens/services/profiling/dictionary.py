"""The dictionary of terms (словарь терминов) for staff: what it shows, as data.

Built from the loaded definitions, so it can never drift from what the engine
runs: the ordered rules with their conditions (parameter values shown beside
their names), parameters, every term with labels in three languages, its
definition, description (in the language asked for, from ``translations/``) and
where it is used, and the source tables' derived columns. The faces render this
context with templates (``faces/templates/dictionary.md``, ``dictionary.html``
and the body partial the console includes); nothing here knows about markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlglot import exp

from clientlens.compiler.pyplan import fmt
from clientlens.definitions.common import LANGUAGES
from clientlens.definitions.expressions import Expr
from clientlens.definitions.rulebook import Definitions, Rule
from clientlens.definitions.translations import Localized, localize
from clientlens.model.tables import ENTITY_TABLE, TABLES
from clientlens.services.profiling.dictionary_words import words

GROUPS = (("customer", "The customer"), ("accounts", "Product load: accounts"),
          ("transactions", "Activity: transactions"),
          ("interactions", "Contacts: access channels"),
          ("security_events", "Security: flags, fraud alerts, overdue"),
          ("surveys", "What customers told us: surveys"),
          ("referrals", "Advocacy: referrals"),
          ("programme_referrals", "Advocacy: the member-get-member programme"),
          ("recovery_cases", "Service recovery: cases"),
          ("departures", "Departures: exit reasons"), ("expression", "Derived terms"))


@dataclass(frozen=True)
class RuleView:
    """A rule in its place: ``number`` is its rank ("1", "2", ...) or "default"; the
    default's ``conditions`` are empty (nothing above matched)."""

    number: str
    rule: Rule
    conditions: list[str]

    @property
    def is_default(self) -> bool:
        return self.number == "default"


@dataclass(frozen=True)
class BinView:
    """One row of a rating factor's table: a case's condition or a category
    (``label``), or a numeric range ``low`` to below ``high`` (either open)."""

    points: Decimal
    label: str | None = None
    low: str | None = None
    high: str | None = None


def _with_values(e: Expr, defs: Definitions) -> str:
    """A condition with each parameter's value shown beside its name."""
    text = e.text
    for node in e.tree.find_all(exp.Column):
        param = defs.parameters.get(node.name)
        if param is not None:
            shown = f"{node.name} ({fmt(param.value)}{' ' + param.unit if param.unit else ''})"
            text = re.sub(rf"\b{re.escape(node.name)}\b(?! \()", shown, text, count=1)
    return text


def used_by(defs: Definitions) -> dict[str, list[str]]:
    """For each term and parameter: the rules and terms whose definitions read it."""
    return {name: [f"{kind} {ident}" if ident else kind for kind, ident in users]
            for name, users in uses(defs).items()}


def uses(defs: Definitions) -> dict[str, list[tuple[str, str]]]:
    """For each term and parameter: (kind, id) of the rules and terms that read it; kind
    is segment, need, phase, rating, product, service, population or term."""
    users: dict[str, list[tuple[str, str]]] = {}

    def note(names: frozenset[str], who: str) -> None:
        kind, _, ident = who.partition(" ")
        user = (kind, ident)
        for name in sorted(names):
            users.setdefault(name, [])
            if user not in users[name]:
                users[name].append(user)

    for rule in defs.rules:
        for cond in rule.conditions:
            note(cond.names, f"segment {rule.id}")
    for rule in defs.needs:
        for cond in rule.conditions:
            note(cond.names, f"need {rule.id}")
    for rule in defs.phases:
        for cond in rule.conditions:
            note(cond.names, f"phase {rule.id}")
    for rating in defs.ratings:
        for factor in rating.factors:
            if factor.term:
                note(frozenset({factor.term}), f"rating {rating.id}")
            for b in factor.bins:
                if b.condition is not None:
                    note(b.condition.names, f"rating {rating.id}")
        if rating.requires is not None:
            note(rating.requires.condition.names, f"rating {rating.id}")
    for product in defs.products:
        for cond in (*product.eligible, *product.lead):
            note(cond.names, f"product {product.id}")
    for svc in defs.services:
        for cond in svc.granted_when:
            note(cond.names, f"service {svc.id}")
    if defs.population is not None:
        note(defs.population.names, "population")
    for term in defs.terms.values():
        if term.expression:
            note(term.expression.names, f"term {term.name}")
        if term.aggregate:
            for part in (term.aggregate.of, term.aggregate.where):
                if part is not None:
                    note(part.names, f"term {term.name}")
    return users


def dictionary_context(defs: Definitions, lang: str = "en") -> dict[str, Any]:
    """What the dictionary shows, in the order staff read it, for ``lang`` (en, ru, bg;
    anything else is English): the rules in order with their parameters' values, needs,
    phases with their actions, ratings with their bins, products, services, parameters,
    terms by source, derived columns. ``text(*key)`` gives a description in ``lang``
    (a :class:`Localized`, English and marked when it has no translation); ``words``
    the document's own words in ``lang``; ``used_by`` who reads each term, in words."""
    if lang not in LANGUAGES:
        lang = "en"
    texts = localize(defs, lang)

    def text(*path: str, field: str = "description") -> Localized:
        found = texts.get((*path, field))
        return found if found is not None else Localized("", lang, lang)

    def views(rules: tuple[Rule, ...], default: Rule | None) -> list[RuleView]:
        out = [RuleView(str(i), r, [_with_values(c, defs) for c in r.conditions])
               for i, r in enumerate(rules, start=1)]
        if default is not None:
            out.append(RuleView("default", default, []))
        return out

    groups = []
    for key, title in GROUPS:
        if key == "customer":
            terms = [t for t in defs.terms.values() if t.column]
        elif key == "expression":
            terms = [t for t in defs.terms.values() if t.expression]
        else:
            terms = [t for t in defs.terms.values()
                     if t.aggregate and t.aggregate.source == key]
        if terms:
            groups.append((key, title, terms))
    derived = [(table.name, name, text_, ctype.value,
                text("derived", f"{table.name}.{name}"))
               for table in TABLES.values() if table.name != ENTITY_TABLE
               for name, (text_, ctype, _) in table.derived.items()]
    ratings = [(r, [(f, [_bin_view(f, i) for i in range(len(f.bins))]) for f in r.factors])
               for r in defs.ratings]
    said = words(lang)
    readers = uses(defs)
    used_by_text = {name: [f"{said['user.' + kind]} {ident}" if ident else said[f"user.{kind}"]
                           for kind, ident in users] for name, users in readers.items()}
    # Names that a page's own context may use (the console's t, languages, page) are
    # left alone: the console renders the body partial with this context and its own.
    return {"defs": defs, "rules": views(defs.rules, defs.default), "groups": groups,
            "used_by": used_by_text, "uses": readers,
            "needs": views(defs.needs, defs.need_default), "ratings": ratings, "num": _num,
            "phases": views(defs.phases, defs.phase_default), "actions": defs.phase_actions,
            "derived": derived, "lang": lang, "label_languages": LANGUAGES, "fmt": fmt,
            "text": text, "words": said, "untranslated": _untranslated(texts),
            "population": _with_values(defs.population, defs) if defs.population else None}


def _untranslated(texts: dict[tuple[str, ...], Localized]) -> int:
    """How many texts the dictionary shows in English for want of a translation (the
    factors' descriptions are not shown, the holds_ template is counted in its terms)."""
    return sum(x.fallback for key, x in texts.items()
               if "factors" not in key and key[0] != "generated")


def _bin_view(factor, i: int) -> BinView:  # noqa: ANN001 - a ratings.Factor
    b = factor.bins[i]
    if factor.kind != "numeric":
        return BinView(b.points, label=b.label())
    low = factor.bins[i - 1].below if i > 0 else None
    return BinView(b.points, low=None if low is None else _num(low),
                   high=None if b.below is None else _num(b.below))


def _num(value: object) -> str:
    if isinstance(value, Decimal):
        value = value.normalize()
        if value == value.to_integral():
            return f"{int(value):,}"
        return format(value, "f")
    return fmt(value)
