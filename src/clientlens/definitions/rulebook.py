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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clientlens.definitions.common import (
    Collector,
    Labels,
    Parameter,
    check_name,
    read_labels,
    read_parameters,
    read_text,
)
from clientlens.definitions.expressions import Expr, Symbol, T, parse
from clientlens.definitions.glossary import AS_OF, Term, load_terms, parameter_symbols
from clientlens.definitions.yamlsrc import Located, load_yaml
from clientlens.model.errors import DefinitionError, ExpressionError, Problem

GLOSSARY_FILE = "glossary.yaml"
RULEBOOK_FILE = "rulebook.yaml"


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

    @property
    def segments(self) -> tuple[Rule, ...]:
        return (*self.rules, self.default)

    def symbols(self) -> dict[str, Symbol]:
        """Names usable in rules: terms, parameters and ``as_of``."""
        out = {n: Symbol(n, t.type, "term") for n, t in self.terms.items()}
        out.update(parameter_symbols(self.parameters))
        out["as_of"] = AS_OF
        return out


def load_definitions(folder: str | Path) -> Definitions:
    """Load ``glossary.yaml`` and ``rulebook.yaml`` from ``folder``; all problems at once."""
    folder = Path(folder)
    problems = []
    docs: dict[str, Located] = {}
    for fname in (GLOSSARY_FILE, RULEBOOK_FILE):
        try:
            doc = load_yaml(folder / fname)
        except DefinitionError as e:
            problems.extend(e.problems)
            continue
        if not isinstance(doc, Located):
            problems.append(Problem(f"{fname} must be a YAML mapping", str(folder / fname)))
            continue
        docs[fname] = doc
    if problems:
        raise DefinitionError(problems)
    return build_definitions(docs[GLOSSARY_FILE], docs[RULEBOOK_FILE], folder=str(folder))


def build_definitions(glossary: Located, rulebook: Located, folder: str = "") -> Definitions:
    out = Collector()
    params = read_parameters(glossary, out)
    for name, p in read_parameters(rulebook, out).items():
        if name in params:
            out.add(f"parameter '{name}' is defined in both files", rulebook, "parameters")
        params[name] = p
    terms = load_terms([glossary], params, out)
    for key in rulebook:
        if key not in ("rulebook", "parameters", "population", "segments", "default"):
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
    if out.problems:
        raise DefinitionError(out.problems)
    assert default is not None
    raw = {"glossary": _plain(glossary), "rulebook": _plain(rulebook)}
    version = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str,
                                        ensure_ascii=False).encode()).hexdigest()[:12]
    return Definitions(
        name=str(meta.get("name") or "rulebook"), description=str(meta.get("description") or ""),
        parameters=params, terms=terms, population=population, rules=tuple(rules),
        default=default, version=version, folder=folder, raw=raw)


def _read_rule(node: Any, symbols: dict[str, Symbol], out: Collector, parent: Located,
               *, need_when: bool) -> Rule | None:
    if not isinstance(node, Located):
        out.add("each segment must be a mapping with id, labels, description, when", parent,
                "segments")
        return None
    rid = check_name(node.get("id"), _with_name_key(node), "segment", out)
    if rid is None:
        return None
    what = f"segment {rid}"
    labels = read_labels(node, what, out)
    description = read_text(node, "description", what, out)
    allowed = {"id", "labels", "description", "when"} if need_when else \
        {"id", "labels", "description"}
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


def _with_name_key(node: Located) -> Located:
    """Segments use 'id' where terms use 'name'; point errors at the id line."""
    alias = Located(node)
    alias.file, alias.line = node.file, node.line
    alias.key_lines = {**node.key_lines, "name": node.line_of("id")}
    return alias


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
