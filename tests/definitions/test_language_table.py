"""Every construct of the semantics table, on every engine, against its Python form.

Generated from ``definitions/language/semantics.py``, not sampled by hand: each
entry's forms are expanded into expressions over typed columns, evaluated in SQL on
DuckDB and on a real PostgreSQL (CLIENTLENS_TEST_POSTGRES_URL, as in
test_engines_differential) over a fixed grid of inputs (NULLs, zeros, signs, half
values, backslashes, window boundaries), and compared row by row with the Python
evaluator. A coverage check asserts that every entry and every aggregate was
exercised. Golden fixtures (``tests/fixtures/expressions/*.yaml``: expression,
inputs, expected value written by hand from docs/definitions.md) run on the same
engines.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterator
from decimal import Decimal

import duckdb
import pytest
import yaml
from sqlglot import exp

from clientlens.compiler.pyeval import compile_expression
from clientlens.compiler.render import literal, render
from clientlens.definitions.expressions import Symbol, T, parse
from clientlens.definitions.language.semantics import (
    AGGREGATES,
    SCALARS,
    Form,
    entry_for,
)
from tests.support.paths import FIXTURES as FIXTURE_ROOT
from tests.support.services import URL

AS_OF = dt.date(2026, 10, 31)
FIXTURES = FIXTURE_ROOT / "expressions"

COLUMNS = {  # name -> (type, SQL type, values cycled over the rows)
    "i1": (T.INTEGER, "BIGINT", [None, 0, 1, -2, 5, 125, -125, 1500000, 3, 90]),
    "i2": (T.INTEGER, "BIGINT", [3, None, -7, 0, 2, 1, -1]),
    "d1": (T.DECIMAL, "DECIMAL(18, 2)", [None, Decimal("0.00"), Decimal("1.50"),
                                         Decimal("-2.25"), Decimal("2.50"), Decimal("-2.50"),
                                         Decimal("1499999.99"), Decimal("0.05"),
                                         Decimal("12.45")]),
    "d2": (T.DECIMAL, "DECIMAL(18, 2)", [Decimal("2.00"), None, Decimal("-0.50"),
                                         Decimal("0.00"), Decimal("3.33")]),
    "n1": (T.NUMBER, "DOUBLE", [None, 0.0, 0.5, -1.25, 3.0, 2.675, -0.5, 1e-05, 12345.678,
                                1.005, -2.5]),
    "n2": (T.NUMBER, "DOUBLE", [2.0, None, -0.5, 0.0, 1.5, 10.0, -3.0]),
    "b1": (T.BOOLEAN, "BOOLEAN", [None, True, False]),
    "b2": (T.BOOLEAN, "BOOLEAN", [True, False, None, False]),
    "dt1": (T.DATE, "DATE", [None, AS_OF, AS_OF - dt.timedelta(days=89),
                             AS_OF - dt.timedelta(days=90), AS_OF - dt.timedelta(days=1),
                             AS_OF + dt.timedelta(days=1), dt.date(2024, 2, 29),
                             AS_OF - dt.timedelta(days=2)]),
    "dt2": (T.DATE, "DATE", [AS_OF, None, dt.date(2026, 1, 1), dt.date(2026, 12, 31)]),
    "ts1": (T.TIMESTAMP, "TIMESTAMP", [
        None, dt.datetime(2026, 10, 31, 23, 59, 59), dt.datetime(2026, 8, 3, 0, 0),
        dt.datetime(2026, 8, 2, 23, 59, 59), dt.datetime(2026, 10, 29, 12, 0),
        dt.datetime(2026, 11, 1, 0, 0)]),
    "ts2": (T.TIMESTAMP, "TIMESTAMP", [dt.datetime(2026, 10, 31, 0, 0), None,
                                       dt.datetime(2025, 12, 31, 23, 0)]),
    "s1": (T.TEXT, "VARCHAR", [None, "a", "ab", "", "Ж", "a'b", "b", "a\\b", "a%", "a_b",
                               "\\", "axb", "a\\%", "a\\"]),
    "s2": (T.TEXT, "VARCHAR", ["a%", None, "a\\b", "%\\", "_", "b", "a\\_b"]),
}
ROWS = 28
SYMBOLS: dict[str, Symbol] = {n: Symbol(n, t, "term") for n, (t, _, _) in COLUMNS.items()}
SYMBOLS.update({
    "threshold": Symbol("threshold", T.DECIMAL, "parameter", Decimal("1500000")),
    "window": Symbol("window", T.INTEGER, "parameter", 90),
    "as_of": Symbol("as_of", T.DATE, "builtin"),
})
NAMES = {t: [n for n, (ct, _, _) in COLUMNS.items() if ct == t] for t in T}


def rows() -> list[dict]:
    out = []
    for k in range(ROWS):
        row = {"k": k}
        for n, (_, _, values) in COLUMNS.items():
            row[n] = values[(k * (1 + len(n) % 3)) % len(values)]
        out.append(row)
    return out


ROW_VALUES = rows()


def expressions(form: Form) -> list[str]:
    """The form over columns (each argument of a type a different column), each literal
    choice, and once with the last typed argument NULL."""
    variants: list[list[str]] = [[]]
    used: dict[T, int] = {}
    for arg in form.args:
        if isinstance(arg, tuple):
            variants = [v + [c] for v in variants for c in arg]
        else:
            names = NAMES[arg]
            pick = names[used.get(arg, 0) % len(names)]
            used[arg] = used.get(arg, 0) + 1
            variants = [v + [pick] for v in variants]
    out = [form.template.format(*v) for v in variants]
    typed = [i for i, a in enumerate(form.args) if not isinstance(a, tuple)]
    if typed:
        v = list(variants[0])
        v[typed[-1]] = "null"
        out.append(form.template.format(*v))
    return out


def generated() -> list[str]:
    out: list[str] = []
    for entry in SCALARS:
        for form in entry.forms:
            out += expressions(form)
    # Nested uses, so operators meet each other's results (and a parameter, as_of).
    out += ["round(i1 / i2, 2)", "power(n1, 2) + d1", "if(b1, round(n1, 1), n2)",
            "coalesce(days_between(dt1, as_of), -1)", "d1 >= threshold or not b2",
            "month(coalesce(ts1, ts2)) between 1 and 6", "within_days(dt1, window)",
            "-(-i1)", "abs(-d1)", "(i1 % 3) in (0, 1)", "date '2026-10-31' = as_of",
            "timestamp '2026-10-31 10:00:00' > ts1", "n1 * 1e3 < 1500000.5"]
    return out


# -- engines ---------------------------------------------------------------------------------
class Engine:
    def __init__(self, name: str, run):  # noqa: ANN001
        self.name, self.run = name, run


def _create(execute, many, dialect: str) -> None:  # noqa: ANN001
    types = {n: sql for n, (_, sql, _) in COLUMNS.items()}
    if dialect == "postgres":
        types = {n: "DOUBLE PRECISION" if t == "DOUBLE" else t for n, t in types.items()}
    execute("create temp table inputs (k integer, "
            + ", ".join(f"{n} {t}" for n, t in types.items()) + ")")
    cols = ["k", *COLUMNS]
    marks = ", ".join(["%s" if dialect == "postgres" else "?"] * len(cols))
    many(f"insert into inputs ({', '.join(cols)}) values ({marks})",
         [[r[c] for c in cols] for r in ROW_VALUES])


@pytest.fixture(scope="module")
def engines() -> Iterator[list[Engine]]:
    duck = duckdb.connect()
    _create(duck.execute, duck.executemany, "duckdb")
    found = [Engine("duckdb", lambda sql: duck.execute(sql).fetchall())]
    pg = None
    try:
        import psycopg

        pg = psycopg.connect(URL, autocommit=True)
    except Exception as e:  # noqa: BLE001 - any failure to reach the server
        if os.environ.get("CLIENTLENS_REQUIRE_SERVICES"):
            pytest.fail(f"PostgreSQL is required here: {e}")
    if pg is not None:
        cur = pg.cursor()
        _create(cur.execute, cur.executemany, "postgres")
        found.append(Engine("postgres", lambda sql: pg.execute(sql).fetchall()))
    yield found
    duck.close()
    if pg is not None:
        pg.close()


def _resolve(name: str) -> exp.Expression:
    sym = SYMBOLS[name]
    if sym.kind == "parameter":
        return literal(sym.value)
    if name == "as_of":
        return literal(AS_OF)
    return exp.column(name)


def sql_for(tree: exp.Expression, dialect: str) -> str:
    value = render(tree, resolve=_resolve, symbols=SYMBOLS, as_of=AS_OF)
    return exp.select("k", exp.alias_(value, "v")).from_("inputs").order_by("k").sql(
        dialect=dialect)


def same(py: object, sql: object) -> bool:
    if py is None or sql is None:
        return py is None and sql is None
    if isinstance(py, bool) or isinstance(sql, bool):
        return py is sql or py == sql and type(py) is type(sql)
    if isinstance(py, float) or isinstance(sql, float):
        return math.isclose(float(py), float(sql), rel_tol=1e-12, abs_tol=1e-300)
    return py == sql


def agree(text: str, engines: list[Engine], covered: set[str]) -> None:
    e = parse(text, SYMBOLS)
    for node in e.tree.walk():
        entry = entry_for(node)
        if entry is not None:
            covered.add(entry.name)
    fn = compile_expression(e.tree, SYMBOLS)
    want = [fn({**r, "as_of": AS_OF}) for r in ROW_VALUES]
    for engine in engines:
        sql = sql_for(e.tree, engine.name)
        got = [v for _, v in engine.run(sql)]
        bad = [(ROW_VALUES[k], want[k], got[k]) for k in range(ROWS)
               if not same(want[k], got[k])]
        assert not bad, f"{engine.name}: {text}\n{sql}\nfirst of {len(bad)}: row, python, " \
                        f"sql = {bad[0]}"


def test_every_entry_agrees_on_every_engine(engines: list[Engine]) -> None:
    covered: set[str] = set()
    texts = generated()
    for text in texts:
        agree(text, engines, covered)
    missing = {e.name for e in SCALARS} - covered
    assert not missing, f"entries never exercised: {sorted(missing)}"
    assert len(texts) > 200


def test_every_entry_has_forms_and_every_form_checks() -> None:
    """An entry without forms would escape the differential test; a form whose result
    type is not what the checker gives documents a wrong signature."""
    for entry in SCALARS:
        if entry.kind in ("name", "literal"):
            continue
        assert entry.forms, entry.name
        for form in entry.forms:
            for text in expressions(form)[:1]:
                assert parse(text, SYMBOLS).type == form.result, (entry.name, text)


# -- aggregates -------------------------------------------------------------------------------
def test_every_aggregate_agrees_on_every_engine(engines: list[Engine]) -> None:
    """Each aggregate over groups of the input rows (a group with no matching row, one
    of NULLs only, mixed), with and without a filter, in SQL and in Python."""
    groups = {k: k % 4 for k in range(ROWS)}
    covered = set()
    for name, meaning in AGGREGATES.items():
        ofs = [None] if meaning.needs_of is not True else \
            (["d1", "i1", "n1"] if meaning.numeric_of else ["d1", "s1", "dt1", "ts1"])
        for of_name in ofs:
            typ = meaning.result(SYMBOLS[of_name].type if of_name else None)
            for where in (None, "b1", "false"):
                of = exp.column(of_name) if of_name else None
                fn = meaning.sql(of)
                if where is not None:
                    fn = exp.Filter(this=fn, expression=exp.Where(
                        this=exp.column(where) if where != "false" else exp.false()))
                fn = meaning.finish(fn, typ)
                for engine in engines:
                    sql = exp.select(exp.alias_(exp.Mod(this=exp.column("k"),
                                                        expression=exp.Literal.number(4)), "g"),
                                     exp.alias_(fn, "v")).from_("inputs").group_by("g") \
                        .order_by("g").sql(dialect=engine.name)
                    got = dict(engine.run(sql))
                    for g in range(4):
                        picked = [r for r in ROW_VALUES if groups[r["k"]] == g
                                  and (where is None or (where == "b1" and r["b1"] is True))]
                        if meaning.needs_of is True:
                            picked = [r[of_name] for r in picked if r[of_name] is not None]
                        want = meaning.python(picked, typ)
                        assert same(want, got[g]), (engine.name, name, of_name, where, g,
                                                    want, got[g])
            covered.add(name)
    assert covered == set(AGGREGATES)


# -- golden fixtures --------------------------------------------------------------------------
def golden_cases() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            out.append((f"{path.stem}: {case['expression']}", case))
    return out


def _typed(name: str, value: object) -> object:
    typ = SYMBOLS[name].type
    if value is None:
        return None
    if typ == T.DECIMAL:
        return Decimal(str(value))
    if typ == T.NUMBER:
        return float(value)
    if typ == T.TIMESTAMP and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def matches(expected: object, got: object) -> bool:
    if expected is None or isinstance(expected, bool):
        return got is expected or (isinstance(got, bool) and got == expected)
    if isinstance(expected, float):
        return got is not None and not isinstance(got, bool) and \
            math.isclose(float(got), expected, rel_tol=1e-12)
    if isinstance(expected, str) and isinstance(got, Decimal | int | float) \
            and not isinstance(got, bool):
        return Decimal(str(got)) == Decimal(expected)
    return type(got) is not bool and got == expected


@pytest.mark.parametrize("label, case", golden_cases(), ids=[c[0] for c in golden_cases()])
def test_golden_expressions(label: str, case: dict, engines: list[Engine]) -> None:
    e = parse(case["expression"], SYMBOLS)
    inputs = {n: _typed(n, v) for n, v in (case.get("inputs") or {}).items()}
    expected = case["expected"]
    got = {"python": compile_expression(e.tree, SYMBOLS)({**inputs, "as_of": AS_OF})}

    def resolve(name: str) -> exp.Expression:
        if name in COLUMNS:
            return exp.Cast(this=literal(inputs.get(name)),
                            to=exp.DataType.build(COLUMNS[name][1]))
        return _resolve(name)

    for engine in engines:
        sql = exp.select(render(e.tree, resolve=resolve, symbols=SYMBOLS, as_of=AS_OF)).sql(
            dialect=engine.name)
        got[engine.name] = engine.run(sql)[0][0]
    wrong = {k: v for k, v in got.items() if not matches(expected, v)}
    assert not wrong, f"{label}: expected {expected!r}, got {wrong}"


def test_golden_fixtures_cover_the_functions() -> None:
    written = " ".join(case["expression"] for _, case in golden_cases())
    for name in ("round", "power", "month", "if(", "between", "like", "coalesce",
                 "days_between", "within_days", "year", "least", "greatest", "abs", " in ",
                 "%", "/", "case when", "is null"):
        assert name in written, name
