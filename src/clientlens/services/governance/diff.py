"""What changed between two definition sets, in words a business reader follows.

Compares the loaded definitions, not the text: a moved comment or reordered keys say
nothing; a threshold, a window, a rule's place in the order, a product's needs do::

    parameter status_min_balance: 3,000,000 -> 2,500,000
    rule status: balance_total >= 3,000,000 -> >= 2,500,000
    term salary_active: window 45 -> 60 days
    product deposit_keep: need regular_income added
    rule order: mass, status, young -> status, mass, young

Ratings, scorecards, the activity model and referral programmes are compared key by
key ("rating loyalty: factors[2].bins[1].points 10 -> 15").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from clientlens.definitions.rulebook import Definitions, Rule

_TOKEN = re.compile(r"\d[\d_.]*|'[^']*'|\w+|>=|<=|<>|!=|\S")


@dataclass(frozen=True)
class Change:
    area: str      # parameter, term, population, rule, need, phase, product, service, ...
    subject: str   # the thing's id
    text: str      # the whole sentence

    def __str__(self) -> str:
        return self.text


def _num(token: str) -> str:
    """3000000 -> 3,000,000 (integers and decimals; anything else as it is)."""
    try:
        value = Decimal(token.replace("_", ""))
    except InvalidOperation:
        return token
    if value == value.to_integral_value() and "." not in token:
        return f"{int(value):,}"
    return f"{value:,}"


def _show(tokens: list[str]) -> str:
    out = ""
    for t in tokens:
        t = _num(t) if t[:1].isdigit() else t
        if out and not (t in (")", ",") or out.endswith("(")):
            out += " "
        out += t
    return out


def expression_change(old: str, new: str) -> str:
    """``balance_total >= 3000000`` vs ``balance_total >= 2500000`` -> ``balance_total >=
    3,000,000 -> >= 2,500,000``: the part that differs, with the comparison before it; a
    window's days as ``window 45 -> 60 days``; else the whole texts."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    da, db = a[start:len(a) - end], b[start:len(b) - end]
    if len(da) == 1 and len(db) == 1 and da[0][:1].isdigit() and db[0][:1].isdigit():
        if "within_days" in a[:start] and a[start - 1] == ",":
            return f"window {_num(da[0])} -> {_num(db[0])} days"
        lead = a[start - 1] if start and a[start - 1] in (">=", "<=", ">", "<", "=", "<>",
                                                          "!=") else ""
        head = _show(a[:start - 1]) if lead else _show(a[:start])
        lead = f"{lead} " if lead else ""
        return f"{head} {lead}{_num(da[0])} -> {lead}{_num(db[0])}".strip()
    return f"{_show(a)} -> {_show(b)}"


def _conditions(rule: Rule | None) -> list[str]:
    return [c.text for c in rule.conditions] if rule else []


def _rule_changes(area: str, old: tuple[Rule, ...], new: tuple[Rule, ...]) -> list[Change]:
    out: list[Change] = []
    before, after = {r.id: r for r in old}, {r.id: r for r in new}
    for rid in after.keys() - before.keys():
        out.append(Change(area, rid, f"{area} {rid} added: {after[rid].condition_text}"))
    for rid in before.keys() - after.keys():
        out.append(Change(area, rid, f"{area} {rid} removed (was: "
                                     f"{before[rid].condition_text})"))
    for rid in [r.id for r in new if r.id in before]:
        a, b = _conditions(before[rid]), _conditions(after[rid])
        if a != b:
            if len(a) == len(b):
                for x, y in zip(a, b, strict=True):
                    if x != y:
                        out.append(Change(area, rid, f"{area} {rid}: {expression_change(x, y)}"))
            else:
                for x in a:
                    if x not in b:
                        out.append(Change(area, rid, f"{area} {rid}: condition '{x}' removed"))
                for y in b:
                    if y not in a:
                        out.append(Change(area, rid, f"{area} {rid}: condition '{y}' added"))
        if before[rid].labels != after[rid].labels:
            out.append(Change(area, rid, f"{area} {rid}: labels {before[rid].labels.en!r} -> "
                                         f"{after[rid].labels.en!r}"))
    common_old = [r.id for r in old if r.id in after]
    common_new = [r.id for r in new if r.id in before]
    if common_old != common_new:
        out.append(Change(area, "order", f"{area} order: {', '.join(common_old)} -> "
                                         f"{', '.join(common_new)}"))
    return out


def _default(area: str, old: Rule | None, new: Rule | None) -> list[Change]:
    if (old.id if old else None) != (new.id if new else None):
        return [Change(area, "default", f"default {area}: {old.id if old else 'none'} -> "
                                        f"{new.id if new else 'none'}")]
    return []


def _set_changes(area: str, subject: str, what: str, old: set[str], new: set[str]
                 ) -> list[Change]:
    return ([Change(area, subject, f"{area} {subject}: {what} {x} added")
             for x in sorted(new - old)]
            + [Change(area, subject, f"{area} {subject}: {what} {x} removed")
               for x in sorted(old - new)])


def _list_changes(area: str, subject: str, what: str, old: list[str], new: list[str]
                  ) -> list[Change]:
    if old == new:
        return []
    if len(old) == len(new):
        return [Change(area, subject, f"{area} {subject}: {what} {expression_change(x, y)}")
                for x, y in zip(old, new, strict=True) if x != y]
    return ([Change(area, subject, f"{area} {subject}: {what} '{y}' added")
             for y in new if y not in old]
            + [Change(area, subject, f"{area} {subject}: {what} '{x}' removed")
               for x in old if x not in new])


def _raw_changes(area: str, subject: str, old: Any, new: Any, path: str = ""
                 ) -> list[Change]:
    """Key by key over plain YAML values; lists of mappings with ``id`` by id."""
    if old is None and new is not None and not path:
        return [Change(area, subject, f"{area} {subject} added")]
    if new is None and old is not None and not path:
        return [Change(area, subject, f"{area} {subject} removed")]
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(Change(area, subject, f"{area} {subject}: {sub} added"))
            elif k not in new:
                out.append(Change(area, subject, f"{area} {subject}: {sub} removed"))
            else:
                out += _raw_changes(area, subject, old[k], new[k], sub)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if all(isinstance(x, dict) and "id" in x for x in old + new):
            return _raw_changes(area, subject, {x["id"]: x for x in old},
                                {x["id"]: x for x in new}, path)
        if len(old) == len(new):
            out = []
            for i, (x, y) in enumerate(zip(old, new, strict=True)):
                out += _raw_changes(area, subject, x, y, f"{path}[{i}]")
            return out
    if old != new:
        shown = [_num(str(v)) if isinstance(v, int | float | Decimal) else repr(v)
                 for v in (old, new)]
        return [Change(area, subject, f"{area} {subject}: {path or 'value'} {shown[0]} -> "
                                      f"{shown[1]}")]
    return []


def semantic_diff(old: Definitions, new: Definitions, old_files: dict[str, str] | None = None,
                  new_files: dict[str, str] | None = None) -> list[Change]:
    """Every change from ``old`` to ``new``, area by area."""
    out: list[Change] = []
    for name in sorted(set(old.parameters) | set(new.parameters)):
        a, b = old.parameters.get(name), new.parameters.get(name)
        if a is None:
            out.append(Change("parameter", name, f"parameter {name} added: {_num(str(b.value))}"))
        elif b is None:
            out.append(Change("parameter", name, f"parameter {name} removed"))
        elif a.value != b.value:
            unit = f" {b.unit}" if b.unit and b.unit not in ("", "flag") else ""
            out.append(Change("parameter", name, f"parameter {name}: {_num(str(a.value))} -> "
                                                 f"{_num(str(b.value))}{unit}"))
    for name in sorted(set(old.terms) | set(new.terms)):
        a, b = old.terms.get(name), new.terms.get(name)
        if a is None and b is not None:
            out.append(Change("term", name, f"term {name} added: {b.definition_text()}"))
        elif b is None and a is not None:
            out.append(Change("term", name, f"term {name} removed"))
        elif a is not None and b is not None:
            if a.definition_text() != b.definition_text():
                out.append(Change("term", name, f"term {name}: "
                                  f"{expression_change(a.definition_text(), b.definition_text())}"))
            if a.type != b.type:
                out.append(Change("term", name, f"term {name}: type {a.type.value} -> "
                                                f"{b.type.value}"))
    pa, pb = (old.population.text if old.population else None,
              new.population.text if new.population else None)
    if pa != pb:
        out.append(Change("population", "population",
                          f"population: {expression_change(pa or 'everyone', pb or 'everyone')}"))
    out += _rule_changes("rule", old.rules, new.rules)
    out += _default("segment", old.default, new.default)
    out += _rule_changes("need", old.needs, new.needs)
    out += _default("need", old.need_default, new.need_default)
    out += _rule_changes("phase", old.phases, new.phases)
    out += _default("phase", old.phase_default, new.phase_default)
    before, after = {p.id: p for p in old.products}, {p.id: p for p in new.products}
    for pid in sorted(after.keys() - before.keys()):
        out.append(Change("product", pid, f"product {pid} added"))
    for pid in sorted(before.keys() - after.keys()):
        out.append(Change("product", pid, f"product {pid} removed"))
    for pid in [p.id for p in new.products if p.id in before]:
        a, b = before[pid], after[pid]
        out += _set_changes("product", pid, "need", set(a.needs), set(b.needs))
        out += _list_changes("product", pid, "eligible:", [c.text for c in a.eligible],
                             [c.text for c in b.eligible])
        out += _list_changes("product", pid, "lead:", [c.text for c in a.lead],
                             [c.text for c in b.lead])
        if a.holds.text != b.holds.text:
            out.append(Change("product", pid, f"product {pid}: holds "
                                              f"{expression_change(a.holds.text, b.holds.text)}"))
    if [p for p in before if p in after] != [p for p in after if p in before]:
        out.append(Change("product", "order", "product priority: "
                          f"{', '.join(p for p in before if p in after)} -> "
                          f"{', '.join(p for p in after if p in before)}"))
    sa, sb = {s.id: s for s in old.services}, {s.id: s for s in new.services}
    for sid in sorted(sb.keys() - sa.keys()):
        out.append(Change("service", sid, f"service {sid} added"))
    for sid in sorted(sa.keys() - sb.keys()):
        out.append(Change("service", sid, f"service {sid} removed"))
    for sid in sorted(sa.keys() & sb.keys()):
        out += _list_changes("service", sid, "granted when", [c.text for c in sa[sid].granted_when],
                             [c.text for c in sb[sid].granted_when])
    for fname in sorted(set(old.raw) | set(new.raw)):
        if fname in ("glossary", "rulebook", "catalogue.yaml"):
            continue  # compared above, by meaning
        area = fname.removesuffix(".yaml").split("/")[0].replace("ratings", "ratings")
        out += _raw_changes(area, fname.removesuffix(".yaml"), old.raw.get(fname),
                            new.raw.get(fname))
    if not old_files or not new_files:
        return out  # files unknown on one side (a run's archive keeps no programmes)
    for fname in sorted(set(old_files) | set(new_files)):
        if fname.startswith("referrals/"):
            a = yaml.safe_load((old_files or {}).get(fname, "") or "null")
            b = yaml.safe_load((new_files or {}).get(fname, "") or "null")
            out += _raw_changes("referral programme", fname.removesuffix(".yaml")[10:], a, b)
    return out
