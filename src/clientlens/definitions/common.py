"""Pieces shared by the glossary and rulebook loaders: labels, parameters, names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from clientlens.definitions.expressions import T
from clientlens.definitions.language.literals import MAX_INTEGER_DIGITS
from clientlens.definitions.yamlsrc import Located
from clientlens.model.errors import Problem

LANGUAGES = ("en", "ru", "bg")
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")  # \Z: "$" would take a final newline
# Words the parser would read as SQL rather than as a name.
RESERVED = frozenset({
    "as_of", "and", "or", "not", "null", "true", "false", "is", "in", "between", "like",
    "case", "when", "then", "else", "end", "if", "select", "from", "where", "date",
    "timestamp", "interval", "cast", "distinct", "all", "any", "exists", "order", "by",
    "group", "having", "limit", "union", "with", "as", "on", "join", "table",
})


@dataclass(frozen=True)
class Labels:
    en: str
    ru: str
    bg: str

    def get(self, lang: str) -> str:
        return getattr(self, lang, self.en)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: T
    value: Any
    unit: str
    description: str
    labels: Labels
    file: str
    line: int


class Collector:
    """Collects problems so a loader reports all of them at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, message: str, node: Located | None = None, key: str | None = None,
            where: str | None = None) -> None:
        file = getattr(node, "file", None) or None
        line = None
        if isinstance(node, Located):
            line = node.line_of(key) if key else node.line
        self.problems.append(Problem(message, file, line, where))


def check_name(name: Any, node: Located, what: str, out: Collector) -> str | None:
    if not isinstance(name, str) or not name:
        out.add(f"{what} has no name", node, "name")
        return None
    if not NAME_RE.match(name):
        # A name with a newline or control character is shown escaped, on one line.
        shown = name if name.isprintable() else repr(name)[1:-1]
        out.add(f"{what} name '{shown}' must be lower-case letters, digits and '_', "
                "starting with a letter", node, "name")
        return None
    if name in RESERVED:
        out.add(f"{what} name '{name}' is a reserved word", node, "name")
        return None
    return name


# PostgreSQL cuts names at 63 bytes (NAMEDATALEN - 1), so two long columns could
# become one: https://www.postgresql.org/docs/current/sql-syntax-lexical.html
MAX_IDENTIFIER_BYTES = 63


def check_id(node: Located, what: str, out: Collector, *, longest: str = "{id}"
             ) -> str | None:
    """``check_name`` for the ``id`` of segments, needs, ratings, products and services,
    with problems pointing at the id's line. ``longest`` is the longest column name the
    compiler makes from the id; it must fit PostgreSQL's identifier limit."""
    alias = Located(node)
    alias.file, alias.line = node.file, node.line
    alias.key_lines = {**node.key_lines, "name": node.line_of("id")}
    eid = check_name(node.get("id"), alias, what, out)
    if eid is not None:
        column = longest.format(id=eid)
        if len(column.encode()) > MAX_IDENTIFIER_BYTES:
            room = MAX_IDENTIFIER_BYTES - len(longest.format(id="").encode())
            out.add(f"{what} id '{eid}' is too long: the column '{column}' made from it "
                    f"passes PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte limit for names; use at "
                    f"most {room} characters", alias, "name")
            return None
    return eid


def read_text(node: Located, key: str, what: str, out: Collector) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value.strip():
        out.add(f"{what} needs a non-empty '{key}'", node, key)
        return ""
    return value.strip()


def read_labels(node: Located, what: str, out: Collector) -> Labels:
    raw = node.get("labels")
    if not isinstance(raw, dict):
        out.add(f"{what} needs 'labels' with {', '.join(LANGUAGES)}", node, "labels")
        return Labels("", "", "")
    missing = [lang for lang in LANGUAGES if not str(raw.get(lang) or "").strip()]
    if missing:
        out.add(f"{what} has no label in {', '.join(missing)}", node, "labels")
    unknown = sorted(set(raw) - set(LANGUAGES))
    if unknown:
        out.add(f"{what} has labels in unknown languages {', '.join(map(str, unknown))}",
                node, "labels")
    return Labels(*(str(raw.get(lang) or "").strip() for lang in LANGUAGES))


def read_type(node: Located, what: str, out: Collector) -> T | None:
    raw = node.get("type")
    allowed = [t.value for t in T if t != T.NULL]
    if raw not in allowed:
        out.add(f"{what} needs 'type', one of {', '.join(allowed)} (got {raw!r})", node, "type")
        return None
    return T(raw)


def coerce_value(value: Any, typ: T) -> Any:
    """A YAML scalar as a value of ``typ``; raises ValueError when it is not one."""
    import datetime as dt

    if typ == T.BOOLEAN and isinstance(value, bool):
        return value
    if typ == T.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10 ** MAX_INTEGER_DIGITS:
            raise ValueError(f"{value!r} is out of range (at most {MAX_INTEGER_DIGITS} digits)")
        return value
    if typ in (T.DECIMAL, T.NUMBER) and isinstance(value, int | float | str) \
            and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            # NaN, sNaN, Infinity, YAML's .nan/.inf: no engine agrees on them, and as
            # text they would reach SQL as bare names (issue 16).
            raise ValueError(f"{value!r} is not a finite number")
        if abs(number) >= 10 ** MAX_INTEGER_DIGITS:
            raise ValueError(f"{value!r} is out of range (at most {MAX_INTEGER_DIGITS} digits "
                             "before the point)")
        return float(number) if typ == T.NUMBER else number
    if typ == T.TEXT and isinstance(value, str):
        return value
    if typ == T.DATE and isinstance(value, dt.date):
        return value
    raise ValueError(f"{value!r} is not {typ}")


def read_parameters(doc: Located, out: Collector) -> dict[str, Parameter]:
    raw = doc.get("parameters") or {}
    if not isinstance(raw, dict):
        out.add("'parameters' must be a mapping of name -> definition", doc, "parameters")
        return {}
    params: dict[str, Parameter] = {}
    for name, node in raw.items():
        what = f"parameter {name}"
        if not isinstance(node, Located):
            out.add(f"{what} must be a mapping with value, type, unit, description, labels",
                    raw if isinstance(raw, Located) else doc, str(name))
            continue
        if check_name(name, node, "parameter", out) is None:
            continue
        typ = read_type(node, what, out)
        value = None
        if typ is not None:
            try:
                value = coerce_value(node.get("value"), typ)
            except ValueError as e:
                out.add(f"{what}: value {e}", node, "value")
        params[name] = Parameter(
            name=name, type=typ or T.NULL, value=value, unit=str(node.get("unit") or ""),
            description=read_text(node, "description", what, out),
            labels=read_labels(node, what, out), file=node.file, line=node.line)
    return params
