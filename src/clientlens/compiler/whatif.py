"""The decisions of other definitions over a stored snapshot's terms (what-if impact).

When a draft changes only rules, ratings or the catalogue, its terms are the ones the
snapshot stored: the decision steps (``decisions.add_decisions``, the same steps a run
uses) are put over ``profiles`` rows instead of over the aggregates, so no source table
is read. ``reusable_terms`` says when that holds: every term the draft reads is stored
with the same definition, the same parameters and the same population.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlglot import exp

from clientlens.compiler.decisions import add_decisions, decision_columns
from clientlens.compiler.plan import _constant, _note_features
from clientlens.definitions.glossary import derived_column
from clientlens.definitions.rulebook import Definitions
from clientlens.model.tables import ENTITY_KEY, TABLES


def _term_fingerprint(defs: Definitions, name: str) -> tuple[Any, ...]:
    """A term's meaning: its definition, type and the values of the parameters (and
    derived columns) it reads."""
    term = defs.terms[name]
    names: set[str] = set()
    texts: list[str] = [term.definition_text(), term.type.value]
    exprs = [term.expression] if term.expression else []
    if term.aggregate:
        exprs += [e for e in (term.aggregate.of, term.aggregate.where) if e is not None]
    for e in exprs:
        names |= set(e.names)
    if term.aggregate:
        derived = TABLES[term.aggregate.source].derived
        for n in sorted(names & set(derived)):
            d = derived_column(term.aggregate.source, n, defs.parameters)
            texts.append(d.text)
            names |= set(d.names)
    values = tuple(sorted((n, str(defs.parameters[n].value)) for n in names
                          if n in defs.parameters))
    return (*texts, values)


def reusable_terms(stored: Definitions, draft: Definitions) -> list[str]:
    """Why the draft's terms cannot be taken from a snapshot made with ``stored``: the
    terms (or population) that differ; empty when they can."""
    differ = [n for n in draft.terms
              if n not in stored.terms
              or _term_fingerprint(stored, n) != _term_fingerprint(draft, n)]

    def population(defs: Definitions) -> tuple[Any, ...] | None:
        if defs.population is None:
            return None
        names = defs.population.names
        return (defs.population.text, tuple(sorted(
            (n, str(defs.parameters[n].value)) for n in names if n in defs.parameters)))

    if population(stored) != population(draft):
        differ.append("(population)")
    return differ


def decisions_over_snapshot(draft: Definitions, as_of: dt.date) -> exp.Select:
    """``customer_id, segment, <decision columns>`` of ``draft`` over the stored terms of
    the ``profiles`` snapshot of ``as_of``."""
    base = exp.select(exp.column(ENTITY_KEY), *(exp.column(n) for n in draft.terms)) \
        .from_("profiles").where(exp.column("as_of").eq(_constant("as_of", {}, as_of)))
    steps, last = add_decisions(draft, "base", as_of, _constant,
                                lambda e: _note_features(e, set()))
    final = exp.select(exp.column(ENTITY_KEY), exp.column("segment"),
                       *(exp.column(c) for c in decision_columns(draft))).from_(last)
    final = final.with_("base", as_=base, copy=False)
    for name, cte in steps:
        final = final.with_(name, as_=cte, copy=False)
    return final
