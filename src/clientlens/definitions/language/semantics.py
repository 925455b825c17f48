"""The semantics table: one entry per construct of the rule language.

Each entry says, in one place, what a construct means:

- ``typing``: the argument and result types (the checker calls it; a type error
  names the construct);
- ``sql``: its dialect-neutral SQL form (``compiler.render`` calls it). Where an
  engine would compute something else from the plain form, the entry pins one
  meaning and ``engines`` says what it protects against;
- ``python``: its Python form, as source over the helpers of ``runtime``
  (``compiler.pyeval`` calls it);
- ``forms``: typed examples the generated tests build expressions from, and that
  ``docs/definitions.md`` lists.

A sqlglot node with no entry is refused by the checker (``expressions.parse``), so
adding a construct means adding an entry here, and the tests then compare its SQL
on every engine with its Python form (``tests/definitions/test_language_table.py``).
Aggregates of the glossary are the ``AGGREGATES`` table at the end.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from sqlglot import exp

from clientlens.definitions.language.literals import check_number, literal, literal_value
from clientlens.definitions.language.runtime import POWER_LOG_LIMIT, WHOLE_DOUBLE, window_bounds
from clientlens.definitions.language.types import NUMERIC, TEMPORAL, T, is_int_text, unify
from clientlens.model.errors import ExpressionError

MAX_ROUND_PLACES = 9
MAX_WINDOW_DAYS = 36600  # a hundred years: a window longer than a lifetime is a typo


# -- what an entry's forms are given ---------------------------------------------------
class Typer(Protocol):
    text: str
    symbols: Mapping[str, Any]

    def t(self, node: exp.Expression) -> T: ...
    def need(self, node: exp.Expression, kinds: tuple[T, ...], what: str) -> T: ...


class SqlContext(Protocol):
    symbols: Mapping[str, Any]
    as_of: dt.date

    def r(self, node: exp.Expression) -> exp.Expression: ...
    def resolve(self, name: str) -> exp.Expression: ...
    def type_of(self, node: exp.Expression) -> T: ...


class PyContext(Protocol):
    symbols: Mapping[str, Any]
    as_of_name: str

    def s(self, node: exp.Expression) -> str: ...
    def const(self, value: Any) -> str: ...
    def name(self, name: str) -> str: ...
    def unified(self, nodes: list[exp.Expression], parent: exp.Expression) -> list[str]: ...


Args = tuple[T | tuple[str, ...], ...]  # an argument's type, or the literal texts it may be


@dataclass(frozen=True)
class Form:
    """One typed use of an entry: ``template`` with ``{0}``, ``{1}`` for its arguments."""

    template: str
    args: Args
    result: T


@dataclass(frozen=True)
class Scalar:
    name: str  # as the user writes it
    kind: str  # name, literal, logic, comparison, arithmetic, function
    nodes: tuple[type[exp.Expression], ...]
    doc: str
    typing: Callable[[Typer, exp.Expression], T]
    python: Callable[[PyContext, exp.Expression], str]
    sql: Callable[[SqlContext, exp.Expression], exp.Expression] | None = None
    forms: tuple[Form, ...] = ()
    engines: Mapping[str, str] = field(default_factory=dict)
    call: str | None = None  # a function of the language's own, e.g. DAYS_BETWEEN
    check: Callable[[exp.Expression], None] | None = None  # structure beyond types


# -- small builders ----------------------------------------------------------------------
def _double(node: exp.Expression) -> exp.Expression:
    return exp.Cast(this=_wrap(node), to=exp.DataType.build("DOUBLE"))


def _wrap(node: exp.Expression) -> exp.Expression:
    simple = (exp.Column, exp.Literal, exp.Paren, exp.Func, exp.Null)
    return node if isinstance(node, simple) else exp.Paren(this=node)


def _is_int_literal(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren | exp.Neg):
        node = node.this
    return isinstance(node, exp.Literal) and node.is_int


def _number(value: float | int) -> exp.Expression:
    return exp.Cast(this=exp.Literal.number(repr(float(value))), to=exp.DataType.build("DOUBLE"))


def _null_typed(sql_type: str) -> Callable[[SqlContext, exp.Expression], exp.Expression]:
    """The default form, with a bare NULL argument given a type: PostgreSQL cannot
    choose between -integer and -numeric (or abs, round, extract) for an untyped NULL."""
    def sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
        new = default_sql(ctx, node)
        inner = new.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Null):
            new.set("this", exp.Cast(this=exp.Null(), to=exp.DataType.build(sql_type)))
        return new
    return sql


def default_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    """The node itself with its arguments rendered."""
    new = node.copy()
    for key, value in node.args.items():
        if isinstance(value, exp.Expression):
            new.set(key, ctx.r(value))
        elif isinstance(value, list):
            new.set(key, [ctx.r(v) if isinstance(v, exp.Expression) else v for v in value])
    return new


def days_between_sql(start: exp.Expression, end: exp.Expression) -> exp.Expression:
    """Whole calendar days from ``start`` to ``end`` (dates; timestamps are truncated)."""
    return exp.DateDiff(this=exp.Cast(this=end, to=exp.DataType.build("DATE")),
                        expression=exp.Cast(this=start, to=exp.DataType.build("DATE")),
                        unit=exp.var("DAY"))


def constant_int(node: exp.Expression, symbols: Mapping[str, Any]) -> int:
    """The value of a whole-number literal or integer parameter."""
    if isinstance(node, exp.Column):
        return int(symbols[node.name].value)
    return int(literal_value(node))  # type: ignore[arg-type]


# -- names, literals, parentheses ----------------------------------------------------------
def _name_type(ty: Typer, node: exp.Expression) -> T:
    return ty.symbols[node.name].type


def _literal_type(ty: Typer, node: exp.Expression) -> T:
    if isinstance(node, exp.Null):
        return T.NULL
    if isinstance(node, exp.Boolean):
        return T.BOOLEAN
    if node.is_string:
        return T.TEXT
    literal_value(node)  # range-checks numbers
    return T.INTEGER if is_int_text(node.this) else T.DECIMAL


def _check_typed_literal(node: exp.Expression) -> None:
    # Only typed literals: DATE '2024-01-01', TIMESTAMP '2024-01-01 10:00:00'.
    # sqlglot reads DuckDB's `timestamp '...'` as TIMESTAMPNTZ (no time zone).
    target = node.to.this
    if target not in (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP,
                      exp.DataType.Type.TIMESTAMPNTZ) or \
            not (isinstance(node.this, exp.Literal) and node.this.is_string):
        raise ExpressionError(f"'{node.sql()}' is not allowed; only date '...' and "
                              "timestamp '...' literals may be written")
    literal_value(node)  # validates the text of the date


def _const_py(ctx: PyContext, node: exp.Expression) -> str:
    return ctx.const(literal_value(node))


def _copy_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    return node.copy()


STRUCTURE = (
    Scalar("name", "name", (exp.Column,), "a term, parameter, source column or as_of",
           typing=_name_type, python=lambda c, n: c.name(n.name),
           sql=lambda c, n: c.resolve(n.name)),
    Scalar("literal", "literal", (exp.Literal, exp.Boolean, exp.Null),
           "a number, 'text', true, false or null",
           typing=_literal_type, python=_const_py, sql=_copy_sql),
    Scalar("date literal", "literal", (exp.Cast,),
           "date '2026-01-31' or timestamp '2026-01-31 10:00:00'",
           typing=lambda ty, n: T.DATE if n.to.this == exp.DataType.Type.DATE else T.TIMESTAMP,
           python=_const_py, sql=_copy_sql, check=_check_typed_literal),
    Scalar("( )", "literal", (exp.Paren,), "parentheses",
           typing=lambda ty, n: ty.t(n.this), python=lambda c, n: c.s(n.this)),
)


# -- logic ---------------------------------------------------------------------------------
def _bool_binary(word: str) -> Callable[[Typer, exp.Expression], T]:
    def typing(ty: Typer, node: exp.Expression) -> T:
        ty.need(node.this, (T.BOOLEAN,), word)
        ty.need(node.expression, (T.BOOLEAN,), word)
        return T.BOOLEAN
    return typing


def _binary_py(helper: str) -> Callable[[PyContext, exp.Expression], str]:
    def python(ctx: PyContext, node: exp.Expression) -> str:
        left, right = ctx.unified([node.this, node.expression], node)
        return f"{helper}({left}, {right})"
    return python


def _case_type(ty: Typer, node: exp.Expression) -> T:
    if node.this is not None:
        raise ExpressionError("use CASE WHEN condition THEN ..., not CASE value WHEN ...")
    typ = T.NULL
    for branch in node.args.get("ifs") or []:
        ty.need(branch.this, (T.BOOLEAN,), "WHEN")
        typ = unify(typ, ty.t(branch.args["true"]), node.sql())
    if node.args.get("default") is not None:
        typ = unify(typ, ty.t(node.args["default"]), node.sql())
    return typ


def _case_py(ctx: PyContext, node: exp.Expression) -> str:
    out = ctx.s(node.args["default"]) if node.args.get("default") is not None else "None"
    for branch in reversed(node.args.get("ifs") or []):
        out = f"({ctx.s(branch.args['true'])} if {ctx.s(branch.this)} is True else {out})"
    return out


def _if_type(ty: Typer, node: exp.Expression) -> T:
    ty.need(node.this, (T.BOOLEAN,), "IF")
    typ = ty.t(node.args["true"])
    if node.args.get("false") is not None:
        typ = unify(typ, ty.t(node.args["false"]), node.sql())
    return typ


def _if_py(ctx: PyContext, node: exp.Expression) -> str:
    other = ctx.s(node.args["false"]) if node.args.get("false") is not None else "None"
    return f"({ctx.s(node.args['true'])} if {ctx.s(node.this)} is True else {other})"


_B = T.BOOLEAN
LOGIC = (
    Scalar("and", "logic", (exp.And,), "both hold (unknown if one is unknown and none false)",
           typing=_bool_binary("AND"), python=_binary_py("_and"),
           forms=(Form("({0} and {1})", (_B, _B), _B),)),
    Scalar("or", "logic", (exp.Or,), "either holds",
           typing=_bool_binary("OR"), python=_binary_py("_or"),
           forms=(Form("({0} or {1})", (_B, _B), _B),)),
    Scalar("not", "logic", (exp.Not,), "negation (not unknown is unknown)",
           typing=lambda ty, n: (ty.need(n.this, (T.BOOLEAN,), "NOT"), T.BOOLEAN)[1],
           python=lambda c, n: f"_not({c.s(n.this)})",
           forms=(Form("(not {0})", (_B,), _B),)),
    Scalar("case", "logic", (exp.Case,), "case when c then a [when ...] [else b] end",
           typing=_case_type, python=_case_py,
           forms=tuple(Form("case when {0} then {1} else {2} end", (_B, t, t), t)
                       for t in (T.INTEGER, T.DECIMAL, T.TEXT, T.DATE))
           + (Form("case when {0} then {1} end", (_B, T.INTEGER), T.INTEGER),)),
    Scalar("if", "logic", (exp.If,), "if(c, a, b): a when c holds, else b",
           typing=_if_type, python=_if_py,
           engines={"postgres": "no IF(): sqlglot prints CASE WHEN c THEN a ELSE b END"},
           forms=tuple(Form("if({0}, {1}, {2})", (_B, t, t), t)
                       for t in (T.INTEGER, T.NUMBER, T.TEXT, T.BOOLEAN))),
)


# -- comparisons -----------------------------------------------------------------------------
def _compare_type(ty: Typer, node: exp.Expression) -> T:
    unify(ty.t(node.this), ty.t(node.expression), node.sql())
    return T.BOOLEAN


_CMP_FORMS = ((T.INTEGER, T.DECIMAL), (T.DECIMAL, T.NUMBER), (T.NUMBER, T.INTEGER),
              (T.DATE, T.TIMESTAMP), (T.TEXT, T.TEXT), (T.BOOLEAN, T.BOOLEAN))


def _comparison(op: str, node: type[exp.Expression], helper: str, doc: str) -> Scalar:
    return Scalar(op, "comparison", (node,), doc, typing=_compare_type,
                  python=_binary_py(helper),
                  forms=tuple(Form(f"({{0}} {op} {{1}})", pair, _B) for pair in _CMP_FORMS))


def _is_type(ty: Typer, node: exp.Expression) -> T:
    if not isinstance(node.expression, exp.Null):
        raise ExpressionError(f"'{node.sql()}': only IS NULL / IS NOT NULL are supported")
    ty.t(node.this)
    return T.BOOLEAN


def _check_in(node: exp.Expression) -> None:
    if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
        raise ExpressionError(f"'{node.sql()}': IN takes a list of literals only")
    for item in node.expressions:
        if not isinstance(item, exp.Literal | exp.Null | exp.Boolean | exp.Neg):
            raise ExpressionError(f"'{node.sql()}': IN takes a list of literals only")


def _in_type(ty: Typer, node: exp.Expression) -> T:
    typ = ty.t(node.this)
    for item in node.expressions:
        typ = unify(typ, ty.t(item), node.sql())
    return T.BOOLEAN


def _in_py(ctx: PyContext, node: exp.Expression) -> str:
    items = [literal_value(i) for i in node.expressions]
    present = tuple(i for i in items if i is not None)
    return f"_in({ctx.s(node.this)}, {ctx.const(present)}, {None in items})"


def _check_between(node: exp.Expression) -> None:
    if node.args.get("symmetric"):
        # PostgreSQL honours SYMMETRIC, DuckDB has no such syntax (sqlglot rewrites it),
        # Spark neither: one meaning means refusing it (issue 16).
        raise ExpressionError(f"'{node.sql()}': BETWEEN SYMMETRIC is not supported; write "
                              "(x between a and b or x between b and a)")


def _between_type(ty: Typer, node: exp.Expression) -> T:
    unify(unify(ty.t(node.this), ty.t(node.args["low"]), node.sql()),
          ty.t(node.args["high"]), node.sql())
    return T.BOOLEAN


def _between_py(ctx: PyContext, node: exp.Expression) -> str:
    # Operands converted together, as SQL does: a date between timestamps is compared
    # as a timestamp (found by the generated differential test).
    x, lo, hi = ctx.unified([node.this, node.args["low"], node.args["high"]], node)
    return f"_and(_ge({x}, {lo}), _le({x}, {hi}))"


def _check_like(node: exp.Expression) -> None:
    if node.args.get("escape"):
        raise ExpressionError("LIKE ... ESCAPE is not supported")


def _like_type(ty: Typer, node: exp.Expression) -> T:
    ty.need(node.this, (T.TEXT,), "LIKE")
    ty.need(node.expression, (T.TEXT,), "LIKE")
    return T.BOOLEAN


def _like_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    """``x LIKE p`` where only ``%`` and ``_`` are special and a backslash is itself:
    DuckDB has no default escape character, PostgreSQL's is the backslash. So every
    engine is given ``ESCAPE '\\'`` and the pattern's backslashes doubled."""
    pattern = node.expression
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        escaped: exp.Expression = exp.Literal.string(pattern.this.replace("\\", "\\\\"))
    else:
        escaped = exp.func("REPLACE", ctx.r(pattern), exp.Literal.string("\\"),
                           exp.Literal.string("\\\\"))
    like = exp.Like(this=ctx.r(node.this), expression=escaped)
    return exp.Paren(this=exp.Escape(this=like, expression=exp.Literal.string("\\")))


_LIKE_PATTERNS = ("'%'", "'a%'", "'_'", "'%b'", "'a\\%'", "'\\'", "'%\\'", "'a_b'")
_T = T.TEXT
COMPARISONS = (
    _comparison("=", exp.EQ, "_eq", "equal"),
    _comparison("<>", exp.NEQ, "_ne", "not equal (also !=)"),
    _comparison("<", exp.LT, "_lt", "less than"),
    _comparison("<=", exp.LTE, "_le", "at most"),
    _comparison(">", exp.GT, "_gt", "greater than"),
    _comparison(">=", exp.GTE, "_ge", "at least"),
    Scalar("is null", "comparison", (exp.Is,), "x is null, x is not null (never unknown)",
           typing=_is_type, python=lambda c, n: f"({c.s(n.this)} is None)",
           forms=tuple(Form("({0} is null)", (t,), _B) for t in
                       (T.INTEGER, T.DECIMAL, T.NUMBER, T.BOOLEAN, T.DATE, T.TIMESTAMP, T.TEXT))),
    Scalar("in", "comparison", (exp.In,), "x in (literal, ...); unknown if a listed null",
           typing=_in_type, python=_in_py, check=_check_in,
           forms=(Form("({0} in (1, 3, {1}))", (T.INTEGER, ("null", "0")), _B),
                  Form("({0} in ('a', 'Ж', {1}))", (T.TEXT, ("null", "'b'")), _B),
                  Form("({0} in (-2.25, 1.50))", (T.DECIMAL,), _B))),
    Scalar("between", "comparison", (exp.Between,),
           "x between a and b: a <= x and x <= b (SYMMETRIC refused)",
           typing=_between_type, python=_between_py, check=_check_between,
           engines={"duckdb": "no BETWEEN SYMMETRIC", "postgres": "BETWEEN SYMMETRIC swaps "
                    "the bounds"},
           forms=(Form("({0} between {1} and {2})", (T.INTEGER, T.INTEGER, T.DECIMAL), _B),
                  Form("({0} between {1} and {2})", (T.NUMBER, T.DECIMAL, T.NUMBER), _B),
                  Form("({0} between {1} and {2})", (T.DATE, T.DATE, T.TIMESTAMP), _B))),
    Scalar("like", "comparison", (exp.Like,),
           "text like pattern: % any text, _ one character, nothing else special",
           typing=_like_type, python=_binary_py("_like"), sql=_like_sql, check=_check_like,
           engines={"postgres": "a backslash escapes by default", "duckdb": "no escape "
                    "character by default"},
           forms=(Form("({0} like {1})", (_T, _LIKE_PATTERNS), _B),
                  Form("({0} like {1})", (_T, _T), _B))),
)


# -- arithmetic ------------------------------------------------------------------------------
def _arith_type(op: str) -> Callable[[Typer, exp.Expression], T]:
    def typing(ty: Typer, node: exp.Expression) -> T:
        left = ty.need(node.this, NUMERIC, f"'{op}'")
        right = ty.need(node.expression, NUMERIC, f"'{op}'")
        if isinstance(node, exp.Div):
            return T.NUMBER
        if isinstance(node, exp.Mod):
            if left not in (T.INTEGER, T.NULL) or right not in (T.INTEGER, T.NULL):
                raise ExpressionError(f"type error in '{ty.text}': '%' needs whole numbers")
            return T.INTEGER
        return unify(left, right, node.sql())
    return typing


def _widened_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    # Integer literals are 32-bit on DuckDB and PostgreSQL: 135000000 * 90
    # overflows there but not in Python. Widen them, as the terms are.
    new = node.copy()
    for key in ("this", "expression"):
        part = ctx.r(node.args[key])
        if _is_int_literal(part):
            part = exp.Cast(this=part, to=exp.DataType.build("BIGINT"))
        new.set(key, part)
    return new


def _div_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    return exp.Div(this=_double(ctx.r(node.this)),
                   expression=exp.Nullif(this=ctx.r(node.expression),
                                         expression=exp.Literal.number(0)))


def _mod_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    return exp.Mod(this=_wrap(ctx.r(node.this)),
                   expression=exp.Nullif(this=ctx.r(node.expression),
                                         expression=exp.Literal.number(0)))


def _neg_py(ctx: PyContext, node: exp.Expression) -> str:
    if isinstance(node.this, exp.Literal):
        return ctx.const(-literal_value(node.this))  # type: ignore[operator]
    return f"_neg({ctx.s(node.this)})"


def _div_py(ctx: PyContext, node: exp.Expression) -> str:
    return f"_div({ctx.s(node.this)}, {ctx.s(node.expression)})"


_I, _D, _N = T.INTEGER, T.DECIMAL, T.NUMBER
_ARITH_FORMS = ((_I, _I, _I), (_I, _D, _D), (_D, _D, _D), (_D, _N, _N), (_N, _N, _N))
ARITHMETIC = (
    Scalar("-x", "arithmetic", (exp.Neg,), "minus a number", typing=lambda ty, n: ty.need(
        n.this, NUMERIC, "'-'"), python=_neg_py, sql=_null_typed("BIGINT"),
        forms=tuple(Form("(- {0})", (t,), t) for t in (_I, _D, _N))),
    *(Scalar(op, "arithmetic", (node,), doc, typing=_arith_type(op), sql=_widened_sql,
             python=_binary_py(helper),
             engines={"duckdb": "integer literals are 32-bit", "postgres": "integer literals "
                      "are 32-bit"},
             forms=tuple(Form(f"({{0}} {op} {{1}})", (a, b), r) for a, b, r in _ARITH_FORMS))
      for op, node, helper, doc in (("+", exp.Add, "_add", "sum"),
                                    ("-", exp.Sub, "_sub", "difference"),
                                    ("*", exp.Mul, "_mul", "product"))),
    Scalar("/", "arithmetic", (exp.Div,),
           "quotient, always a number; dividing by zero gives empty (NULL)",
           typing=_arith_type("/"), sql=_div_sql, python=_div_py,
           engines={"postgres": "integer division truncates and x/0 raises",
                    "duckdb": "x/0 is NULL", "spark": "x/0 is NULL"},
           forms=tuple(Form("({0} / {1})", (a, b), _N) for a, b, _ in _ARITH_FORMS)),
    Scalar("%", "arithmetic", (exp.Mod,),
           "remainder of whole numbers, with the dividend's sign; % 0 gives empty",
           typing=_arith_type("%"), sql=_mod_sql, python=_binary_py("_mod"),
           engines={"postgres": "x % 0 raises"},
           forms=(Form("({0} % {1})", (_I, _I), _I),)),
)


# -- functions -------------------------------------------------------------------------------
def _variadic_type(ty: Typer, node: exp.Expression) -> T:
    typ = ty.t(node.this)
    for other in node.expressions:
        typ = unify(typ, ty.t(other), node.sql())
    return typ


def _variadic_py(helper: str) -> Callable[[PyContext, exp.Expression], str]:
    def python(ctx: PyContext, node: exp.Expression) -> str:
        args = ", ".join(ctx.unified([node.this, *node.expressions], node))
        return f"{helper}({args})"
    return python


def _power_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    """POWER in double precision, NULL where undefined or beyond e**690 (about 1e300),
    0.0 below e**-690: DuckDB gives inf/nan there, PostgreSQL raises."""
    x, y = _double(ctx.r(node.this)), _double(ctx.r(node.expression))
    zero = _number(0)
    # ln() of a positive number only: PostgreSQL may fold constants before the CASE.
    size = exp.Mul(this=y.copy(), expression=exp.Ln(this=exp.Greatest(
        this=exp.Abs(this=x.copy()), expressions=[_number(1e-300)])))
    # GREATEST skips NULLs, so an empty operand is decided first.
    return (exp.Case()
            .when(exp.or_(exp.Is(this=x.copy(), expression=exp.Null()),
                          exp.Is(this=y.copy(), expression=exp.Null())), exp.Null())
            .when(exp.and_(exp.EQ(this=x.copy(), expression=zero.copy()),
                           exp.LT(this=y.copy(), expression=zero.copy())), exp.Null())
            .when(exp.EQ(this=x.copy(), expression=zero.copy()),
                  exp.Pow(this=x.copy(), expression=y.copy()))
            .when(exp.and_(exp.LT(this=x.copy(), expression=zero.copy()),
                           exp.NEQ(this=y.copy(), expression=exp.Floor(this=y.copy()))),
                  exp.Null())
            .when(exp.GT(this=size.copy(), expression=_number(POWER_LOG_LIMIT)), exp.Null())
            .when(exp.LT(this=size, expression=_number(-POWER_LOG_LIMIT)), _number(0))
            .else_(exp.Pow(this=x, expression=y)))


def _round_places(node: exp.Expression) -> int:
    decimals = node.args.get("decimals")
    return int(decimals.this) if decimals is not None else 0


def _round_type(ty: Typer, node: exp.Expression) -> T:
    typ = ty.need(node.this, NUMERIC, "ROUND")
    decimals = node.args.get("decimals")
    if decimals is not None and not (isinstance(decimals, exp.Literal)
                                     and is_int_text(decimals.this)):
        raise ExpressionError(f"'{node.sql()}': ROUND takes a whole number of places")
    if _round_places(node) > MAX_ROUND_PLACES:
        raise ExpressionError(f"'{node.sql()}': ROUND takes 0 to {MAX_ROUND_PLACES} places")
    return typ


def _round_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    """Half away from zero. Decimals: the engines' ROUND does that. Floating-point
    numbers: DuckDB rounds half away, PostgreSQL half to even; both are given the
    same IEEE operations as ``runtime._round``:
    ``x`` when ``|x| * 10**n >= 2**52``, else ``sign(x) * floor(|x| * 10**n + 0.5) / 10**n``."""
    if ctx.type_of(node.this) != T.NUMBER:
        return _null_typed("BIGINT")(ctx, node)
    x = _double(ctx.r(node.this))
    m = _number(10.0 ** _round_places(node))
    scaled = exp.Mul(this=exp.Abs(this=x.copy()), expression=m.copy())
    whole = exp.Div(this=exp.Floor(this=exp.Add(this=scaled.copy(), expression=_number(0.5))),
                    expression=m)
    return (exp.Case()
            .when(exp.GTE(this=scaled, expression=_number(WHOLE_DOUBLE)), x.copy())
            .when(exp.LT(this=x.copy(), expression=_number(0)), exp.Neg(this=exp.Paren(
                this=whole.copy())))
            .else_(whole))


def _round_py(ctx: PyContext, node: exp.Expression) -> str:
    return f"_round({ctx.s(node.this)}, {_round_places(node)})"


def _temporal_part(ty: Typer, node: exp.Expression) -> T:
    ty.need(node.this, TEMPORAL, node.key.upper())
    return T.INTEGER


def _days_between_type(ty: Typer, node: exp.Expression) -> T:
    first, second = node.expressions
    ty.need(first, TEMPORAL, "days_between")
    ty.need(second, TEMPORAL, "days_between")
    return T.INTEGER


def _days_between_py(ctx: PyContext, node: exp.Expression) -> str:
    first, second = node.expressions
    return f"_days_between({ctx.s(first)}, {ctx.s(second)})"


def _is_constant_int(node: exp.Expression, symbols: Mapping[str, Any]) -> bool:
    if isinstance(node, exp.Literal) and not node.is_string and is_int_text(node.this):
        return True
    if isinstance(node, exp.Column):
        sym = symbols[node.name]
        return sym.kind == "parameter" and sym.type == T.INTEGER
    return False


def _within_days_type(ty: Typer, node: exp.Expression) -> T:
    first, second = node.expressions
    ty.need(first, TEMPORAL, "within_days")
    if not _is_constant_int(second, ty.symbols):
        raise ExpressionError(f"'{node.sql()}': within_days needs a whole number of days "
                              "(a literal or a parameter)")
    days = constant_int(second, ty.symbols)
    if days > MAX_WINDOW_DAYS:
        raise ExpressionError(f"'{node.sql()}': within_days takes at most {MAX_WINDOW_DAYS} "
                              f"days, not {days}")
    return T.BOOLEAN


def _within_days_sql(ctx: SqlContext, node: exp.Expression) -> exp.Expression:
    """A range over literals computed from the as-of date, so engines can prune and
    never cast the column row by row."""
    first_arg, second = node.expressions
    days = constant_int(second, ctx.symbols)
    if days <= 0:
        return exp.Boolean(this=False)
    x, x_type = ctx.r(first_arg), ctx.type_of(first_arg)
    first, last = window_bounds(days, ctx.as_of)
    if x_type == T.TIMESTAMP:
        lo = literal(dt.datetime.combine(first, dt.time()))
        hi = literal(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
        return exp.Paren(this=exp.and_(exp.GTE(this=x, expression=lo),
                                       exp.LT(this=x.copy(), expression=hi)))
    return exp.Paren(this=exp.and_(exp.GTE(this=x, expression=literal(first)),
                                   exp.LTE(this=x.copy(), expression=literal(last))))


def _within_days_py(ctx: PyContext, node: exp.Expression) -> str:
    first, second = node.expressions
    days = constant_int(second, ctx.symbols)
    if days <= 0:
        return "False"
    return f"_within_days({ctx.s(first)}, {days}, v[{ctx.as_of_name!r}])"


_DAYS = ("1", "3", "90", "0", "window")
FUNCTIONS = (
    Scalar("coalesce", "function", (exp.Coalesce,), "the first argument that is not empty",
           typing=_variadic_type, python=_variadic_py("_coalesce"),
           forms=tuple(Form("coalesce({0}, {1})", (a, b), r) for a, b, r in (
               (_I, _I, _I), (_D, _I, _D), (_N, _D, _N), (_T, _T, _T), (T.DATE, T.DATE, T.DATE),
               (T.TIMESTAMP, T.TIMESTAMP, T.TIMESTAMP), (_B, _B, _B)))),
    Scalar("least", "function", (exp.Least,), "the smallest argument, empty ones skipped",
           typing=_variadic_type, python=_variadic_py("_least"),
           forms=(Form("least({0}, {1})", (_I, _I), _I), Form("least({0}, {1}, {2})",
                                                             (_D, _I, _D), _D),
                  Form("least({0}, {1})", (_N, _D), _N))),
    Scalar("greatest", "function", (exp.Greatest,), "the largest argument, empty ones skipped",
           typing=_variadic_type, python=_variadic_py("_greatest"),
           forms=(Form("greatest({0}, {1})", (_D, _D), _D),
                  Form("greatest({0}, {1})", (_I, _N), _N),
                  Form("greatest({0}, {1})", (T.DATE, T.DATE), T.DATE))),
    Scalar("abs", "function", (exp.Abs,), "absolute value",
           typing=lambda ty, n: ty.need(n.this, NUMERIC, "ABS"), sql=_null_typed("BIGINT"),
           python=lambda c, n: f"_abs({c.s(n.this)})",
           forms=tuple(Form("abs({0})", (t,), t) for t in (_I, _D, _N))),
    Scalar("round", "function", (exp.Round,),
           f"round(x) or round(x, n) with 0 <= n <= {MAX_ROUND_PLACES}: half away from zero",
           typing=_round_type, sql=_round_sql, python=_round_py,
           engines={"postgres": "rounds floating point half to even, and has no "
                    "round(double precision, n)"},
           forms=tuple(Form(f"round({{0}}{p})", (t,), t) for t in (_I, _D, _N)
                       for p in ("", ", 1", ", 2"))),
    Scalar("power", "function", (exp.Pow,),
           "power(x, y) in floating point; empty when undefined (0 to a negative power, "
           "a negative number to a fraction) or beyond about 1e300",
           typing=lambda ty, n: (ty.need(n.this, NUMERIC, "POWER"),
                                 ty.need(n.expression, NUMERIC, "POWER"), T.NUMBER)[2],
           sql=_power_sql, python=lambda c, n: f"_power({c.s(n.this)}, {c.s(n.expression)})",
           engines={"postgres": "raises on overflow, underflow and complex results",
                    "duckdb": "gives inf or nan"},
           forms=(Form("power({0}, {1})", (_N, _I), _N), Form("power({0}, {1})", (_D, _N), _N),
                  Form("power({0}, {1})", (_I, ("2", "0.5", "-1", "400", "-400")), _N))),
    Scalar("year", "function", (exp.Year,), "the year of a date or timestamp",
           typing=_temporal_part, sql=_null_typed("DATE"),
           python=lambda c, n: f"_year({c.s(n.this)})",
           forms=(Form("year({0})", (T.DATE,), _I), Form("year({0})", (T.TIMESTAMP,), _I))),
    Scalar("month", "function", (exp.Month,), "the month (1-12) of a date or timestamp",
           typing=_temporal_part, sql=_null_typed("DATE"),
           python=lambda c, n: f"_month({c.s(n.this)})",
           forms=(Form("month({0})", (T.DATE,), _I), Form("month({0})", (T.TIMESTAMP,), _I))),
    Scalar("days_between", "function", (exp.Anonymous,),
           "days_between(a, b): whole calendar days from a to b (timestamps by their date)",
           typing=_days_between_type, call="DAYS_BETWEEN", python=_days_between_py,
           sql=lambda c, n: days_between_sql(c.r(n.expressions[0]), c.r(n.expressions[1])),
           forms=(Form("days_between({0}, {1})", (T.DATE, T.TIMESTAMP), _I),
                  Form("days_between({0}, {1})", (T.TIMESTAMP, T.DATE), _I))),
    Scalar("within_days", "function", (exp.Anonymous,),
           f"within_days(x, n): x falls on one of the n days ending on the as-of date "
           f"(n a whole-number literal or parameter, at most {MAX_WINDOW_DAYS})",
           typing=_within_days_type, call="WITHIN_DAYS", sql=_within_days_sql,
           python=_within_days_py,
           forms=(Form("within_days({0}, {1})", (("ts1", "dt1"), _DAYS), _B),)),
)

SCALARS: tuple[Scalar, ...] = (*STRUCTURE, *LOGIC, *COMPARISONS, *ARITHMETIC, *FUNCTIONS)
# Nodes that appear only inside an entry's node (a name's identifier, a literal's type).
PARTS: tuple[type[exp.Expression], ...] = (exp.Identifier, exp.DataType)
LANGUAGE_FUNCTIONS = {e.call: e for e in SCALARS if e.call}
_BY_NODE = {node: e for e in SCALARS if not e.call for node in e.nodes}
ALLOWED: tuple[type[exp.Expression], ...] = (*_BY_NODE, exp.Anonymous, *PARTS)
FUNCTION_NAMES: tuple[str, ...] = tuple(e.name for e in SCALARS if e.kind == "function")


def entry_for(node: exp.Expression) -> Scalar | None:
    """The table's entry for a node, or None when the language has no such construct."""
    if isinstance(node, exp.Anonymous):
        return LANGUAGE_FUNCTIONS.get(str(node.this).upper())
    return _BY_NODE.get(type(node))


def check_call(node: exp.Anonymous) -> Scalar:
    """The entry of a function the language defines itself, with its argument count."""
    name = str(node.this)
    entry = LANGUAGE_FUNCTIONS.get(name.upper())
    if entry is None:
        from clientlens.model.errors import did_you_mean

        raise ExpressionError(f"function '{name.lower()}' is not allowed."
                              f"{did_you_mean(name.lower(), FUNCTION_NAMES)}"
                              f" Allowed functions: {', '.join(FUNCTION_NAMES)}")
    arity = len(entry.forms[0].args)
    if len(node.expressions) != arity:
        raise ExpressionError(f"{entry.name} takes {arity} arguments")
    return entry


# -- aggregates of the glossary --------------------------------------------------------------
@dataclass(frozen=True)
class Aggregate:
    name: str
    doc: str
    needs_of: bool | None  # True: needs 'of'; False: takes none; None: ignores it
    numeric_of: bool  # 'of' must be a number
    result: Callable[[T | None], T]  # the result type from the type of 'of'
    default: Any  # for a customer with no rows; None: NULL unless the term sets one
    sql: Callable[[exp.Expression | None], exp.Expression]  # the aggregate call, FILTER goes on it
    python: Callable[[Sequence[Any], T], Any]  # (rows if no 'of', else present values, type)
    finish: Callable[[exp.Expression, T], exp.Expression] = lambda fn, t: fn  # after FILTER
    engines: Mapping[str, str] = field(default_factory=dict)


DECIMAL_RESULT = exp.DataType.build("DECIMAL(38, 2)")
_CENT = Decimal("0.01")


def _sum_py(present: Sequence[Any], typ: T) -> Any:
    if not present:
        return None
    total = sum(present)
    if typ == T.DECIMAL:
        return Decimal(total).quantize(_CENT, rounding=ROUND_HALF_UP)
    return float(total) if typ == T.NUMBER else total


def _avg_py(present: Sequence[Any], typ: T) -> Any:
    return math.fsum(float(x) for x in present) / len(present) if present else None


AGGREGATES: dict[str, Aggregate] = {a.name: a for a in (
    Aggregate("count", "number of rows (where holds)", None, False, lambda t: T.INTEGER, 0,
              lambda of: exp.Count(this=exp.Star()), lambda rows, t: len(rows)),
    Aggregate("count_distinct", "number of different non-empty values of 'of'", True, False,
              lambda t: T.INTEGER, 0,
              lambda of: exp.Count(this=exp.Distinct(expressions=[of])),
              lambda present, t: len(set(present))),
    Aggregate("sum", "sum of 'of', empty values skipped; decimals as DECIMAL(38, 2)", True,
              True, lambda t: t or T.NULL, None, lambda of: exp.Sum(this=of), _sum_py,
              finish=lambda fn, t: exp.Cast(this=fn, to=DECIMAL_RESULT) if t == T.DECIMAL
              else fn,
              engines={"postgres": "widens decimal sums differently: cast to one type"}),
    Aggregate("avg", "mean of 'of' in floating point", True, True, lambda t: T.NUMBER, None,
              lambda of: exp.Avg(this=exp.Cast(this=of, to=exp.DataType.build("DOUBLE"))),
              _avg_py),
    Aggregate("min", "smallest value of 'of'", True, False, lambda t: t or T.NULL, None,
              lambda of: exp.Min(this=of), lambda p, t: min(p) if p else None),
    Aggregate("max", "largest value of 'of'", True, False, lambda t: t or T.NULL, None,
              lambda of: exp.Max(this=of), lambda p, t: max(p) if p else None),
    Aggregate("exists", "whether any row (where holds) exists", False, False,
              lambda t: T.BOOLEAN, False, lambda of: exp.Count(this=exp.Star()),
              lambda rows, t: len(rows) > 0,
              finish=lambda fn, t: exp.GT(this=fn, expression=exp.Literal.number(0))),
)}


def check_integer_parameter(value: int) -> None:
    """Integers of definitions must fit a BIGINT, like integer literals."""
    check_number(value, str(value))
