"""The dictionary of terms (словарь терминов) rendered for staff: Markdown or HTML.

Built from the loaded definitions, so it can never drift from what the engine
runs: the ordered rules with their conditions (parameter values shown beside
their names), parameters, every term with labels in three languages, its
definition and where it is used, and the source tables' derived columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jinja2
from sqlglot import exp

from clientlens.compiler.pyplan import fmt
from clientlens.definitions.common import LANGUAGES
from clientlens.definitions.expressions import Expr
from clientlens.definitions.rulebook import Definitions, Rule
from clientlens.model.tables import ENTITY_TABLE, TABLES

GROUPS = (("customer", "The customer"), ("accounts", "Product load: accounts"),
          ("transactions", "Activity: transactions"),
          ("interactions", "Contacts: access channels"), ("expression", "Derived terms"))


@dataclass(frozen=True)
class RuleView:
    number: str
    rule: Rule
    conditions: list[str]


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
    users: dict[str, list[str]] = {}

    def note(names: frozenset[str], user: str) -> None:
        for name in sorted(names):
            users.setdefault(name, [])
            if user not in users[name]:
                users[name].append(user)

    for rule in defs.rules:
        for cond in rule.conditions:
            note(cond.names, f"segment {rule.id}")
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


def _context(defs: Definitions, lang: str) -> dict:
    rules = [RuleView(str(i), r, [_with_values(c, defs) for c in r.conditions])
             for i, r in enumerate(defs.rules, start=1)]
    rules.append(RuleView("default", defs.default, ["no rule above matched"]))
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
    derived = [(table.name, name, text, ctype.value, description)
               for table in TABLES.values() if table.name != ENTITY_TABLE
               for name, (text, ctype, description) in table.derived.items()]
    return {"defs": defs, "rules": rules, "groups": groups, "used_by": used_by(defs),
            "derived": derived, "lang": lang, "languages": LANGUAGES, "fmt": fmt,
            "population": _with_values(defs.population, defs) if defs.population else None}


def _md_cell(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


MARKDOWN = """\
# Dictionary of terms: {{ defs.name }}

Rulebook version `{{ defs.version }}`. {{ defs.description }}

Every customer gets exactly one segment: the rules below are tried in order and
the first whose conditions all hold wins; a customer no rule matches gets the
default segment. Conditions use only the terms and parameters defined here.
{% if population %}
Who is segmented: `{{ population | cell }}`.
{% endif %}
## Segmentation rules

| # | segment | en | ru | bg | conditions (all must hold) | description |
|---|---|---|---|---|---|---|
{% for v in rules -%}
| {{ v.number }} | `{{ v.rule.id }}` | {{ v.rule.labels.en | cell }} \
| {{ v.rule.labels.ru | cell }} | {{ v.rule.labels.bg | cell }} \
| {{ v.conditions | codes }} | {{ v.rule.description | cell }} |
{% endfor %}
## Parameters

| name | value | unit | en | ru | bg | description |
|---|---|---|---|---|---|---|
{% for p in defs.parameters.values() -%}
| `{{ p.name }}` | {{ fmt(p.value) }} | {{ p.unit | cell }} | {{ p.labels.en | cell }} \
| {{ p.labels.ru | cell }} | {{ p.labels.bg | cell }} | {{ p.description | cell }} |
{% endfor %}
## Terms
{% for key, title, terms in groups %}
### {{ title }}

| term | en | ru | bg | type | unit | definition | description | used by |
|---|---|---|---|---|---|---|---|---|
{% for t in terms -%}
| `{{ t.name }}` | {{ t.labels.en | cell }} | {{ t.labels.ru | cell }} | {{ t.labels.bg | cell }} \
| {{ t.type.value }} | {{ t.unit | cell }} | `{{ t.definition_text() | cell }}` \
| {{ t.description | cell }} | {{ used_by.get(t.name, []) | join(", ") | cell }} |
{% endfor %}{% endfor %}
## Derived columns of the source tables

| table | column | type | definition | description |
|---|---|---|---|---|
{% for table, name, text, ctype, description in derived -%}
| {{ table }} | `{{ name }}` | {{ ctype }} | `{{ text | cell }}` | {{ description | cell }} |
{% endfor %}"""

HTML = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>Dictionary of terms: {{ defs.name }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;line-height:1.4}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:2px solid #346;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.92rem}
th,td{border:1px solid #ccd;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#eef1f6}code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}
.labels span{display:block}.muted{color:#667}nav ul{columns:3;font-size:.9rem}
@media print{nav{display:none}body{margin:0;max-width:none}tr{page-break-inside:avoid}}
</style></head><body>
<h1>Dictionary of terms: {{ defs.name }}</h1>
<p class="muted">Rulebook version <code>{{ defs.version }}</code>. {{ defs.description }}</p>
<p>Every customer gets exactly one segment: the rules are tried in order and the first whose
conditions all hold wins; a customer no rule matches gets the default segment.</p>
{% if population %}<p>Who is segmented: <code>{{ population }}</code></p>{% endif %}
<nav><h2>Contents</h2><ul>
<li><a href="#rules">Segmentation rules</a></li><li><a href="#parameters">Parameters</a></li>
{% for key, title, terms in groups %}{% for t in terms %}
<li><a href="#term-{{ t.name }}">{{ t.labels.get(lang) }} ({{ t.name }})</a></li>
{% endfor %}{% endfor %}</ul></nav>
<h2 id="rules">Segmentation rules</h2>
<table><thead><tr><th>#</th><th>segment</th><th>labels</th><th>conditions (all must hold)</th>
<th>description</th></tr></thead><tbody>
{% for v in rules %}<tr id="segment-{{ v.rule.id }}"><td>{{ v.number }}</td>
<td><code>{{ v.rule.id }}</code></td><td class="labels">{% for l in languages %}
<span>{{ l }}: {{ v.rule.labels.get(l) }}</span>{% endfor %}</td>
<td>{% for c in v.conditions %}<code>{{ c }}</code>{% if not loop.last %}<br>{% endif %}
{% endfor %}</td><td>{{ v.rule.description }}</td></tr>
{% endfor %}</tbody></table>
<h2 id="parameters">Parameters</h2>
<table><thead><tr><th>name</th><th>value</th><th>unit</th><th>labels</th><th>description</th>
</tr></thead><tbody>
{% for p in defs.parameters.values() %}<tr id="param-{{ p.name }}"><td><code>{{ p.name }}</code>
</td><td>{{ fmt(p.value) }}</td><td>{{ p.unit }}</td><td class="labels">{% for l in languages %}
<span>{{ l }}: {{ p.labels.get(l) }}</span>{% endfor %}</td><td>{{ p.description }}</td></tr>
{% endfor %}</tbody></table>
{% for key, title, terms in groups %}<h2 id="group-{{ key }}">{{ title }}</h2>
<table><thead><tr><th>term</th><th>labels</th><th>type, unit</th><th>definition</th>
<th>description</th><th>used by</th></tr></thead><tbody>
{% for t in terms %}<tr id="term-{{ t.name }}"><td><code>{{ t.name }}</code></td>
<td class="labels">{% for l in languages %}<span>{{ l }}: {{ t.labels.get(l) }}</span>
{% endfor %}</td><td>{{ t.type.value }}, {{ t.unit }}</td>
<td><code>{{ t.definition_text() }}</code></td><td>{{ t.description }}</td>
<td>{{ used_by.get(t.name, []) | join(", ") }}</td></tr>
{% endfor %}</tbody></table>{% endfor %}
<h2 id="derived">Derived columns of the source tables</h2>
<table><thead><tr><th>table</th><th>column</th><th>type</th><th>definition</th>
<th>description</th></tr></thead><tbody>
{% for table, name, text, ctype, description in derived %}<tr><td>{{ table }}</td>
<td><code>{{ name }}</code></td><td>{{ ctype }}</td><td><code>{{ text }}</code></td>
<td>{{ description }}</td></tr>
{% endfor %}</tbody></table>
</body></html>
"""


def render_dictionary(defs: Definitions, fmt: str = "md", lang: str = "en") -> str:
    """The dictionary as Markdown (``md``) or a standalone HTML page (``html``)."""
    if lang not in LANGUAGES:
        lang = "en"
    env = jinja2.Environment(autoescape=fmt == "html", trim_blocks=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["cell"] = _md_cell
    env.filters["codes"] = lambda items: "<br>".join(f"`{_md_cell(i)}`" for i in items)
    template = env.from_string(HTML if fmt == "html" else MARKDOWN)
    return template.render(**_context(defs, lang))
