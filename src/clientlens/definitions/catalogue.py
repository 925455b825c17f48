"""The catalogue: products the bank offers and services each segment is entitled to.

Products (``products``) name the need they serve, the department that owns them,
which open accounts count as holding them (a condition over ``accounts``
columns, e.g. ``product_code = 'DEP-GROW'``), who is eligible (conditions over
terms, the segment, the need and ratings) and, optionally, what makes a
customer a sales lead for them. The order of the list is the bank's priority.

Services (``services``) are services, benefits and loyalty-programme levels,
granted while their conditions hold and kept for ``grace_days`` after the
customer stops qualifying.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from clientlens.definitions.common import Collector, Labels, check_id, read_labels, read_text
from clientlens.definitions.expressions import Expr, Symbol, T, parse
from clientlens.definitions.yamlsrc import Located
from clientlens.model.errors import ExpressionError

SERVICE_KINDS = ("service", "benefit", "loyalty_level")


@dataclass(frozen=True)
class Product:
    id: str
    labels: Labels
    description: str
    needs: tuple[str, ...]
    department: str
    holds: Expr  # over accounts columns; the account must also be open
    eligible: tuple[Expr, ...]
    lead: tuple[Expr, ...]  # empty: not a lead product
    file: str
    line: int

    @property
    def holds_term(self) -> str:
        return f"holds_{self.id}"


@dataclass(frozen=True)
class Service:
    id: str
    kind: str
    labels: Labels
    description: str
    granted_when: tuple[Expr, ...]
    grace_days: int
    file: str
    line: int

    @property
    def column(self) -> str:
        return f"svc_{self.id}"


def _conditions(node: Located, key: str, what: str, symbols: dict[str, Symbol],
                out: Collector, required: bool) -> tuple[Expr, ...]:
    raw = node.get(key)
    if raw is None:
        if required:
            out.add(f"{what} needs '{key}': a condition or a list of conditions", node)
        return ()
    texts = raw if isinstance(raw, list) else [raw]
    result = []
    for text in texts:
        try:
            result.append(parse(str(text), symbols, expect=T.BOOLEAN))
        except ExpressionError as e:
            out.add(f"{what}: {key}: {e}", node, key)
    return tuple(result)


def _entries(doc: Located, section: str, kind: str, allowed: set[str], out: Collector
             ) -> Iterator[tuple[Located, str, str]]:
    """The mappings of a catalogue list with a valid, unique id: (node, id, "kind id").
    Problems (not a list, not a mapping, bad or repeated id, unknown keys) are collected."""
    raw = doc.get(section)
    if raw is None:
        return
    if not isinstance(raw, list):
        out.add(f"'{section}' must be a list", doc, section)
        return
    seen: set[str] = set()
    for node in raw:
        if not isinstance(node, Located):
            out.add(f"each {kind} must be a mapping with {', '.join(sorted(allowed))}", doc,
                    section)
            continue
        eid = check_id(node, kind, out, longest="holds_{id}" if kind == "product"
                       else "svc_{id}")
        if eid is None:
            continue
        what = f"{kind} {eid}"
        if eid in seen:
            out.add(f"{what} appears twice", node, "id")
        seen.add(eid)
        for key in node:
            if key not in allowed:
                out.add(f"{what}: unknown key '{key}' (known: {', '.join(sorted(allowed))})",
                        node, key)
        yield node, eid, what


def read_products(doc: Located, needs: set[str], account_symbols: dict[str, Symbol],
                  symbols: dict[str, Symbol], out: Collector) -> tuple[Product, ...]:
    products: list[Product] = []
    allowed = {"id", "labels", "description", "need", "department", "holds", "eligible",
               "lead"}
    for node, pid, what in _entries(doc, "products", "product", allowed, out):
        raw_need = node.get("need")
        need_list = raw_need if isinstance(raw_need, list) else [raw_need]
        if raw_need is None or not all(isinstance(n, str) for n in need_list):
            out.add(f"{what} needs 'need': the need it serves, one of "
                    f"{', '.join(sorted(needs))}", node, "need")
            need_list = []
        for n in need_list:
            if n not in needs:
                out.add(f"{what}: need '{n}' is not a need of the rulebook (known: "
                        f"{', '.join(sorted(needs))})", node, "need")
        department = read_text(node, "department", what, out)
        holds = None
        try:
            holds = parse(str(node.get("holds") or ""), account_symbols, expect=T.BOOLEAN)
        except ExpressionError as e:
            out.add(f"{what}: holds (a condition over accounts columns): {e}", node, "holds")
        products.append(Product(
            id=pid, labels=read_labels(node, what, out),
            description=read_text(node, "description", what, out), needs=tuple(need_list),
            department=department, holds=holds,  # type: ignore[arg-type]
            eligible=_conditions(node, "eligible", what, symbols, out, required=False),
            lead=_conditions(node, "lead", what, symbols, out, required=False),
            file=node.file, line=node.line))
    return tuple(products)


def read_services(doc: Located, symbols: dict[str, Symbol], default_grace: int,
                  out: Collector) -> tuple[Service, ...]:
    services: list[Service] = []
    allowed = {"id", "kind", "labels", "description", "granted_when", "grace_days"}
    for node, sid, what in _entries(doc, "services", "service", allowed, out):
        kind = node.get("kind")
        if kind not in SERVICE_KINDS:
            out.add(f"{what}: kind must be one of {', '.join(SERVICE_KINDS)} (got {kind!r})",
                    node, "kind")
        grace = node.get("grace_days", default_grace)
        if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 3650:
            out.add(f"{what}: grace_days must be a whole number of days from 0 to 3650 "
                    f"(got {grace!r})", node, "grace_days")
            grace = 0
        services.append(Service(
            id=sid, kind=str(kind), labels=read_labels(node, what, out),
            description=read_text(node, "description", what, out),
            granted_when=_conditions(node, "granted_when", what, symbols, out, required=True),
            grace_days=grace, file=node.file, line=node.line))
    return tuple(services)


def check_unknown_sections(doc: Located, allowed: set[str], fname: str, out: Collector,
                           ) -> None:
    for key in doc:
        if key not in allowed:
            out.add(f"unknown section '{key}' in {fname} (known: {', '.join(sorted(allowed))})",
                    doc, key)

