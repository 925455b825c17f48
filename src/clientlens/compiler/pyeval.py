"""Checked expressions -> Python functions, compiled once, for in-process evaluation.

Used to evaluate one customer without an engine query (re-evaluation,
explanations). The semantics follow SQL exactly, as the SQL renderer pins them:
three-valued logic (NULL is ``None``), NULL-propagating arithmetic, division
and modulo by zero give NULL, LEAST/GREATEST skip NULLs, ``%`` takes the sign
of the dividend. The generated source is plain expressions over small helpers,
so a call costs a few microseconds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlglot import exp

from clientlens.compiler.render import window_bounds
from clientlens.definitions.expressions import Symbol, T, literal_value, type_of

Values = Mapping[str, Any]


# -- helpers the generated code calls ---------------------------------------------
def _and(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: Any, b: Any) -> Any:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _not(a: Any) -> Any:
    return None if a is None else not a


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def f(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        return op(a, b)
    return f


_eq = _cmp(lambda a, b: a == b)
_ne = _cmp(lambda a, b: a != b)
_gt = _cmp(lambda a, b: a > b)
_ge = _cmp(lambda a, b: a >= b)
_lt = _cmp(lambda a, b: a < b)
_le = _cmp(lambda a, b: a <= b)
_add = _cmp(lambda a, b: a + b)
_sub = _cmp(lambda a, b: a - b)
_mul = _cmp(lambda a, b: a * b)


def _div(a: Any, b: Any) -> Any:
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def _mod(a: Any, b: Any) -> Any:
    if a is None or b is None or b == 0:
        return None
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _neg(a: Any) -> Any:
    return None if a is None else -a


def _abs(a: Any) -> Any:
    return None if a is None else abs(a)


def _power(a: Any, b: Any) -> Any:
    """POWER in double precision, as the engines compute it."""
    if a is None or b is None:
        return None
    try:
        return math.pow(float(a), float(b))
    except (ValueError, OverflowError):
        return math.nan


def _round(a: Any, places: int) -> Any:
    if a is None:
        return None
    if isinstance(a, float):
        # SQL engines round half away from zero; Python's round() does not.
        q = Decimal(repr(a)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return float(q)
    if isinstance(a, int):
        return int(Decimal(a).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)) \
            if places < 0 else a
    return a.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _in(a: Any, items: tuple, has_null: bool) -> Any:
    if a is None:
        return None
    if a in items:
        return True
    return None if has_null else False


def _coalesce(*xs: Any) -> Any:
    for x in xs:
        if x is not None:
            return x
    return None


def _least(*xs: Any) -> Any:
    present = [x for x in xs if x is not None]
    return min(present) if present else None


def _greatest(*xs: Any) -> Any:
    present = [x for x in xs if x is not None]
    return max(present) if present else None


def _date(x: Any) -> Any:
    return x.date() if isinstance(x, dt.datetime) else x


def _ts(x: Any) -> Any:
    if x is None or isinstance(x, dt.datetime):
        return x
    return dt.datetime.combine(x, dt.time())


def _days_between(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return (_date(b) - _date(a)).days


def _within(x: Any, first: dt.date, last: dt.date) -> Any:
    if x is None:
        return None
    return first <= _date(x) <= last


def _year(x: Any) -> Any:
    return None if x is None else x.year


def _month(x: Any) -> Any:
    return None if x is None else x.month


_like_cache: dict[str, re.Pattern[str]] = {}


def _like(a: Any, pattern: Any) -> Any:
    if a is None or pattern is None:
        return None
    rx = _like_cache.get(pattern)
    if rx is None:
        parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
        rx = _like_cache[pattern] = re.compile("".join(parts), re.DOTALL)
    return rx.fullmatch(a) is not None


def _float(x: Any) -> Any:
    return None if x is None else float(x)


def _decimal(x: Any) -> Any:
    return None if x is None or isinstance(x, Decimal) else Decimal(x)


HELPERS = {name: obj for name, obj in globals().items() if name.startswith("_")
           and callable(obj)}
HELPERS["dt"] = dt
HELPERS["Decimal"] = Decimal

_BINARY = {exp.EQ: "_eq", exp.NEQ: "_ne", exp.GT: "_gt", exp.GTE: "_ge", exp.LT: "_lt",
           exp.LTE: "_le", exp.Add: "_add", exp.Sub: "_sub", exp.Mul: "_mul",
           exp.Div: "_div", exp.Mod: "_mod", exp.And: "_and", exp.Or: "_or"}


class PySource:
    """Builds Python source for checked trees over a symbol table."""

    def __init__(self, symbols: Mapping[str, Symbol], as_of_name: str = "as_of"):
        self.symbols = symbols
        self.consts: dict[str, Any] = {}
        self.as_of_name = as_of_name

    def const(self, value: Any) -> str:
        key = f"K{len(self.consts)}"
        self.consts[key] = value
        return key

    def name(self, name: str) -> str:
        sym = self.symbols[name]
        if sym.kind == "parameter":
            return self.const(sym.value)
        return f"v[{name!r}]"

    def source(self, node: exp.Expression) -> str:  # noqa: C901 - one case per node type
        s = self.source
        if isinstance(node, exp.Paren):
            return s(node.this)
        if isinstance(node, exp.Column):
            return self.name(node.name)
        if isinstance(node, exp.Literal | exp.Null | exp.Boolean | exp.Cast):
            return self.const(literal_value(node))
        if isinstance(node, exp.Neg):
            if isinstance(node.this, exp.Literal):
                return self.const(-literal_value(node.this))  # type: ignore[operator]
            return f"_neg({s(node.this)})"
        if isinstance(node, tuple(_BINARY)):
            left, right = self._operands(node)
            return f"{_BINARY[type(node)]}({left}, {right})"
        if isinstance(node, exp.Not):
            return f"_not({s(node.this)})"
        if isinstance(node, exp.Is):
            return f"({s(node.this)} is None)"
        if isinstance(node, exp.In):
            items = [literal_value(i) for i in node.expressions]
            present = tuple(i for i in items if i is not None)
            return f"_in({s(node.this)}, {self.const(present)}, {None in items})"
        if isinstance(node, exp.Between):
            x = s(node.this)
            lo, hi = s(node.args["low"]), s(node.args["high"])
            return f"_and(_ge({x}, {lo}), _le({x}, {hi}))"
        if isinstance(node, exp.Like):
            return f"_like({s(node.this)}, {s(node.expression)})"
        if isinstance(node, exp.Case):
            out = s(node.args["default"]) if node.args.get("default") is not None else "None"
            for branch in reversed(node.args.get("ifs") or []):
                out = f"({s(branch.args['true'])} if {s(branch.this)} is True else {out})"
            return out
        if isinstance(node, exp.If):
            other = s(node.args["false"]) if node.args.get("false") is not None else "None"
            return f"({s(node.args['true'])} if {s(node.this)} is True else {other})"
        if isinstance(node, exp.Coalesce | exp.Least | exp.Greatest):
            fn = {exp.Coalesce: "_coalesce", exp.Least: "_least",
                  exp.Greatest: "_greatest"}[type(node)]
            args = ", ".join(self._unified([node.this, *node.expressions], node))
            return f"{fn}({args})"
        if isinstance(node, exp.Abs):
            return f"_abs({s(node.this)})"
        if isinstance(node, exp.Pow):
            return f"_power({s(node.this)}, {s(node.expression)})"
        if isinstance(node, exp.Round):
            places = node.args.get("decimals")
            return f"_round({s(node.this)}, {int(places.this) if places else 0})"
        if isinstance(node, exp.Year | exp.Month):
            return f"_{node.key}({s(node.this)})"
        if isinstance(node, exp.Anonymous):
            first, second = node.expressions
            if str(node.this).upper() == "DAYS_BETWEEN":
                return f"_days_between({s(first)}, {s(second)})"
            days = (int(self.symbols[second.name].value) if isinstance(second, exp.Column)
                    else int(literal_value(second)))  # type: ignore[arg-type]
            if days <= 0:
                return "False"
            return f"_within_days({s(first)}, {days}, v[{self.as_of_name!r}])"
        raise TypeError(f"no Python rendering for {type(node).__name__}")  # pragma: no cover

    def _operands(self, node: exp.Expression) -> tuple[str, str]:
        return tuple(self._unified([node.this, node.expression], node))  # type: ignore[return-value]

    def _unified(self, nodes: list[exp.Expression], parent: exp.Expression) -> list[str]:
        """Sources for operands, converted so Python mixes them as SQL would."""
        types = [type_of(n, self.symbols) for n in nodes]
        out = [self.source(n) for n in nodes]
        if isinstance(parent, exp.Div):
            return out
        if T.NUMBER in types:
            return [f"_float({o})" if t == T.DECIMAL else o
                    for o, t in zip(out, types, strict=True)]
        if T.TIMESTAMP in types and T.DATE in types:
            return [f"_ts({o})" if t == T.DATE else o for o, t in zip(out, types, strict=True)]
        return out


def _within_days(x: Any, days: int, as_of: dt.date) -> Any:
    first, last = window_bounds(days, as_of)
    return _within(x, first, last)


HELPERS["_within_days"] = _within_days


def compile_function(sources: Mapping[str, str], consts: Mapping[str, Any],
                     name: str = "evaluate") -> Callable[[dict[str, Any]], None]:
    """One function that computes ``sources`` (name -> expression) in order into ``v``."""
    body = "\n".join(f"    v[{key!r}] = {src}" for key, src in sources.items()) or "    pass"
    code = f"def {name}(v):\n{body}\n"
    namespace: dict[str, Any] = {**HELPERS, **consts}
    exec(compile(code, f"<clientlens:{name}>", "exec"), namespace)  # noqa: S102 - our own source
    return namespace[name]


def compile_expression(tree: exp.Expression, symbols: Mapping[str, Symbol]
                       ) -> Callable[[Values], Any]:
    """A single checked expression as a Python function of a name -> value mapping."""
    src = PySource(symbols)
    code = src.source(tree)
    namespace: dict[str, Any] = {**HELPERS, **src.consts}
    return eval(f"lambda v: {code}", namespace)  # noqa: S307 - our own generated source
