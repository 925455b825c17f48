"""Checked expressions -> Python functions, compiled once, for in-process evaluation.

Used to evaluate one customer without an engine query (re-evaluation,
explanations). Each node's Python form is its entry of the semantics table
(``definitions/language/semantics.py``), over the helpers of
``definitions/language/runtime.py``, which follow SQL's semantics as the SQL forms
pin them. The generated source is plain expressions over those helpers, so a call
costs a few microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlglot import exp

from clientlens.definitions.expressions import Symbol, T, type_of
from clientlens.definitions.language.runtime import HELPERS
from clientlens.definitions.language.semantics import entry_for

__all__ = ["HELPERS", "NotExpressible", "PySource", "compile_expression", "compile_function"]


class NotExpressible(Exception):
    """A checked construct without a Python form. The semantics table gives every
    construct one today; a construct added with SQL only would raise this, and callers
    that can fall back to the engine (``customer_plan``) do so on this error alone."""

Values = Mapping[str, Any]


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

    def source(self, node: exp.Expression) -> str:
        entry = entry_for(node)
        if entry is None or entry.python is None:  # pragma: no cover - see NotExpressible
            raise NotExpressible(f"no Python form for {type(node).__name__}")
        return entry.python(self, node)

    s = source

    def unified(self, nodes: list[exp.Expression], parent: exp.Expression) -> list[str]:
        """Sources for operands, converted so Python mixes them as SQL would."""
        types = [type_of(n, self.symbols) for n in nodes]
        out = [self.source(n) for n in nodes]
        if T.NUMBER in types:
            return [f"_float({o})" if t == T.DECIMAL else o
                    for o, t in zip(out, types, strict=True)]
        if T.TIMESTAMP in types and T.DATE in types:
            return [f"_ts({o})" if t == T.DATE else o for o, t in zip(out, types, strict=True)]
        return out


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
