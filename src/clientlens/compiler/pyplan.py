"""The rulebook compiled to Python once: one customer's segment without an engine query.

Input is a customer's base term values (aggregates and customer columns, as the
engine's base step computes them); the compiled function fills in expression
terms level by level, then the population and the segment, exactly as the SQL
plan does. Explanations evaluate each condition separately.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from clientlens.compiler.decisions import decision_columns
from clientlens.compiler.pydecisions import DecisionEvaluator
from clientlens.compiler.pyeval import PySource, compile_expression, compile_function
from clientlens.definitions.expressions import Expr, T, conjuncts, literal_value, type_of
from clientlens.definitions.glossary import evaluation_order
from clientlens.definitions.rulebook import Definitions, Rule


@dataclass(frozen=True)
class ConditionResult:
    text: str
    holds: bool | None  # None: unknown because a term is empty (NULL)
    values: dict[str, Any]  # terms the condition reads, with their values
    need: str | None  # what would have to change, for a failed comparison


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    matched: bool
    conditions: list[ConditionResult]


class CompiledRulebook:
    """Evaluate segments in-process. Build once, call many times."""

    def __init__(self, defs: Definitions):
        self.defs = defs
        symbols = defs.symbols()
        src = PySource(symbols)
        sources: dict[str, str] = {}
        for level in evaluation_order(defs.terms):
            for name in level:
                term = defs.terms[name]
                code = src.source(term.expression.tree)
                # The SQL stores every term in its declared type (plan._output_column);
                # a number term computed from decimals is a float here too, or a later
                # term mixing it with a decimal fails (Decimal + float).
                if term.type == T.NUMBER and type_of(term.expression.tree, symbols) != T.NUMBER:
                    code = f"_float({code})"
                sources[name] = code
        if defs.population is not None:
            sources["__population__"] = src.source(defs.population.tree)
        case = repr(defs.default.id)
        for rule in reversed(defs.rules):
            cond = " and ".join(f"({src.source(c.tree)}) is True" for c in rule.conditions)
            case = f"({rule.id!r} if {cond} else {case})"
        sources["__segment__"] = case
        self._fn = compile_function(sources, src.consts)
        self._symbols = symbols
        self.decisions = DecisionEvaluator(defs)
        self._decision_columns = decision_columns(defs)
        self._conditions: dict[tuple[int, int], Any] = {}
        self._by_stage: dict[str, dict[str, Any]] = {}
        self._need_plans: dict[int, Any] = {}

    def evaluate(self, base: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
        """All terms plus ``segment`` and ``in_population`` for one customer."""
        v = dict(base)
        v["as_of"] = as_of
        self._fn(v)
        v["segment"] = v.pop("__segment__")
        v["in_population"] = v.pop("__population__", True) is True
        self.decisions.evaluate(v)
        return v

    def stored_values(self, row: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
        """What ``evaluate`` returns, taken from a profile row the engine stored with this
        rulebook: every term and decision is a column of it, so an explanation of the
        stored profile need not recompute them (the differential tests check that the
        engines and ``evaluate`` agree on every column)."""
        v = {name: row.get(name) for name in self.defs.terms}
        v["as_of"] = as_of
        v["segment"] = row.get("segment")
        v["in_population"] = True
        for name in self._decision_columns:
            v[name] = row.get(name)
        return v

    def explain_rules(self, values: dict[str, Any], rules: tuple[Rule, ...] | None = None,
                      stage: str = "segment") -> list[RuleResult]:
        """Each rule in order with each condition's outcome, up to the first match
        (segment rules by default; need rules with ``stage="need"``)."""
        symbols = self._stage_symbols(stage)
        results = []
        for rule in self.defs.rules if rules is None else rules:
            conds = []
            for cond in rule.conditions:
                for part in conjuncts(cond.tree):
                    conds.append(self._condition(part, cond, values, symbols))
            matched = all(c.holds is True for c in conds)
            results.append(RuleResult(rule, matched, conds))
            if matched:
                break
        return results

    def explain_conditions(self, conditions: tuple[Expr, ...], values: dict[str, Any],
                           stage: str = "offer") -> list[ConditionResult]:
        """Each condition's outcome, e.g. a service's ``granted_when``."""
        symbols = self._stage_symbols(stage)
        return [self._condition(part, cond, values, symbols)
                for cond in conditions for part in conjuncts(cond.tree)]

    def _stage_symbols(self, stage: str) -> dict[str, Any]:
        if stage == "segment":
            return self._symbols
        symbols = self._by_stage.get(stage)
        if symbols is None:
            symbols = self._by_stage[stage] = self.defs.decision_symbols(stage)
        return symbols

    def _condition(self, tree: exp.Expression, parent: Expr, values: dict[str, Any],
                   symbols: dict[str, Any]) -> ConditionResult:
        # What does not depend on the customer is worked out once per condition: the
        # compiled test, the terms it shows and its text.
        key = (id(tree), id(parent))
        static = self._conditions.get(key)
        if static is None:
            fn = compile_expression(tree, symbols)
            names = sorted({c.name for c in tree.find_all(exp.Column)})
            shown_names = tuple(n for n in names
                                if symbols[n].kind in ("term", "decision"))
            # A condition written on its own keeps the analyst's text; a part of an AND
            # split out for the explanation is printed from its tree.
            text = parent.text if tree is parent.tree or len(conjuncts(parent.tree)) == 1 \
                else tree.sql(dialect="duckdb").replace(" AND ", " and ").replace(" OR ",
                                                                                 " or ")
            static = self._conditions[key] = (fn, shown_names, text)
        fn, shown_names, text = static
        holds = fn(values)
        shown = {n: values.get(n) for n in shown_names}
        need = None if holds is True else self._need(tree, values, symbols)
        return ConditionResult(text=text, holds=holds, values=shown, need=need)

    def _need(self, tree: exp.Expression, values: dict[str, Any],
              symbols: dict[str, Any]) -> str | None:
        """'needs balance_total >= 1,500,000; has 1,120,000' for simple comparisons;
        'needs a = 0 (has 5) or b <= 180 (has 2,435)' for a disjunction of them."""
        plan = self._need_plans.get(id(tree), _UNKNOWN)
        if plan is _UNKNOWN:
            plan = self._need_plans[id(tree)] = _need_plan(tree, symbols)
        if plan is None:
            return None
        disjunction, parts = plan
        shown = [_requirement(part, values) for part in parts]
        if any(p is None for p in shown):
            return None
        if disjunction:
            return "needs " + " or ".join(f"{req} (has {has})" for req, has in shown)
        return f"needs {shown[0][0]}; has {shown[0][1]}"


# A requirement's plan, worked out once per condition: (name, operator or None for a
# bare boolean, expected boolean or the target: ("const", value, None), ("term", name,
# text) or None when the right side is not a plain value).
_OPS = {exp.GTE: ">=", exp.GT: ">", exp.LTE: "<=", exp.LT: "<", exp.EQ: "=", exp.NEQ: "<>"}
_Req = tuple[str, str | None, Any]


def _need_plan(tree: exp.Expression, symbols: dict[str, Any]
               ) -> tuple[bool, list[_Req]] | None:
    node = tree.unnest() if isinstance(tree, exp.Paren) else tree
    nodes = _disjuncts(node) if isinstance(node, exp.Or) else [node]
    parts = [_requirement_plan(n, symbols) for n in nodes]
    if any(p is None for p in parts):
        return None
    return isinstance(node, exp.Or), parts  # type: ignore[return-value]


def _requirement_plan(tree: exp.Expression, symbols: dict[str, Any]) -> _Req | None:
    node = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Column):
        return node.this.name, None, False
    if isinstance(node, exp.Column):
        return node.name, None, True
    if type(node) in _OPS and isinstance(node.this, exp.Column):
        right = node.expression
        if isinstance(right, exp.Column):
            sym = symbols[right.name]
            target = (("const", sym.value, right.sql()) if sym.kind == "parameter"
                      else ("term", right.name, right.sql()))
        else:
            try:
                target = ("const", literal_value(right), None)
            except Exception:  # noqa: BLE001 - anything not a plain literal
                return None
        return node.this.name, _OPS[type(node)], target
    return None


def _requirement(plan: _Req, values: dict[str, Any]) -> tuple[str, str] | None:
    name, op, target = plan
    has = fmt(values.get(name))
    if op is None:
        return f"{name} to be {'true' if target else 'false'}", has
    kind, value, right = target
    if kind == "term":
        value = values.get(value)
    shown = fmt(value)
    if right is not None and right != shown:
        shown = f"{shown} ({right})"
    return f"{name} {op} {shown}", has


_UNKNOWN = object()


def _disjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.Or):
        return _disjuncts(node.this) + _disjuncts(node.expression)
    return [node]


def fmt(value: Any) -> str:
    """A value as staff read it: thousands separators, 'empty' for NULL."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    try:
        from decimal import Decimal

        if isinstance(value, Decimal):
            return f"{value:,.2f}".replace(".00", "") if value == value.to_integral() \
                else f"{value:,.2f}"
    except (ValueError, TypeError):
        pass
    return str(value)
