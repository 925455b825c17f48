"""The rulebook: ordered segment rules over glossary terms, first match wins.

A rule's ``when`` is one condition or a list of conditions that must all hold;
listing them separately makes explanations name the condition that failed.
Thresholds are parameters, so agreeing a rule with the business means agreeing
a number in one place. The version is a content hash of glossary + rulebook,
stamped on every result.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clientlens.definitions.catalogue import (
    Product,
    Service,
    check_unknown_sections,
    read_products,
    read_services,
)
from clientlens.definitions.common import (
    Collector,
    Labels,
    Parameter,
    check_id,
    read_labels,
    read_parameters,
    read_text,
)
from clientlens.definitions.expressions import Expr, Symbol, T, parse
from clientlens.definitions.glossary import (
    AS_OF,
    Aggregate,
    Term,
    load_terms,
    parameter_symbols,
    source_symbols,
)
from clientlens.definitions.ratings import Rating, rating_symbols, read_rating
from clientlens.definitions.translations import Translations, load_translations
from clientlens.definitions.yamlsrc import Located, load_yaml
from clientlens.model.errors import DefinitionError, ExpressionError, Problem

GLOSSARY_FILE = "glossary.yaml"
RULEBOOK_FILE = "rulebook.yaml"
RATINGS_FILE = "ratings.yaml"  # optional
CATALOGUE_FILE = "catalogue.yaml"  # optional
SCORECARDS_FOLDER = "scorecards"  # optional: one trained rating per file
ACTIVITY_FILE = "activity_model.yaml"  # optional: fitted BG/NBD parameters
DEFAULT_GRACE_DAYS = 90


@dataclass(frozen=True)
class Rule:
    id: str
    labels: Labels
    description: str
    conditions: tuple[Expr, ...]  # all must hold; empty for the default
    file: str
    line: int

    @property
    def condition_text(self) -> str:
        return " and ".join(f"({c.text})" if len(self.conditions) > 1 else c.text
                            for c in self.conditions) or "always"


@dataclass(frozen=True)
class PhaseAction:
    """What the bank does for a customer in a relationship phase."""

    id: str
    labels: Labels
    description: str
    within_days: int | None  # due this many days after entering the phase
    department: str


class Derived:
    """What higher layers derive from one loaded ``Definitions`` (a compiled plan's SQL,
    the re-evaluation queries), kept with it: the definitions never change, so what is
    derived from them stays right for as long as they live, and goes with them. At most
    ``keep`` values of each kind (a backfill compiles a plan per date); the oldest used
    goes first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, OrderedDict[Hashable, Any]] = {}

    def get(self, kind: str, key: Hashable, make: Callable[[], Any], *, keep: int = 8) -> Any:
        with self._lock:
            found = self._kinds.setdefault(kind, OrderedDict())
            if key in found:
                found.move_to_end(key)
                return found[key]
        value = make()  # outside the lock: compiling takes a while; a race makes it twice
        with self._lock:
            found[key] = value
            while len(found) > keep:
                found.popitem(last=False)
        return value


@dataclass(frozen=True)
class Definitions:
    """A loaded, checked glossary and rulebook."""

    name: str
    description: str
    parameters: dict[str, Parameter]
    terms: dict[str, Term]
    population: Expr | None
    rules: tuple[Rule, ...]
    default: Rule
    version: str
    folder: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    needs: tuple[Rule, ...] = ()
    need_default: Rule | None = None
    ratings: tuple[Rating, ...] = ()
    products: tuple[Product, ...] = ()
    services: tuple[Service, ...] = ()
    phases: tuple[Rule, ...] = ()
    phase_default: Rule | None = None
    phase_actions: dict[str, tuple[PhaseAction, ...]] = field(default_factory=dict)
    # Descriptions in Russian and Bulgarian (translations/*.yaml): for people, not the
    # engine, so not part of the version.
    translations: Translations = field(default_factory=Translations, repr=False,
                                       compare=False)
    # Not an argument: a copy made with ``dataclasses.replace`` starts with its own.
    derived: Derived = field(default_factory=Derived, init=False, repr=False, compare=False)

    @property
    def segments(self) -> tuple[Rule, ...]:
        return (*self.rules, self.default)

    @property
    def all_needs(self) -> tuple[Rule, ...]:
        return (*self.needs, self.need_default) if self.need_default else ()

    @property
    def all_phases(self) -> tuple[Rule, ...]:
        return (*self.phases, self.phase_default) if self.phase_default else ()

    def decision_symbols(self, stage: str) -> dict[str, Symbol]:
        """Names usable at each stage: needs see the segment, ratings also the need,
        phases also every rating's score and grade, products and services also the
        phase."""
        return stage_symbols(self.symbols(), stage, self.ratings,
                             phases=self.phase_default is not None)

    def symbols(self) -> dict[str, Symbol]:
        """Names usable in rules: terms, parameters and ``as_of``."""
        out = {n: Symbol(n, t.type, "term") for n, t in self.terms.items()}
        out.update(parameter_symbols(self.parameters))
        out["as_of"] = AS_OF
        return out


def stage_symbols(symbols: dict[str, Symbol], stage: str, ratings: tuple[Rating, ...] = (),
                  *, phases: bool = False) -> dict[str, Symbol]:
    """``stage``: "segment", "need", "rating", "phase" or "offer" (products and services)."""
    out = dict(symbols)
    if stage == "segment":
        return out
    out["segment"] = Symbol("segment", T.TEXT, "decision")
    if stage != "need":
        out["need"] = Symbol("need", T.TEXT, "decision")
    if stage in ("phase", "offer"):
        out.update(rating_symbols(ratings))
    if stage == "offer" and phases:
        out["phase"] = Symbol("phase", T.TEXT, "decision")
    return out


def load_definitions(folder: str | Path) -> Definitions:
    """Load ``glossary.yaml`` and ``rulebook.yaml`` from ``folder``; all problems at once."""
    folder = Path(folder)
    problems: list[Problem] = []

    def read(fname: str, into: dict[str, Located]) -> None:
        try:
            doc = load_yaml(folder / fname)
        except DefinitionError as e:
            problems.extend(e.problems)
            return
        if not isinstance(doc, Located):
            problems.append(Problem(f"{fname} must be a YAML mapping", str(folder / fname)))
            return
        into[fname] = doc

    docs: dict[str, Located] = {}
    for fname in (GLOSSARY_FILE, RULEBOOK_FILE):
        read(fname, docs)
    extras: dict[str, Located] = {}
    optional = [RATINGS_FILE, CATALOGUE_FILE, ACTIVITY_FILE]
    optional += sorted(f"{SCORECARDS_FOLDER}/{p.name}"
                       for p in (folder / SCORECARDS_FOLDER).glob("*.yaml"))
    for fname in optional:
        if (folder / fname).exists():
            read(fname, extras)
    translations = Translations()
    try:
        translations = load_translations(folder)
    except DefinitionError as e:
        problems.extend(e.problems)
    if problems:
        raise DefinitionError(problems)
    defs = build_definitions(docs[GLOSSARY_FILE], docs[RULEBOOK_FILE], folder=str(folder),
                             extras=extras)
    return replace(defs, translations=translations)


def build_definitions(glossary: Located, rulebook: Located, folder: str = "",
                      extras: dict[str, Located] | None = None) -> Definitions:
    extras = extras or {}
    out = Collector()
    params = read_parameters(glossary, out)
    for name, p in read_parameters(rulebook, out).items():
        if name in params:
            out.add(f"parameter '{name}' is defined in both files", rulebook, "parameters")
        params[name] = p
    activity = extras.get(ACTIVITY_FILE)
    if activity is not None:  # fitted by `clientlens fit-activity`: parameters only
        check_unknown_sections(activity, {"model", "parameters"}, ACTIVITY_FILE, out)
        for name, p in read_parameters(activity, out).items():
            if name in params:
                out.add(f"parameter '{name}' is defined twice", activity, "parameters")
            params[name] = p
    catalogue = extras.get(CATALOGUE_FILE)
    if catalogue is not None:
        for name, p in read_parameters(catalogue, out).items():
            if name in params:
                out.add(f"parameter '{name}' is defined twice", catalogue, "parameters")
            params[name] = p
    terms = load_terms([glossary], params, out)
    for key in rulebook:
        if key not in ("rulebook", "parameters", "population", "segments", "default", "needs",
                       "phases"):
            out.add(f"unknown section '{key}' in the rulebook", rulebook, key)
    meta = rulebook.get("rulebook") if isinstance(rulebook.get("rulebook"), dict) else {}
    symbols = {n: Symbol(n, t.type, "term") for n, t in terms.items()}
    symbols.update(parameter_symbols(params))
    symbols["as_of"] = AS_OF

    population = None
    if rulebook.get("population") is not None:
        try:
            population = parse(str(rulebook["population"]), symbols, expect=T.BOOLEAN)
        except ExpressionError as e:
            out.add(f"population: {e}", rulebook, "population")

    rules: list[Rule] = []
    raw_rules = rulebook.get("segments")
    if not isinstance(raw_rules, list) or not raw_rules:
        out.add("the rulebook needs a non-empty 'segments' list", rulebook, "segments")
        raw_rules = []
    seen: dict[str, int] = {}
    for node in raw_rules:
        rule = _read_rule(node, symbols, out, rulebook, need_when=True)
        if rule is None:
            continue
        if rule.id in seen:
            out.add(f"segment '{rule.id}' appears twice (first on line {seen[rule.id]})",
                    node, "id")
        seen[rule.id] = rule.line
        rules.append(rule)
    default = None
    if isinstance(rulebook.get("default"), Located):
        default = _read_rule(rulebook["default"], symbols, out, rulebook, need_when=False)
        if default and default.id in seen:
            out.add(f"default segment '{default.id}' is also a rule", rulebook["default"], "id")
    else:
        out.add("the rulebook needs a 'default' segment for customers no rule matches",
                rulebook, "default")
    needs, need_default = _read_needs(rulebook, symbols, out)

    ratings = _read_ratings(extras, stage_symbols(symbols, "rating"), out)
    phases, phase_default, phase_actions = _read_phases(
        rulebook, stage_symbols(symbols, "phase", ratings), out)
    products: tuple[Product, ...] = ()
    services: tuple[Service, ...] = ()
    if catalogue is not None:
        check_unknown_sections(catalogue, {"parameters", "products", "services"},
                               CATALOGUE_FILE, out)
        if catalogue.get("products") and not needs:
            out.add("products serve needs, but the rulebook has no 'needs' section",
                    catalogue, "products")
        account_syms = source_symbols("accounts", params)
        offer_syms = stage_symbols(symbols, "offer", ratings, phases=phase_default is not None)
        products = read_products(
            catalogue, {n.id for n in (*needs, *([need_default] if need_default else []))},
            account_syms, _with_holds(offer_syms, catalogue), out)
        grace = params.get("entitlement_grace_days")
        services = read_services(catalogue, _with_holds(offer_syms, catalogue),
                                 int(grace.value) if grace and grace.value is not None
                                 else DEFAULT_GRACE_DAYS, out)
        for product in products:
            if product.holds_term in terms:
                out.add(f"product {product.id}: a term is already called "
                        f"'{product.holds_term}'", catalogue, "products")
            elif product.holds is not None:
                terms[product.holds_term] = _holds_term(product)
    _check_decision_names(terms, ratings, products, services, rulebook, out)
    if out.problems:
        raise DefinitionError(out.problems)
    assert default is not None
    raw = {"glossary": _plain(glossary), "rulebook": _plain(rulebook)}
    for fname, doc in sorted(extras.items()):
        raw[fname] = _plain(doc)
    version = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str,
                                        ensure_ascii=False).encode()).hexdigest()[:12]
    return Definitions(
        name=str(meta.get("name") or "rulebook"), description=str(meta.get("description") or ""),
        parameters=params, terms=terms, population=population, rules=tuple(rules),
        default=default, version=version, folder=folder, raw=raw, needs=needs,
        need_default=need_default, ratings=ratings, products=products, services=services,
        phases=phases, phase_default=phase_default, phase_actions=phase_actions)


def _read_phases(rulebook: Located, symbols: dict[str, Symbol], out: Collector
                 ) -> tuple[tuple[Rule, ...], Rule | None, dict[str, tuple[PhaseAction, ...]]]:
    """``phases: {rules: [...], default: {...}}``, first match wins; each phase may list
    the bank's recommended ``actions``."""
    node = rulebook.get("phases")
    if node is None:
        return (), None, {}
    if not isinstance(node, Located) or not isinstance(node.get("rules"), list):
        out.add("'phases' must be a mapping with 'rules' (a list) and 'default'", rulebook,
                "phases")
        return (), None, {}
    rules: list[Rule] = []
    actions: dict[str, tuple[PhaseAction, ...]] = {}
    for raw in node["rules"]:
        rule = _read_rule(raw, symbols, out, node, need_when=True, what="phase",
                          extra={"actions"})
        if rule is not None:
            if any(r.id == rule.id for r in rules):
                out.add(f"phase '{rule.id}' appears twice", raw, "id")
            rules.append(rule)
            actions[rule.id] = _read_actions(raw, rule.id, out)
    default = None
    if isinstance(node.get("default"), Located):
        default = _read_rule(node["default"], symbols, out, node, need_when=False,
                             what="phase", extra={"actions"})
        if default is not None:
            actions[default.id] = _read_actions(node["default"], default.id, out)
    else:
        out.add("'phases' needs a 'default' for customers no phase rule matches", node,
                "phases")
    return tuple(rules), default, actions


def _read_actions(node: Located, phase: str, out: Collector) -> tuple[PhaseAction, ...]:
    raw = node.get("actions")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        out.add(f"phase {phase}: 'actions' must be a list", node, "actions")
        return ()
    found: list[PhaseAction] = []
    for item in raw:
        if not isinstance(item, Located):
            out.add(f"phase {phase}: each action must be a mapping with id, labels, "
                    "description", node, "actions")
            continue
        aid = check_id(item, "action", out)
        if aid is None:
            continue
        what = f"phase {phase}, action {aid}"
        for key in item:
            if key not in ("id", "labels", "description", "within_days", "department"):
                out.add(f"{what}: unknown key '{key}'", item, key)
        days = item.get("within_days")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                                 or days < 0):
            out.add(f"{what}: within_days must be a whole number of days, 0 or more",
                    item, "within_days")
            days = None
        department = item.get("department", "")
        if not isinstance(department, str):
            out.add(f"{what}: department must be text", item, "department")
            department = ""
        found.append(PhaseAction(id=aid, labels=read_labels(item, what, out),
                                 description=read_text(item, "description", what, out),
                                 within_days=days, department=department))
    return tuple(found)


def _read_needs(rulebook: Located, symbols: dict[str, Symbol], out: Collector
                ) -> tuple[tuple[Rule, ...], Rule | None]:
    """``needs: {rules: [...], default: {...}}``: first match wins, like segments."""
    node = rulebook.get("needs")
    if node is None:
        return (), None
    if not isinstance(node, Located) or not isinstance(node.get("rules"), list):
        out.add("'needs' must be a mapping with 'rules' (a list) and 'default'", rulebook,
                "needs")
        return (), None
    syms = stage_symbols(symbols, "need")
    rules: list[Rule] = []
    for raw in node["rules"]:
        rule = _read_rule(raw, syms, out, node, need_when=True, what="need")
        if rule is not None:
            if any(r.id == rule.id for r in rules):
                out.add(f"need '{rule.id}' appears twice", raw, "id")
            rules.append(rule)
    default = None
    if isinstance(node.get("default"), Located):
        default = _read_rule(node["default"], syms, out, node, need_when=False, what="need")
    else:
        out.add("'needs' needs a 'default' for customers no need rule matches", node, "needs")
    return tuple(rules), default


def _read_ratings(extras: dict[str, Located], symbols: dict[str, Symbol], out: Collector
                  ) -> tuple[Rating, ...]:
    ratings: list[Rating] = []
    for fname, doc in sorted(extras.items(), key=lambda kv: kv[0] != RATINGS_FILE):
        if fname == RATINGS_FILE:
            check_unknown_sections(doc, {"ratings"}, fname, out)
            raw = doc.get("ratings")
            if not isinstance(raw, list):
                out.add("ratings.yaml needs a 'ratings' list", doc, "ratings")
                continue
            nodes = raw
        elif fname.startswith(SCORECARDS_FOLDER + "/"):
            nodes = [doc]  # a trained scorecard: one rating per file
        else:
            continue
        for node in nodes:
            rating = read_rating(node, symbols, out, doc)
            if rating is None:
                continue
            if any(r.id == rating.id for r in ratings):
                out.add(f"rating '{rating.id}' is defined twice", node, "id")
                continue
            ratings.append(rating)
    return tuple(ratings)


def _with_holds(symbols: dict[str, Symbol], catalogue: Located) -> dict[str, Symbol]:
    """Products' holding flags (``holds_<product>``) are terms conditions may use."""
    out = dict(symbols)
    for node in catalogue.get("products") or []:
        if isinstance(node, Located) and isinstance(node.get("id"), str):
            name = f"holds_{node['id']}"
            out.setdefault(name, Symbol(name, T.BOOLEAN, "term"))
    return out


def _holds_term(product: Product) -> Term:
    labels = Labels(*(f"{lab}: ✓" for lab in (product.labels.en, product.labels.ru,
                                              product.labels.bg)))
    where = parse(f"is_open and ({product.holds.text})", _accounts_symbols(),
                  expect=T.BOOLEAN)
    return Term(name=product.holds_term, type=T.BOOLEAN, unit="flag",
                description=f"Holds an open {product.labels.en} ({product.holds.text}). "
                            "Made from the product catalogue.",
                labels=labels, file=product.file, line=product.line,
                aggregate=Aggregate(source="accounts", function="exists", of=None,
                                    where=where, default=False))


def _accounts_symbols() -> dict[str, Symbol]:
    return source_symbols("accounts", {})


def _check_decision_names(terms: dict[str, Term], ratings: tuple[Rating, ...],
                          products: tuple[Product, ...], services: tuple[Service, ...],
                          rulebook: Located, out: Collector) -> None:
    """Profile columns made by decisions must not collide with terms or each other."""
    taken = {"as_of", "customer_id", "segment", "rulebook_version", "need", "phase",
             "next_best_product", "next_best_reason", "lead_product", "lead_department"}
    for name in terms:
        if name in taken:
            out.add(f"term '{name}' has the name of a profile column", rulebook)
        taken.add(name)
    for r in ratings:
        for col in r.columns():
            if col in taken:
                out.add(f"rating {r.id}: its column '{col}' clashes with a term or another "
                        "column", rulebook)
            taken.add(col)
    for svc in services:
        if svc.column in taken:
            out.add(f"service {svc.id}: its column '{svc.column}' clashes with a term",
                    rulebook)
        taken.add(svc.column)
    del products  # their holds_ terms are already among the terms


def _read_rule(node: Any, symbols: dict[str, Symbol], out: Collector, parent: Located,
               *, need_when: bool, what: str = "segment",
               extra: set[str] | frozenset[str] = frozenset()) -> Rule | None:
    kind = what
    if not isinstance(node, Located):
        out.add(f"each {kind} must be a mapping with id, labels, description, when", parent,
                "segments" if kind == "segment" else "rules")
        return None
    rid = check_id(node, kind, out)
    if rid is None:
        return None
    what = f"{kind} {rid}"
    labels = read_labels(node, what, out)
    description = read_text(node, "description", what, out)
    allowed = ({"id", "labels", "description", "when"} if need_when else
               {"id", "labels", "description"}) | set(extra)
    for key in node:
        if key not in allowed:
            out.add(f"{what}: unknown key '{key}'", node, key)
    conditions: list[Expr] = []
    if need_when:
        raw = node.get("when")
        texts = raw if isinstance(raw, list) else [raw] if raw is not None else []
        if not texts:
            out.add(f"{what} needs 'when': a condition or a list of conditions", node)
        for text in texts:
            try:
                conditions.append(parse(str(text), symbols, expect=T.BOOLEAN))
            except ExpressionError as e:
                out.add(f"{what}: {e}", node, "when")
    return Rule(id=rid, labels=labels, description=description, conditions=tuple(conditions),
                file=node.file, line=node.line)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
