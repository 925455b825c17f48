"""The dictionary of terms (словарь терминов): every term the rules may use.

A term is defined once, in one of three ways:

- ``aggregate``: a function over rows of one source table, with a filter,
  e.g. the sum of ``balance_base`` over open deposit accounts;
- ``column``: an attribute of the customer (a column of ``customers``);
- ``expression``: an expression over other terms and parameters.

The loader refuses cycles, unknown names (with "did you mean"), type errors and
missing descriptions or labels, and reports every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clientlens.definitions.common import (
    Collector,
    Labels,
    Parameter,
    check_name,
    coerce_value,
    read_labels,
    read_text,
    read_type,
)
from clientlens.definitions.expressions import NUMERIC, Expr, Symbol, T, assignable, parse
from clientlens.definitions.language.semantics import AGGREGATES
from clientlens.definitions.yamlsrc import Located
from clientlens.model.errors import ExpressionError, did_you_mean
from clientlens.model.tables import ENTITY_TABLE, TABLES, ColumnType

COLUMN_TYPES = {
    ColumnType.TEXT: T.TEXT, ColumnType.INTEGER: T.INTEGER, ColumnType.DECIMAL: T.DECIMAL,
    ColumnType.DATE: T.DATE, ColumnType.TIMESTAMP: T.TIMESTAMP, ColumnType.BOOLEAN: T.BOOLEAN,
}
FUNCTIONS = tuple(AGGREGATES)
AS_OF = Symbol("as_of", T.DATE, "builtin")


@dataclass(frozen=True)
class Aggregate:
    source: str
    function: str
    of: Expr | None
    where: Expr | None
    default: Any  # value for a customer with no matching rows


@dataclass(frozen=True)
class Term:
    name: str
    type: T
    unit: str
    description: str
    labels: Labels
    file: str
    line: int
    aggregate: Aggregate | None = None
    column: str | None = None
    expression: Expr | None = None

    @property
    def kind(self) -> str:
        return "aggregate" if self.aggregate else "column" if self.column else "expression"

    @property
    def depends_on(self) -> frozenset[str]:
        return self.expression.names if self.expression else frozenset()

    def definition_text(self) -> str:
        """The definition as staff read it in the dictionary."""
        if self.column:
            return f"customers.{self.column}"
        if self.expression:
            return self.expression.text
        agg = self.aggregate
        assert agg is not None
        inner = agg.of.text if agg.of else "*"
        text = f"{agg.function}({inner if agg.function != 'exists' else ''}) over {agg.source}"
        if agg.function == "exists":
            text = f"exists in {agg.source}"
        if agg.where:
            text += f" where {agg.where.text}"
        if agg.default is not None and agg.function not in ("count", "count_distinct",
                                                            "exists"):
            text += f" (default {agg.default})"
        return text


def source_symbols(table: str, params: dict[str, Parameter]) -> dict[str, Symbol]:
    """Names usable in an aggregate over ``table``: its columns, derived columns, parameters."""
    spec = TABLES[table]
    symbols = {c.name: Symbol(c.name, COLUMN_TYPES[c.type], "column") for c in spec.columns}
    for name, (_, ctype, _) in spec.derived.items():
        symbols[name] = Symbol(name, COLUMN_TYPES[ctype], "column")
    symbols.update(parameter_symbols(params))
    symbols["as_of"] = AS_OF
    return symbols


def derived_column(table: str, name: str, params: dict[str, Parameter]) -> Expr:
    text, ctype, _ = TABLES[table].derived[name]
    base = {k: v for k, v in source_symbols(table, params).items()
            if k not in TABLES[table].derived}
    return parse(text, base, expect=COLUMN_TYPES[ctype])


def parameter_symbols(params: dict[str, Parameter]) -> dict[str, Symbol]:
    return {p.name: Symbol(p.name, p.type, "parameter", p.value) for p in params.values()}


def load_terms(docs: list[Located], params: dict[str, Parameter], out: Collector
               ) -> dict[str, Term]:
    """Read the ``terms`` lists of the glossary files into checked terms."""
    nodes: list[Located] = []
    for doc in docs:
        raw = doc.get("terms")
        if not isinstance(raw, list):
            out.add("the glossary needs a 'terms' list", doc, "terms")
            continue
        for node in raw:
            if not isinstance(node, Located):
                out.add("each term must be a mapping", doc, "terms")
                continue
            nodes.append(node)

    # First pass: names and declared types, so expressions can refer to any term.
    declared: dict[str, tuple[Located, T | None]] = {}
    for node in nodes:
        name = check_name(node.get("name"), node, "term", out)
        if name is None:
            continue
        if name in declared:
            first = declared[name][0]
            out.add(f"term '{name}' is defined twice (also at {first.file}:{first.line})",
                    node, "name")
            continue
        if name in params:
            out.add(f"term '{name}' has the same name as a parameter", node, "name")
            continue
        declared[name] = (node, read_type(node, f"term {name}", out))

    term_symbols = {n: Symbol(n, t or T.NULL, "term") for n, (_, t) in declared.items()}
    term_symbols.update(parameter_symbols(params))
    term_symbols["as_of"] = AS_OF

    terms: dict[str, Term] = {}
    for name, (node, typ) in declared.items():
        term = _read_term(name, typ, node, params, term_symbols, out)
        if term is not None:
            terms[name] = term
    _check_cycles(terms, out)
    return terms


def _read_term(name: str, typ: T | None, node: Located, params: dict[str, Parameter],
               symbols: dict[str, Symbol], out: Collector) -> Term | None:
    what = f"term {name}"
    description = read_text(node, "description", what, out)
    labels = read_labels(node, what, out)
    unit = node.get("unit")
    if not isinstance(unit, str) or not unit.strip():
        out.add(f"{what} needs a 'unit' (e.g. RUB, days, count, flag)", node, "unit")
        unit = ""
    kinds = [k for k in ("aggregate", "column", "expression") if k in node]
    if len(kinds) != 1:
        out.add(f"{what} needs exactly one of 'aggregate', 'column' or 'expression'"
                + (f" (has {', '.join(kinds)})" if kinds else ""), node)
        return None
    allowed_keys = {"name", "type", "unit", "description", "labels", kinds[0]}
    for key in node:
        if key not in allowed_keys:
            out.add(f"{what}: unknown key '{key}'.{did_you_mean(str(key), allowed_keys)}",
                    node, key)
    if typ is None:
        return None
    base = {"name": name, "type": typ, "unit": unit, "description": description,
            "labels": labels, "file": node.file, "line": node.line}
    try:
        if kinds[0] == "column":
            column = node["column"]
            spec = TABLES[ENTITY_TABLE]
            if column not in spec.column_names:
                raise ExpressionError(f"'{column}' is not a column of customers."
                                      f"{did_you_mean(str(column), spec.column_names)}")
            col_type = COLUMN_TYPES[spec.column(column).type]
            if not assignable(col_type, typ):
                raise ExpressionError(f"column {column} is {col_type}, declared {typ}")
            return Term(**base, column=column)
        if kinds[0] == "expression":
            text = node["expression"]
            others = {k: v for k, v in symbols.items() if k != name}
            expr = parse(str(text), others, expect=typ)
            return Term(**base, expression=expr)
        agg = _read_aggregate(node["aggregate"], typ, params, what, out)
        return Term(**base, aggregate=agg) if agg else None
    except ExpressionError as e:
        out.add(f"{what}: {e}", node, kinds[0])
        return None


def _read_aggregate(node: Any, typ: T, params: dict[str, Parameter], what: str,
                    out: Collector) -> Aggregate | None:
    if not isinstance(node, Located):
        raise ExpressionError("'aggregate' must be a mapping with source, function, of, where")
    source = node.get("source")
    sources = [t for t in TABLES if t != ENTITY_TABLE]
    if source not in sources:
        raise ExpressionError(f"aggregate source {source!r} is not a table to aggregate."
                              f"{did_you_mean(str(source), sources)} Tables: "
                              f"{', '.join(sources)}")
    function = node.get("function")
    if function not in FUNCTIONS:
        raise ExpressionError(f"aggregate function {function!r} is not one of "
                              f"{', '.join(FUNCTIONS)}.{did_you_mean(str(function), FUNCTIONS)}")
    for key in node:
        if key not in ("source", "function", "of", "where", "default"):
            out.add(f"{what}: unknown aggregate key '{key}'", node, key)
    symbols = source_symbols(source, params)
    of = parse(str(node["of"]), symbols) if node.get("of") is not None else None
    where = parse(str(node["where"]), symbols, expect=T.BOOLEAN) \
        if node.get("where") is not None else None
    meaning = AGGREGATES[function]
    if meaning.needs_of is True and of is None:
        raise ExpressionError(f"aggregate {function} needs 'of'")
    if meaning.needs_of is False and of is not None:
        raise ExpressionError(f"aggregate {function} takes no 'of'")
    if meaning.numeric_of and of is not None and of.type not in NUMERIC:
        raise ExpressionError(f"{function} needs a number, but '{of.text}' is {of.type}")
    result = meaning.result(of.type if of else None)
    if not assignable(result, typ):
        raise ExpressionError(f"{function}({of.text if of else ''}) is {result}, "
                              f"but the term is declared {typ}")
    default: Any = meaning.default
    if node.get("default") is not None:
        if meaning.default is not None:
            raise ExpressionError(f"{function} always defaults to {default}; remove 'default'")
        try:
            default = coerce_value(node["default"], typ)
        except ValueError as e:
            raise ExpressionError(f"default {e}") from None
    return Aggregate(source=source, function=function, of=of, where=where, default=default)


def _check_cycles(terms: dict[str, Term], out: Collector) -> None:
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2 or name not in terms:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            term = terms[name]
            out.add(f"terms form a cycle: {' -> '.join(cycle)}",
                    _where(term), where=f"term {name}")
            return
        state[name] = 1
        for dep in sorted(terms[name].depends_on):
            visit(dep, [*path, name])
        state[name] = 2

    for name in sorted(terms):
        visit(name, [])


def _where(term: Term) -> Located:
    loc = Located()
    loc.file, loc.line, loc.key_lines = term.file, term.line, {}
    return loc


def evaluation_order(terms: dict[str, Term]) -> list[list[str]]:
    """Expression terms in levels: each level depends only on earlier ones."""
    level: dict[str, int] = {}

    def depth(name: str) -> int:
        if name in level:
            return level[name]
        term = terms[name]
        deps = [d for d in term.depends_on if d in terms]
        level[name] = 0 if term.kind != "expression" else 1 + max(
            (depth(d) for d in deps), default=0)
        return level[name]

    for name in terms:
        depth(name)
    top = max(level.values(), default=0)
    return [[n for n in terms if level[n] == i] for i in range(1, top + 1)]
