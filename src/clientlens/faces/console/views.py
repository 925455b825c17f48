"""Pieces several pages use: the dimensions a page can group customers by, with
their labels in the page's language, and the field policy applied to grouped values.

A dimension a role may not see at all (the security grade for marketing) is not
offered; for a first-match decision the role sees only partly (a segment some of
whose rules read personal data), the values it may not see are shown as one
"withheld" group, so a count never reveals what the customer-level page withholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clientlens.faces.console.web import Page, PageError
from clientlens.services.analytics.matrices import ABSENT, NONE

WITHHELD = "(withheld)"


@dataclass(frozen=True)
class Dimension:
    column: str
    title_key: str | None  # a console word, or None: the rating's own label
    labels: dict[str, Any]  # value -> Labels of the definitions
    rating: Any = None


def dimensions(defs: Any) -> list[Dimension]:
    out = [Dimension("segment", "segment", {s.id: s.labels for s in defs.segments}),
           Dimension("phase", "phase", {r.id: r.labels for r in defs.all_phases}),
           Dimension("need", "need", {r.id: r.labels for r in defs.all_needs})]
    for r in defs.ratings:
        out.append(Dimension(f"{r.id}_grade", None, {}, r))
    return out


def visible_dimensions(p: Page, defs: Any) -> list[Dimension]:
    w = p.request.app.state.backend.withholding(p.staff.role, defs)
    return [d for d in dimensions(defs)
            if d.column not in w.hidden or w.shown_values.get(d.column)]


def dimension(p: Page, defs: Any, column: str | None, default: str = "segment") -> Dimension:
    shown = visible_dimensions(p, defs)
    column = column or default
    for d in shown:
        if d.column == column:
            return d
    raise PageError(400, f"by: '{column[:40]}' is not one of "
                    f"{', '.join(d.column for d in shown)}")


def title(p: Page, d: Dimension) -> str:
    if d.rating is not None:
        return f"{p.t['grade']}: {p.label(d.rating.labels, d.rating.id)}"
    return p.t[d.title_key or d.column]


def shown_value(p: Page, defs: Any, column: str, value: str | None) -> str | None:
    """``value`` as the role may see it in a count: itself, or WITHHELD."""
    w = p.request.app.state.backend.withholding(p.staff.role, defs)
    if column not in w.hidden or value in (None, NONE, ABSENT):
        return value
    return value if value in w.shown_values.get(column, ()) else WITHHELD


def value_label(p: Page, d: Dimension, value: str | None, side: str = "to") -> str:
    """A value's label in the page's language; not in a snapshot reads "(new)" on the
    earlier date's side of a migration and "(gone)" on the later one's."""
    if value is None or value == NONE:
        return "—"
    if value == ABSENT:
        return p.t["new_customer"] if side == "from" else p.t["gone"]
    if value == WITHHELD:
        return p.t["withheld"]
    labels = d.labels.get(value)
    return p.label(labels, value) if labels is not None else value
