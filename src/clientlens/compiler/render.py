"""Checked expressions -> dialect-neutral sqlglot trees.

Names are swapped for what they stand for (a column of an earlier step, a
parameter's literal, a derived column, the as-of date); every other node is
rendered by its entry of the semantics table
(``definitions/language/semantics.py``), which pins the semantics that differ
between engines once, so every engine computes the same value (``/`` and ``%``
by zero, ``like`` with a backslash, ``round`` of floating point, ``power``
beyond a double, ``within_days`` as a range over literals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from sqlglot import exp

from clientlens.definitions.expressions import Symbol, T, type_of
from clientlens.definitions.language.literals import literal
from clientlens.definitions.language.runtime import window_bounds
from clientlens.definitions.language.semantics import days_between_sql as days_between
from clientlens.definitions.language.semantics import default_sql, entry_for

__all__ = ["days_between", "literal", "render", "window_bounds"]

Resolver = Callable[[str], exp.Expression]


class _Renderer:
    def __init__(self, resolve: Resolver, symbols: Mapping[str, Symbol], as_of: dt.date):
        self.resolve = resolve
        self.symbols = symbols
        self.as_of = as_of

    def r(self, node: exp.Expression) -> exp.Expression:
        entry = entry_for(node)
        if entry is None:  # pragma: no cover - the checker refused it
            raise TypeError(f"no SQL form for {type(node).__name__}")
        return (entry.sql or default_sql)(self, node)

    def type_of(self, node: exp.Expression) -> T:
        return type_of(node, self.symbols)


def render(tree: exp.Expression, *, resolve: Resolver, symbols: Mapping[str, Symbol],
           as_of: dt.date) -> exp.Expression:
    """Render a checked tree; ``resolve`` maps a name to the SQL that stands for it."""
    return _Renderer(resolve, symbols, as_of).r(tree)
