"""Migration matrices: where the customers of one snapshot are at a later one.

For two as-of dates and a text column of ``profiles`` (segment, phase, need, a
grade, ...), every customer in either snapshot lands in one cell: the row is the
value at ``date_from``, the column the value at ``date_to``. Customers missing
from a snapshot are in the ``(absent)`` row (new since ``date_from``) or column
(gone by ``date_to``); a customer present with no value (e.g. ``phase`` in a
snapshot stored before the phase existed) is ``(none)``.

Rows and columns share one set of labels, in the same order, so the diagonal is
the customers who stayed put. Each cell holds the number of customers and the
sum of their ``balance_total`` (at ``date_to``; at ``date_from`` for customers
gone by then).

One query, plain SQL (a full outer join and GROUP BY): the same on DuckDB,
PostgreSQL and Spark. Writers produce CSV and XLSX (through ``platform/exports.py``,
like every export), a heat-map PNG (matplotlib) and a self-contained HTML page, each
written whole and private.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from clientlens.engines.base import Engine
from clientlens.engines.query import col, fill, lit, parse
from clientlens.model.errors import ClientlensError, NotFoundError, did_you_mean
from clientlens.platform import exports, files

PROFILES = "profiles"
ABSENT = "(absent)"
NONE = "(none)"
TOTAL = "(total)"
MEASURES = ("customers", "balance")
BALANCE = "balance_total"
# The relationship lifecycle, in the order a customer goes through it.
PHASES = ("recruitment", "welcome", "getting_to_know", "customer_management",
          "intensive_care", "potential_divorce", "divorce", "win_back")
# Text columns that identify rather than group customers.
_NOT_GROUPS = ("customer_id",)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class MigrationMatrix:
    """Customers (and balances) by value at ``date_from`` (rows) and ``date_to`` (columns).

    ``rows`` and ``columns`` are the same labels, ``(absent)`` last; ``counts[i][j]``
    and ``balances[i][j]`` belong to ``rows[i]`` and ``columns[j]``. ``balances`` is
    None when the profiles have no ``balance_total`` column.
    """

    by: str
    date_from: dt.date
    date_to: dt.date
    measure: str
    rows: list[str]
    columns: list[str]
    counts: list[list[int]]
    balances: list[list[Decimal]] | None

    @property
    def values(self) -> list[list[Any]]:
        """The cells of the chosen measure: counts, or balance sums."""
        if self.measure == "balance":
            assert self.balances is not None
            return self.balances
        return self.counts

    def row_totals(self, measure: str | None = None) -> list[Any]:
        cells = self._cells(measure)
        return [sum(row, _zero(cells)) for row in cells]

    def column_totals(self, measure: str | None = None) -> list[Any]:
        cells = self._cells(measure)
        return [sum((row[j] for row in cells), _zero(cells)) for j in range(len(self.columns))]

    def total(self, measure: str | None = None) -> Any:
        return sum(self.row_totals(measure), _zero(self._cells(measure)))

    @property
    def customers_from(self) -> int:
        """Customers in the ``date_from`` snapshot (every row but ``(absent)``)."""
        return sum(self.row_totals("customers")[:-1])

    @property
    def customers_to(self) -> int:
        """Customers in the ``date_to`` snapshot (every column but ``(absent)``)."""
        return sum(self.column_totals("customers")[:-1])

    def stayed(self, measure: str | None = None) -> Any:
        """The diagonal without ``(absent)``: customers whose value did not change."""
        cells = self._cells(measure)
        return sum((cells[i][i] for i in range(len(self.rows) - 1)), _zero(cells))

    def stayed_share(self, measure: str | None = None) -> float | None:
        """Of the customers (or balances) of the ``date_from`` snapshot, the share that
        stayed put; customers gone by ``date_to`` count as moved. None when empty."""
        cells = self._cells(measure)
        base = sum((sum(row, _zero(cells)) for row in cells[:-1]), _zero(cells))
        return float(self.stayed(measure)) / float(base) if base else None

    def _cells(self, measure: str | None) -> list[list[Any]]:
        measure = measure or self.measure
        if measure == "balance":
            if self.balances is None:
                raise ClientlensError("the profiles have no balance_total column")
            return self.balances
        return self.counts


def _zero(cells: list[list[Any]]) -> Any:
    return Decimal(0) if cells and cells[0] and isinstance(cells[0][0], Decimal) else 0


def snapshot_dates(engine: Engine) -> list[dt.date]:
    """Every as-of date with stored profiles, oldest first."""
    if engine.table_columns(PROFILES) is None:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    rows = engine.fetch_all(parse("select distinct as_of from profiles order by as_of"))
    return [_as_date(r[0]) for r in rows]


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def nearest_dates(dates: Sequence[dt.date], day: dt.date, n: int = 2) -> list[dt.date]:
    """Up to ``n`` snapshot dates on each side of ``day``, oldest first."""
    before = [d for d in dates if d < day][-n:]
    after = [d for d in dates if d > day][:n]
    return before + after


def require_snapshot(dates: Sequence[dt.date], day: dt.date, option: str = "") -> None:
    """A clear error naming the nearest dates when ``day`` has no snapshot."""
    if day in dates:
        return
    what = f"{option} {day}" if option else str(day)
    if not dates:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    near = ", ".join(map(str, nearest_dates(dates, day)))
    raise NotFoundError(f"no profiles for {what}; nearest dates run: {near} ({len(dates)} "
                        f"date{'s' if len(dates) != 1 else ''} from {dates[0]} to {dates[-1]})")


def check_group_column(engine: Engine, by: str) -> None:
    """``by`` must be a text column of the profiles (segment, phase, need, a grade...)."""
    columns = engine.table_columns(PROFILES)
    if columns is None:
        raise NotFoundError("no profiles yet: run `clientlens run` first")
    texts = [c for c in ("segment", "phase", "need") if c in columns] + \
        [c for c in columns if c.endswith("_grade")]
    if by not in columns or not _IDENTIFIER.match(by):
        hint = did_you_mean(by, columns)
        raise ClientlensError(f"the profiles have no column '{by}'.{hint} Migrate by a text "
                              f"column such as {', '.join(texts) or 'segment'}")
    if by in _NOT_GROUPS:
        raise ClientlensError(f"'{by}' identifies customers; migrate by a text column such "
                              f"as {', '.join(texts) or 'segment'}")
    sample = engine.fetch_arrow(exp.select(col(by)).from_(PROFILES).where(
        col(by).is_(exp.null()).not_()).limit(1))
    kind = sample.schema.field(0).type
    is_text = (pa.types.is_string(kind) or pa.types.is_large_string(kind)
               or pa.types.is_null(kind) or str(kind) == "string_view")
    if not is_text:
        raise ClientlensError(f"column '{by}' holds {kind} values, not text: migrate by a "
                              f"text column such as {', '.join(texts) or 'segment'}")


def migration_matrix(engine: Engine, date_from: dt.date, date_to: dt.date,
                     by: str = "segment", *, measure: str = "customers",
                     order: Sequence[str] | None = None) -> MigrationMatrix:
    """Customers and balances moving between the values of ``by`` from one snapshot to
    a later one. ``order`` lists values in the order to show them (e.g. the rulebook's
    segments); others follow alphabetically, then ``(none)`` and ``(absent)``."""
    if measure not in MEASURES:
        raise ClientlensError(f"unknown measure '{measure}': use customers or balance")
    dates = snapshot_dates(engine)
    require_snapshot(dates, date_from, "--from")
    require_snapshot(dates, date_to, "--to")
    if date_from >= date_to:
        raise ClientlensError(f"--from {date_from} must be earlier than --to {date_to}")
    check_group_column(engine, by)
    has_balance = BALANCE in (engine.table_columns(PROFILES) or [])
    if measure == "balance" and not has_balance:
        raise ClientlensError("--measure balance needs the column balance_total in the "
                              "stored profiles")
    # ``$by`` and ``$bal`` are the column nodes filled in; the dates are parameters.
    query = fill(parse("""
        select a.v, b.v, case when a.customer_id is null then 1 else 0 end as is_new,
            case when b.customer_id is null then 1 else 0 end as is_gone,
            count(*) as customers,
            sum(case when b.customer_id is null then a.bal else b.bal end) as balance
        from (select customer_id, $by as v, $bal as bal from profiles
              where as_of = $date_from) a
        full outer join (select customer_id, $by as v, $bal as bal from profiles
                         where as_of = $date_to) b on a.customer_id = b.customer_id
        group by a.v, b.v, case when a.customer_id is null then 1 else 0 end,
            case when b.customer_id is null then 1 else 0 end"""),
        by=col(by), bal=col(BALANCE) if has_balance else lit(0))
    rows = engine.fetch_all(query, {"date_from": date_from, "date_to": date_to})

    def label(value: Any, absent: int) -> str:
        return ABSENT if absent else NONE if value is None else str(value)

    cells: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for v_from, v_to, is_new, is_gone, count, balance in rows:
        key = (label(v_from, is_new), label(v_to, is_gone))
        n, b = cells.get(key, (0, Decimal(0)))
        cells[key] = (n + int(count), b + _decimal(balance))
    labels = order_labels({k for pair in cells for k in pair}, order, by)
    counts = [[cells.get((r, c), (0, 0))[0] for c in labels] for r in labels]
    balances = [[cells.get((r, c), (0, Decimal(0)))[1] for c in labels] for r in labels] \
        if has_balance else None
    return MigrationMatrix(by=by, date_from=date_from, date_to=date_to, measure=measure,
                           rows=list(labels), columns=list(labels), counts=counts,
                           balances=balances)


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def order_labels(values: set[str] | Sequence[str], order: Sequence[str] | None = None,
                 by: str = "") -> list[str]:
    """Values in ``order`` (default: the lifecycle for ``phase``), then the rest
    alphabetically, then ``(none)``; ``(absent)`` always last."""
    if order is None and by == "phase":
        order = PHASES
    rank = {v: i for i, v in enumerate(order or ())}
    real = sorted((v for v in set(values) if v not in (ABSENT, NONE)),
                  key=lambda v: (rank.get(v, len(rank)), v))
    return real + ([NONE] if NONE in values else []) + [ABSENT]


def label_order(defs: Any, by: str) -> list[str] | None:
    """The rulebook's order of segments and needs; phases in lifecycle order (the
    rulebook lists them in the order its rules are tried), then any others it has.
    None for other columns."""
    rules = {"segment": "segments", "need": "all_needs", "phase": "all_phases"}.get(by)
    found = [r.id for r in getattr(defs, rules, None) or ()] if rules else []
    if by == "phase":
        return [*PHASES, *(p for p in found if p not in PHASES)]
    return found or None


# -- writing ----------------------------------------------------------------------


WRITERS = (".csv", ".xlsx", ".png", ".html", ".htm")


def write_matrix(matrix: MigrationMatrix, path: Path, dialect: str | None = None, *,
                 render_html: Callable[[MigrationMatrix], str] | None = None) -> Path:
    """Write the matrix as .csv, .xlsx, .png or .html (by the file's extension). The
    page is rendered by the faces from templates: they pass ``render_html``
    (``clientlens.faces.rendering.write_matrix`` does)."""
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise ClientlensError(f"cannot write '{path.name}': use a .csv, .xlsx, .png or .html "
                              "file")
    if suffix in (".csv", ".xlsx"):
        return write_table(matrix, path, dialect)
    if suffix == ".png":
        return write_png(matrix, path)
    if render_html is None:
        raise ClientlensError(f"cannot write '{path.name}' here: an HTML page is rendered "
                              "by clientlens.faces.rendering.write_matrix")
    return files.write_text(path, render_html(matrix))


def _corner(m: MigrationMatrix) -> str:
    return f"{m.by} on {m.date_from} \\ on {m.date_to}"


def write_table(matrix: MigrationMatrix, path: Path, dialect: str | None = None) -> Path:
    """The matrix of the chosen measure with a total column and a total row, as CSV or
    XLSX; labels are data (segment, phase, grade values) and are neutralised like
    every exported text."""
    rows = [[label, *row, total] for label, row, total in
            zip(matrix.rows, matrix.values, matrix.row_totals(), strict=True)]
    rows.append([TOTAL, *matrix.column_totals(), matrix.total()])
    return exports.write_rows(path, [_corner(matrix), *matrix.columns, TOTAL], rows,
                              dialect=dialect, allowed=("csv", "xlsx"),
                              sheet=f"{matrix.by} {matrix.date_from} to {matrix.date_to}")


def write_csv(matrix: MigrationMatrix, path: Path, dialect: str | None = None) -> Path:
    """The matrix as CSV (see :func:`write_table`)."""
    exports.format_of(path, ("csv",))
    return write_table(matrix, path, dialect)


def _compact(value: Any) -> str:
    x = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.1f}{suffix}"
    return f"{x:,.0f}"


def write_png(matrix: MigrationMatrix, path: Path) -> Path:
    """A heat map of the chosen measure, each cell annotated with its customers."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ClientlensError("a .png needs matplotlib: pip install matplotlib") from None
    # Figure and the Agg canvas directly: no pyplot, no global backend switch.
    n, m = len(matrix.rows), len(matrix.columns)
    values = [[float(v) for v in row] for row in matrix.values]
    top = max((v for row in values for v in row), default=0.0) or 1.0
    fig = Figure(figsize=(max(5.0, 1.0 * m + 2.5), max(4.0, 0.6 * n + 2.0)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=top, aspect="auto")
    fig.colorbar(image, ax=ax, label="balance_total" if matrix.measure == "balance"
                 else "customers")

    def text(label: str) -> str:  # '$' would start mathtext
        return label.replace("$", r"\$")

    ax.set_xticks(range(m), [text(c) for c in matrix.columns], rotation=40, ha="right")
    ax.set_yticks(range(n), [text(r) for r in matrix.rows])
    ax.set_xlabel(text(f"{matrix.by} on {matrix.date_to}"))
    ax.set_ylabel(text(f"{matrix.by} on {matrix.date_from}"))
    share = matrix.stayed_share("customers")
    ax.set_title(text(f"{matrix.by}: {matrix.date_from} → {matrix.date_to}"
                      + (f" ({share:.1%} of customers stayed put)" if share is not None
                         else "")))
    for i in range(n):
        for j in range(m):
            count = matrix.counts[i][j]
            label = f"{count:,}"
            if matrix.measure == "balance":
                label += f"\n{_compact(matrix.values[i][j])}"
            ax.text(j, i, label, ha="center", va="center", fontsize=8,
                    color="white" if values[i][j] > 0.55 * top else "black")
    fig.tight_layout()
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _colour(value: float, top: float) -> tuple[str, str]:
    """Background and text colour of a heat-map cell: white to dark blue."""
    t = max(0.0, min(1.0, value / top)) if top else 0.0
    low, high = (255, 255, 255), (8, 48, 107)
    rgb = tuple(round(a + (b - a) * t) for a, b in zip(low, high, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#ffffff" if t > 0.55 else "#111111"


def _number(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, Decimal) else f"{value:,}"


def heat_map_context(matrix: MigrationMatrix) -> dict[str, Any]:
    """What the heat-map page shows, as data (the faces render it: templates
    ``migration_matrix.html`` and ``_matrix_table.html``): the title, the matrix, each
    row's cells with their value, customers, share of the largest cell (for the
    colour) and whether it is the diagonal, and the totals, numbers as shown. Only
    data the templates need, so any Jinja environment can include the table."""
    values = matrix.values
    top = max((float(v) for row in values for v in row), default=0.0)
    share = matrix.stayed_share("customers")
    rows = []
    for i, (label, row, total) in enumerate(zip(matrix.rows, values, matrix.row_totals(),
                                                strict=True)):
        cells = [{"value": value, "text": _number(value), "customers": matrix.counts[i][j],
                  "customers_text": f"{matrix.counts[i][j]:,}", "to": matrix.columns[j],
                  "stay": i == j and label != ABSENT,
                  "colours": _colour(float(value), top)}
                 for j, value in enumerate(row)]
        rows.append({"label": label, "cells": cells, "total": _number(total)})
    return {"matrix": matrix, "rows": rows, "top": top,
            "title": f"Migration by {matrix.by}: {matrix.date_from} → {matrix.date_to}",
            "unit": "balance_total" if matrix.measure == "balance" else "customers",
            "corner": _corner(matrix),
            "column_totals": [_number(v) for v in matrix.column_totals()],
            "total": _number(matrix.total()),
            "customers_from": f"{matrix.customers_from:,}",
            "customers_to": f"{matrix.customers_to:,}",
            "share_text": f"{share:.1%}" if share is not None else None,
            "absent_label": ABSENT, "none_label": NONE, "total_label": TOTAL}
