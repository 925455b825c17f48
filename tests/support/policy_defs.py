"""Definitions for the field-policy properties: the bank's default definitions plus
random extra terms, a rating, segment, need and phase rules, a service and a product
that read public, personal and security terms in any mix, at any place in their
lists. Every generated name starts with ``zq_`` and every threshold is drawn from
values the demo bank's customers straddle, so conditions flip when a withheld term
changes.

``reference_hidden_terms`` is the test's own reading of "derived from" for terms alone
(roots, then every term whose expression reads a hidden one): small enough to check
by eye, and independent of ``platform/field_policy.py``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from clientlens.model.tables import TABLES
from clientlens.services.workspace.folder import DEFAULTS

PUBLIC = ("balance_total", "open_products", "relationship_days", "products_ever",
          "fee_income_1y", "days_since_transaction")
PERSONAL = ("declared_income", "age_years", "car_age_years")
SECURITY = ("overdue_max_days", "fraud_alerts_1y", "security_flags_open")
THRESHOLDS = (0, 1, 2, 5, 30, 45, 90, 400, 1500, 60000, 120000, 1000000)
LABELS = {"en": "Generated", "ru": "Сгенерировано", "bg": "Генерирано"}
ROLES = ("viewer", "analyst", "marketing", "security_officer", "admin")
#: Which categories each role sees (the policy as the bank agreed it; FIELD_POLICY).
SEES = {"viewer": set(), "marketing": set(), "analyst": {"personal"},
        "security_officer": {"security"}, "admin": {"personal", "security"}}
PERSONAL_COLUMNS = tuple(c for c in TABLES["customers"].column_names
                         if c not in ("customer_id", "customer_type", "registered_on"))


@dataclass
class Extras:
    terms: list[dict] = field(default_factory=list)
    rating: dict | None = None
    segment: tuple[int, dict] | None = None  # (position, rule)
    need: tuple[int, dict] | None = None
    phase: tuple[int, dict] | None = None
    service: dict | None = None
    product: tuple[int, dict] | None = None
    reads: dict[str, set[str]] = field(default_factory=dict)  # generated item -> names

    def write(self, folder: Path) -> Path:
        """The default definitions with these extras, in ``folder``."""
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(DEFAULTS, folder)

        def edit(name: str, change: Any) -> None:
            path = folder / name
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            change(doc)
            path.write_text(yaml.dump(doc, Dumper=_Plain, allow_unicode=True,
                                      sort_keys=False), encoding="utf-8")

        edit("glossary.yaml", lambda d: d["terms"].extend(self.terms))
        if self.rating:
            edit("ratings.yaml", lambda d: d["ratings"].append(self.rating))

        def rulebook(d: dict) -> None:
            if self.segment:
                d["segments"].insert(*self.segment)
            if self.need:
                d["needs"]["rules"].insert(*self.need)
            if self.phase:
                d["phases"]["rules"].insert(*self.phase)

        edit("rulebook.yaml", rulebook)

        def catalogue(d: dict) -> None:
            if self.service:
                d["services"].append(self.service)
            if self.product:
                d["products"].insert(*self.product)

        edit("catalogue.yaml", catalogue)
        return folder


class _Plain(yaml.SafeDumper):
    """Writes a value shared by several entries (the labels) out in full each time: the
    loader refuses YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _rule(rid: str, when: str) -> dict:
    return {"id": rid, "labels": LABELS, "description": "A generated rule.", "when": when}


@st.composite
def extras(draw: st.DrawFn) -> Extras:
    x = Extras()
    names = list(PUBLIC + PERSONAL + SECURITY)
    pick = st.sampled_from(names)

    def condition(key: str) -> str:
        term, threshold = draw(st.sampled_from(names)), draw(st.sampled_from(THRESHOLDS))
        x.reads.setdefault(key, set()).add(term)
        op = draw(st.sampled_from([">=", "<", "="]))
        return f"{term} {op} {threshold}"

    for i in range(draw(st.integers(0, 3))):
        parts = draw(st.lists(pick, min_size=1, max_size=3))
        name = f"zq_term_{i}"
        x.reads[name] = set(parts)
        x.terms.append({"name": name, "type": "number", "unit": "points",
                        "description": "A generated term.", "labels": LABELS,
                        "expression": " + ".join(f"coalesce({p}, 0)" for p in parts)})
        names.append(name)
        pick = st.sampled_from(names)
    if draw(st.booleans()):
        factors = []
        for term in draw(st.lists(pick, min_size=1, max_size=3, unique=True)):
            low = draw(st.sampled_from(THRESHOLDS[1:-1]))
            high = min(t for t in THRESHOLDS if t > low)
            x.reads.setdefault("zq_rating", set()).add(term)
            factors.append({"term": term, "bins": [
                {"below": low, "points": draw(st.integers(0, 30))},
                {"below": high, "points": draw(st.integers(0, 30))},
                {"points": draw(st.integers(0, 30))}], "missing": 3})
        if draw(st.booleans()):
            factors.append({"id": "zq_case", "cases": [
                {"when": condition("zq_rating"), "points": 17}], "else": 0})
        x.rating = {"id": "zq_rating", "labels": LABELS, "description": "Generated.",
                    "base": 10, "factors": factors,
                    "grades": [{"grade": "A", "from": 50}, {"grade": "B", "from": 0}]}
    if draw(st.booleans()):
        x.segment = (draw(st.integers(0, 5)), _rule("zq_segment", condition("zq_segment")))
    if draw(st.booleans()):
        x.need = (draw(st.integers(0, 3)), _rule("zq_need", condition("zq_need")))
    if draw(st.booleans()):
        x.phase = (draw(st.integers(0, 7)), _rule("zq_phase", condition("zq_phase")))
    if draw(st.booleans()):
        if x.rating and draw(st.booleans()):
            when = "zq_rating_grade = 'A'"
            x.reads["zq_service"] = {"zq_rating_grade"}
        else:
            when = condition("zq_service")
        x.service = {"id": "zq_service", "kind": "benefit", "labels": LABELS,
                     "description": "Generated.", "granted_when": when}
    if draw(st.booleans()):
        product = {"id": "zq_product", "labels": LABELS, "description": "Generated.",
                   "need": draw(st.sampled_from(["preservation", "regular_income",
                                                 "accumulation"])),
                   "department": "retail_lending", "holds": "product_code = 'ZQ-PROD'",
                   "eligible": condition("zq_product")}
        if draw(st.booleans()):
            product["lead"] = condition("zq_product")
        x.product = (draw(st.integers(0, 7)), product)
    return x


def reference_hidden_terms(defs: Any, role: str) -> set[str]:
    """Terms ``role`` may not see: personal columns, aggregates over security_events,
    and every term computed from them, transitively."""
    roots: set[str] = set()
    for t in defs.terms.values():
        if "personal" not in SEES[role] and t.column in PERSONAL_COLUMNS:
            roots.add(t.name)
        if "security" not in SEES[role] and t.aggregate and \
                t.aggregate.source == "security_events":
            roots.add(t.name)
    hidden = set(roots)
    if "personal" not in SEES[role]:
        hidden |= set(PERSONAL_COLUMNS)
    changed = True
    while changed:
        changed = False
        for t in defs.terms.values():
            if t.name not in hidden and t.expression is not None and \
                    t.expression.names & hidden:
                hidden.add(t.name)
                changed = True
    return hidden


def root_terms(defs: Any, role: str) -> list[str]:
    """The base terms (columns, aggregates) ``role`` may not see: what a property
    changes to show that nothing the role sees moves with them."""
    out = []
    for t in defs.terms.values():
        if "personal" not in SEES[role] and t.column in PERSONAL_COLUMNS:
            out.append(t.name)
        if "security" not in SEES[role] and t.aggregate and \
                t.aggregate.source == "security_events":
            out.append(t.name)
    return out
