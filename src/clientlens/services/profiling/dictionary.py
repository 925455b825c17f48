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
          ("interactions", "Contacts: access channels"),
          ("security_events", "Security: flags, fraud alerts, overdue"),
          ("surveys", "What customers told us: surveys"),
          ("referrals", "Advocacy: referrals"),
          ("programme_referrals", "Advocacy: the member-get-member programme"),
          ("recovery_cases", "Service recovery: cases"),
          ("departures", "Departures: exit reasons"), ("expression", "Derived terms"))


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
    needs = [RuleView(str(i), r, [_with_values(c, defs) for c in r.conditions])
             for i, r in enumerate(defs.needs, start=1)]
    if defs.need_default is not None:
        needs.append(RuleView("default", defs.need_default, ["no need rule above matched"]))
    phases = [RuleView(str(i), r, [_with_values(c, defs) for c in r.conditions])
              for i, r in enumerate(defs.phases, start=1)]
    if defs.phase_default is not None:
        phases.append(RuleView("default", defs.phase_default,
                               ["no phase rule above matched"]))
    ratings = [(r, [(f, [(b.label() if f.kind != "numeric" else _bin_range(f, i), b.points)
                         for i, b in enumerate(f.bins)]) for f in r.factors])
               for r in defs.ratings]
    return {"defs": defs, "rules": rules, "groups": groups, "used_by": used_by(defs),
            "needs": needs, "ratings": ratings, "num": _num, "phases": phases,
            "actions": defs.phase_actions,
            "derived": derived, "lang": lang, "languages": LANGUAGES, "fmt": fmt,
            "population": _with_values(defs.population, defs) if defs.population else None}


def _bin_range(factor, i: int) -> str:  # noqa: ANN001 - a ratings.Factor
    bins = factor.bins
    low = bins[i - 1].below if i > 0 else None
    high = bins[i].below
    if high is None:
        return f">= {_num(low)}" if low is not None else "any value"
    return f"{_num(low)} to < {_num(high)}" if low is not None else f"< {_num(high)}"


def _num(value: object) -> str:
    from decimal import Decimal

    if isinstance(value, Decimal):
        value = value.normalize()
        if value == value.to_integral():
            return f"{int(value):,}"
        return format(value, "f")
    return fmt(value)


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
{% if needs %}
## Needs

Each customer's main need, inferred from behaviour: the rules are tried in order, the
first whose conditions all hold gives the need; the conditions that held are its evidence.

| # | need | en | ru | bg | conditions (all must hold) | description |
|---|---|---|---|---|---|---|
{% for v in needs -%}
| {{ v.number }} | `{{ v.rule.id }}` | {{ v.rule.labels.en | cell }} \
| {{ v.rule.labels.ru | cell }} | {{ v.rule.labels.bg | cell }} \
| {{ v.conditions | codes }} | {{ v.rule.description | cell }} |
{% endfor %}{% endif %}{% if phases %}
## Relationship phases

Where each customer is in the relationship lifecycle: the rules are tried in order, the
first whose conditions all hold gives the phase. Each phase lists the bank's recommended
actions, due within the days given of the customer entering the phase.

| # | phase | en | ru | bg | conditions (all must hold) | description | actions |
|---|---|---|---|---|---|---|---|
{% for v in phases -%}
| {{ v.number }} | `{{ v.rule.id }}` | {{ v.rule.labels.en | cell }} \
| {{ v.rule.labels.ru | cell }} | {{ v.rule.labels.bg | cell }} \
| {{ v.conditions | codes }} | {{ v.rule.description | cell }} \
| {% for a in actions.get(v.rule.id, ()) %}{{ a.labels.en | cell }}{% if a.within_days is not none %} (within {{ a.within_days }} days{% if a.department %}, {{ a.department | cell }}{% endif %}){% elif a.department %} ({{ a.department | cell }}){% endif %}: {{ a.description | cell }}{% if not loop.last %}<br>{% endif %}{% endfor %} |
{% endfor %}{% endif %}{% for r, factors in ratings %}
## Rating: {{ r.labels.en }} (`{{ r.id }}`)

{{ r.labels.ru }} / {{ r.labels.bg }}. {{ r.description }}

Score: {{ num(r.base) }} base points plus each factor's points, held between \
{{ num(r.scale[0]) }} and {{ num(r.scale[1]) }}. Grades: \
{% for g in r.grades %}{{ g.grade }} from {{ num(g.minimum) }}{% if not loop.last %}, {% endif %}{% endfor %}.
{% if r.requires %}Given only when `{{ r.requires.condition.text | cell }}`; otherwise \
"insufficient data" ({{ r.requires.otherwise }}).
{% endif %}
| factor | bin or case | points | neutral |
|---|---|---|---|
{% for f, bins in factors -%}
{% for label, points in bins -%}
| `{{ f.name }}` | `{{ label | cell }}` | {{ num(points) }} | {{ num(f.neutral) }} |
{% endfor -%}
{% if f.kind != "numeric" %}| `{{ f.name }}` | {{ "none of the cases" if f.kind == "cases" else "any other value" }} | {{ num(f.other) }} | {{ num(f.neutral) }} |
{% endif -%}
{% if f.kind != "cases" %}| `{{ f.name }}` | empty | {{ num(f.missing) }} | {{ num(f.neutral) }} |
{% endif -%}
{% endfor %}{% endfor %}{% if defs.products %}
## Products

In the bank's order of priority. The next-best product is the first that serves the
customer's need, that they may have and do not hold.

| product | en | ru | bg | need | department | held when (open account) | eligible when | lead when | description |
|---|---|---|---|---|---|---|---|---|---|
{% for p in defs.products -%}
| `{{ p.id }}` | {{ p.labels.en | cell }} | {{ p.labels.ru | cell }} | {{ p.labels.bg | cell }} \
| {{ p.needs | join(", ") }} | {{ p.department | cell }} | `{{ p.holds.text | cell }}` \
| {{ p.eligible | map(attribute="text") | list | codes }} \
| {{ p.lead | map(attribute="text") | list | codes }} | {{ p.description | cell }} |
{% endfor %}{% endif %}{% if defs.services %}
## Services, benefits and loyalty levels

| service | kind | en | ru | bg | granted when | grace days | description |
|---|---|---|---|---|---|---|---|
{% for v in defs.services -%}
| `{{ v.id }}` | {{ v.kind }} | {{ v.labels.en | cell }} | {{ v.labels.ru | cell }} \
| {{ v.labels.bg | cell }} | {{ v.granted_when | map(attribute="text") | list | codes }} \
| {{ v.grace_days }} | {{ v.description | cell }} |
{% endfor %}{% endif %}
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
{% if needs %}<h2 id="needs">Needs</h2>
<table><thead><tr><th>#</th><th>need</th><th>labels</th><th>conditions (all must hold)</th>
<th>description</th></tr></thead><tbody>
{% for v in needs %}<tr id="need-{{ v.rule.id }}"><td>{{ v.number }}</td>
<td><code>{{ v.rule.id }}</code></td><td class="labels">{% for l in languages %}
<span>{{ l }}: {{ v.rule.labels.get(l) }}</span>{% endfor %}</td>
<td>{% for c in v.conditions %}<code>{{ c }}</code>{% if not loop.last %}<br>{% endif %}
{% endfor %}</td><td>{{ v.rule.description }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% if phases %}<h2 id="phases">Relationship phases</h2>
<table><thead><tr><th>#</th><th>phase</th><th>labels</th><th>conditions (all must hold)</th>
<th>description</th><th>recommended actions</th></tr></thead><tbody>
{% for v in phases %}<tr id="phase-{{ v.rule.id }}"><td>{{ v.number }}</td>
<td><code>{{ v.rule.id }}</code></td><td class="labels">{% for l in languages %}
<span>{{ l }}: {{ v.rule.labels.get(l) }}</span>{% endfor %}</td>
<td>{% for c in v.conditions %}<code>{{ c }}</code>{% if not loop.last %}<br>{% endif %}
{% endfor %}</td><td>{{ v.rule.description }}</td><td>{% for a in actions.get(v.rule.id, ()) %}
<p><b>{{ a.labels.get(lang) }}</b>{% if a.within_days is not none %}, within {{ a.within_days }} days{% endif %}{% if a.department %}, {{ a.department }}{% endif %}: {{ a.description }}</p>{% endfor %}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% for r, factors in ratings %}<h2 id="rating-{{ r.id }}">Rating: {{ r.labels.get(lang) }}
(<code>{{ r.id }}</code>)</h2>
<p class="labels">{% for l in languages %}<span>{{ l }}: {{ r.labels.get(l) }}</span>{% endfor %}</p>
<p>{{ r.description }}</p>
<p>Score: {{ num(r.base) }} base points plus each factor's points, held between
{{ num(r.scale[0]) }} and {{ num(r.scale[1]) }}. Grades: {% for g in r.grades %}{{ g.grade }}
from {{ num(g.minimum) }}{% if not loop.last %}, {% endif %}{% endfor %}.
{% if r.requires %}Given only when <code>{{ r.requires.condition.text }}</code>; otherwise
"insufficient data" ({{ r.requires.otherwise }}).{% endif %}</p>
<table><thead><tr><th>factor</th><th>bin or case</th><th>points</th><th>neutral</th></tr>
</thead><tbody>
{% for f, bins in factors %}{% for label, points in bins %}<tr><td><code>{{ f.name }}</code></td>
<td><code>{{ label }}</code></td><td>{{ num(points) }}</td><td>{{ num(f.neutral) }}</td></tr>
{% endfor %}{% if f.kind != "numeric" %}<tr><td><code>{{ f.name }}</code></td><td>{{
"none of the cases" if f.kind == "cases" else "any other value" }}</td><td>{{ num(f.other) }}</td>
<td>{{ num(f.neutral) }}</td></tr>{% endif %}{% if f.kind != "cases" %}<tr><td><code>{{ f.name
}}</code></td><td>empty</td><td>{{ num(f.missing) }}</td><td>{{ num(f.neutral) }}</td></tr>
{% endif %}{% endfor %}</tbody></table>{% endfor %}
{% if defs.products %}<h2 id="products">Products</h2>
<table><thead><tr><th>product</th><th>labels</th><th>need</th><th>department</th>
<th>held when</th><th>eligible when</th><th>lead when</th><th>description</th></tr></thead><tbody>
{% for p in defs.products %}<tr id="product-{{ p.id }}"><td><code>{{ p.id }}</code></td>
<td class="labels">{% for l in languages %}<span>{{ l }}: {{ p.labels.get(l) }}</span>{% endfor %}
</td><td>{{ p.needs | join(", ") }}</td><td>{{ p.department }}</td>
<td><code>{{ p.holds.text }}</code></td>
<td>{% for c in p.eligible %}<code>{{ c.text }}</code><br>{% endfor %}</td>
<td>{% for c in p.lead %}<code>{{ c.text }}</code><br>{% endfor %}</td>
<td>{{ p.description }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% if defs.services %}<h2 id="services">Services, benefits and loyalty levels</h2>
<table><thead><tr><th>service</th><th>kind</th><th>labels</th><th>granted when</th>
<th>grace days</th><th>description</th></tr></thead><tbody>
{% for v in defs.services %}<tr id="service-{{ v.id }}"><td><code>{{ v.id }}</code></td>
<td>{{ v.kind }}</td><td class="labels">{% for l in languages %}
<span>{{ l }}: {{ v.labels.get(l) }}</span>{% endfor %}</td>
<td>{% for c in v.granted_when %}<code>{{ c.text }}</code><br>{% endfor %}</td>
<td>{{ v.grace_days }}</td><td>{{ v.description }}</td></tr>{% endfor %}</tbody></table>
{% endif %}
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
