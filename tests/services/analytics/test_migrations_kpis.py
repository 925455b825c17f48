"""Migration matrices and relationship KPIs over hand-made profile snapshots.

Every expected number is computed here independently: by a plain-Python pass over
the same rows (matrices), or by hand from the scripted customer stories (KPIs).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.faces.lifecycle_cli import kpis as kpis_command
from clientlens.faces.lifecycle_cli import migrations as migrations_command
from clientlens.faces.rendering import render_matrix as render_html
from clientlens.faces.rendering import write_matrix
from clientlens.faces.rendering import write_matrix_html as write_html
from clientlens.model.errors import ClientlensError
from clientlens.services.analytics.kpis import ROW_FIELDS, kpis
from clientlens.services.analytics.matrices import (
    ABSENT,
    NONE,
    label_order,
    migration_matrix,
    write_csv,
    write_png,
)
from clientlens.services.workspace.folder import Workspace, init_workspace

D1, D2, D3, D4 = (dt.date(2026, 7, 31), dt.date(2026, 8, 31), dt.date(2026, 9, 30),
                  dt.date(2026, 10, 31))
DATES = (D1, D2, D3, D4)
ODD = "<b>&"  # a segment label that must be escaped in HTML

# Per customer, per date: (segment, phase, open_products, loyalty_grade, balance) or
# None when the customer is not in that snapshot.
STORIES: dict[str, tuple] = {
    # stays put all along
    "C1": (("loyal", "customer_management", 2, "A", "100.00"),
           ("loyal", "customer_management", 2, "A", "110.00"),
           ("loyal", "customer_management", 2, "A", "120.00"),
           ("loyal", "customer_management", 2, "A", "130.50")),
    # moves up: regular -> status; welcome -> getting_to_know -> customer_management
    "C2": (("regular", "welcome", 1, "C", "10.00"),
           ("regular", "welcome", 1, "B", "20.00"),
           ("status", "getting_to_know", 1, "B", "3000.00"),
           ("status", "customer_management", 1, "A", "3500.00")),
    # closes everything at D2 and then leaves the profiles
    "C3": (("regular", "potential_divorce", 1, "D", "5.00"),
           ("regular", "divorce", 0, "E", "0.00"),
           None, None),
    # a prospect at D2 who opens a first product at D3
    "C4": (None,
           ("new", "recruitment", 0, None, "0.00"),
           ("new", "welcome", 1, "C", "50.00"),
           ("regular", "welcome", 1, "B", "70.00")),
    # gone after D1
    "C5": (("status", "customer_management", 3, "A", "9000.00"), None, None, None),
    # a service failure put right; a label that needs escaping
    "C6": ((ODD, "intensive_care", 1, "C", "40.00"),
           (ODD, "intensive_care", 1, "C", "41.00"),
           (ODD, "customer_management", 1, "B", "42.00"),
           (ODD, "customer_management", 1, "C", "43.00")),
    # no phase in the oldest snapshot; missing at D3
    "C7": (("regular", None, 1, "B", "7.00"),
           ("regular", "customer_management", 1, "B", "8.00"),
           None,
           ("regular", "customer_management", 1, "B", "9.00")),
    # had products, held none at D1, came back at D2
    "C8": (("regular", "divorce", 0, "E", "0.00"),
           ("regular", "win_back", 2, "D", "500.00"),
           ("regular", "win_back", 2, "C", "600.00"),
           ("regular", "win_back", 2, "C", "650.00")),
    # welcome, then customer management from D2 on
    "C9": (("regular", "welcome", 1, "B", "1.00"),
           ("regular", "customer_management", 1, "B", "2.00"),
           ("regular", "customer_management", 1, "B", "3.00"),
           ("regular", "customer_management", 1, "B", "4.00")),
}

COLUMNS = ("as_of", "customer_id", "segment", "phase", "open_products", "loyalty_grade",
           "balance_total", "current_grade")


def story_rows(stories: dict[str, tuple] = STORIES, dates: tuple = DATES) -> list[dict]:
    rows = []
    for cid, snaps in stories.items():
        for day, snap in zip(dates, snaps, strict=True):
            if snap is None:
                continue
            segment, phase, open_products, loyalty, balance = snap
            rows.append({"as_of": day, "customer_id": cid, "segment": segment,
                         "phase": phase, "open_products": open_products,
                         "loyalty_grade": loyalty, "balance_total": Decimal(balance),
                         "current_grade": "A" if open_products else "E"})
    return rows


def create_profiles(engine, rows: list[dict]) -> None:
    engine.execute("""create or replace table profiles (as_of date, customer_id varchar,
        segment varchar, phase varchar, open_products integer, loyalty_grade varchar,
        balance_total decimal(18, 2), current_grade varchar)""")
    if rows:
        marks = ", ".join("?" for _ in COLUMNS)
        engine.con.executemany(f"insert into profiles values ({marks})",
                               [[r[c] for c in COLUMNS] for r in rows])


@pytest.fixture
def engine():
    e = DuckDBEngine(":memory:")
    create_profiles(e, story_rows())
    yield e
    e.close()


# -- the reference: a plain-Python migration matrix ---------------------------------


def reference_matrix(rows: list[dict], d1: dt.date, d2: dt.date, by: str
                     ) -> tuple[Counter, dict]:
    """(from label, to label) -> customers, and -> balance sum."""
    before = {r["customer_id"]: r for r in rows if r["as_of"] == d1}
    after = {r["customer_id"]: r for r in rows if r["as_of"] == d2}
    counts: Counter = Counter()
    balances: dict = defaultdict(Decimal)
    for cid in set(before) | set(after):
        a, b = before.get(cid), after.get(cid)
        row = ABSENT if a is None else (a[by] if a[by] is not None else NONE)
        col = ABSENT if b is None else (b[by] if b[by] is not None else NONE)
        counts[(row, col)] += 1
        balances[(row, col)] += (b if b is not None else a)["balance_total"] or Decimal(0)
    return counts, balances


def as_cells(m) -> tuple[Counter, dict]:
    counts = Counter({(r, c): m.counts[i][j] for i, r in enumerate(m.rows)
                      for j, c in enumerate(m.columns) if m.counts[i][j]})
    balances = {(r, c): m.balances[i][j] for i, r in enumerate(m.rows)
                for j, c in enumerate(m.columns) if m.counts[i][j]}
    return counts, balances


@pytest.mark.parametrize(("d1", "d2", "by"), [(D1, D2, "segment"), (D1, D4, "segment"),
                                               (D2, D3, "phase"), (D1, D3, "phase"),
                                               (D3, D4, "loyalty_grade"),
                                               (D1, D4, "current_grade")])
def test_matrix_equals_plain_python(engine, d1, d2, by) -> None:
    m = migration_matrix(engine, d1, d2, by)
    counts, balances = reference_matrix(story_rows(), d1, d2, by)
    assert as_cells(m) == (counts, balances)
    assert m.rows == m.columns and m.rows[-1] == ABSENT
    assert m.total() == sum(counts.values())
    assert m.total("balance") == sum(balances.values())


def test_matrix_absent_rows_columns_totals_and_stayed(engine) -> None:
    m = migration_matrix(engine, D1, D3, "segment")
    i = {label: n for n, label in enumerate(m.rows)}
    assert m.rows == [ODD, "loyal", "new", "regular", "status", ABSENT]  # alphabetical
    # new since D1: C4 (new); gone by D3: C3, C5, C7
    assert m.counts[i[ABSENT]][i["new"]] == 1
    assert m.row_totals()[i[ABSENT]] == 1
    assert m.counts[i["regular"]][i[ABSENT]] == 2  # C3, C7
    assert m.counts[i["status"]][i[ABSENT]] == 1  # C5
    assert m.column_totals()[i[ABSENT]] == 3
    assert m.counts[i[ABSENT]][i[ABSENT]] == 0
    assert m.counts[i["regular"]][i["status"]] == 1  # C2 moved up
    assert m.customers_from == 8 and m.customers_to == 6 and m.total() == 9
    # stayed put: C1, C6, C8, C9 of the 8 customers at D1
    assert m.stayed() == 4 and m.stayed_share() == pytest.approx(4 / 8)
    # balances: at D3, or at D1 for those gone by D3 (C3 5.00, C5 9000.00, C7 7.00)
    assert m.balances[i["status"]][i[ABSENT]] == Decimal("9000.00")
    assert m.balances[i["regular"]][i[ABSENT]] == Decimal("12.00")
    assert m.balances[i["regular"]][i["status"]] == Decimal("3000.00")
    assert m.total("balance") == Decimal("120") + 3000 + 50 + 9000 + 42 + 600 + 3 + 5 + 7
    bal = migration_matrix(engine, D1, D3, "segment", measure="balance")
    assert bal.values == bal.balances and bal.total() == m.total("balance")
    # of the balances of the customers at D1 (at D3; at D1 for those gone), C1 C6 C8 C9
    assert bal.stayed_share() == pytest.approx((120 + 42 + 600 + 3) / (
        120 + 3000 + 9000 + 42 + 600 + 3 + 5 + 7))


def test_matrix_phase_order_and_missing_values(engine) -> None:
    m = migration_matrix(engine, D1, D2, "phase")
    # the lifecycle order, then (none) for C7's phase-less D1 row, then (absent)
    assert m.rows == ["recruitment", "welcome", "customer_management", "intensive_care",
                      "potential_divorce", "divorce", "win_back", NONE, ABSENT]
    i = {label: n for n, label in enumerate(m.rows)}
    assert m.counts[i[NONE]][i["customer_management"]] == 1  # C7
    assert m.counts[i["divorce"]][i["win_back"]] == 1  # C8
    assert m.counts[i[ABSENT]][i["recruitment"]] == 1  # C4


def test_matrix_order_from_rulebook(engine) -> None:
    class Rule:
        def __init__(self, id: str) -> None:
            self.id = id

    class Defs:
        segments = tuple(map(Rule, ["loyal", "new", "status", "investor", "regular"]))

        all_phases = tuple(map(Rule, ["recruitment", "divorce", "win_back", "dormant",
                                      "customer_management"]))

    order = label_order(Defs(), "segment")
    assert label_order(Defs(), "current_grade") is None
    assert label_order(Defs(), "phase")[-2:] == ["win_back", "dormant"]
    m = migration_matrix(engine, D1, D2, "segment", order=order)
    assert m.rows == ["loyal", "new", "status", "regular", ODD, ABSENT]


def test_unknown_column_and_missing_dates_are_refused(engine) -> None:
    with pytest.raises(ClientlensError, match="no column 'segmnt'. Did you mean 'segment'"):
        migration_matrix(engine, D1, D2, "segmnt")
    with pytest.raises(ClientlensError, match="not text"):
        migration_matrix(engine, D1, D2, "open_products")
    with pytest.raises(ClientlensError, match="identifies customers"):
        migration_matrix(engine, D1, D2, "customer_id")
    with pytest.raises(ClientlensError, match="no column 'segment; drop'"):
        migration_matrix(engine, D1, D2, "segment; drop")
    with pytest.raises(ClientlensError) as e:
        migration_matrix(engine, D1, dt.date(2026, 9, 15), "segment")
    assert str(e.value) == ("no profiles for --to 2026-09-15; nearest dates run: 2026-07-31, "
                            "2026-08-31, 2026-09-30, 2026-10-31 (4 dates from 2026-07-31 to "
                            "2026-10-31)")
    with pytest.raises(ClientlensError, match=r"--from 2026-01-01; nearest dates run: "
                                              r"2026-07-31, 2026-08-31 \(4 dates"):
        migration_matrix(engine, dt.date(2026, 1, 1), D2)
    with pytest.raises(ClientlensError, match="must be earlier"):
        migration_matrix(engine, D3, D2)
    with pytest.raises(ClientlensError, match="unknown measure 'money'"):
        migration_matrix(engine, D1, D2, measure="money")
    empty = DuckDBEngine(":memory:")
    with pytest.raises(ClientlensError, match="no profiles yet"):
        migration_matrix(empty, D1, D2)
    empty.close()


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[tuple[str, str]] = []  # (tag, text) of th and td
        self._open: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        if tag in ("th", "td"):
            self._open, self._text = tag, ""

    def handle_endtag(self, tag) -> None:
        if tag == self._open:
            self.cells.append((tag, self._text.strip()))
            self._open = None

    def handle_data(self, data) -> None:
        if self._open:
            self._text += data


def test_csv_png_html_are_written(engine, tmp_path: Path) -> None:
    m = migration_matrix(engine, D1, D3, "segment")
    # CSV: the matrix, a total column and a total row
    path = write_csv(m, tmp_path / "m.csv")
    table = list(csv.reader(path.open(encoding="utf-8")))
    assert table[0] == ["segment on 2026-07-31 \\ on 2026-09-30", *m.columns, "(total)"]
    assert [r[0] for r in table[1:]] == [*m.rows, "(total)"]
    assert [int(x) for x in table[-1][1:]] == [*m.column_totals(), 9]
    by_row = {r[0]: [int(x) for x in r[1:]] for r in table[1:-1]}
    assert by_row[ODD] == [*m.counts[m.rows.index(ODD)], 1]
    bal = migration_matrix(engine, D1, D3, "segment", measure="balance")
    money = list(csv.reader(write_csv(bal, tmp_path / "b.csv").open(encoding="utf-8")))
    assert Decimal(money[-1][-1]) == bal.total()
    # PNG: a real image
    png = write_png(m, tmp_path / "m.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert write_png(bal, tmp_path / "b.png").stat().st_size > 1000
    # HTML: parses, labels escaped, totals, nothing external
    page = write_html(m, tmp_path / "m.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;&amp;" in page and "<b>&" not in page
    assert "<script" not in page and "src=" not in page and "href=" not in page
    parser = _Cells()
    parser.feed(page)
    assert "b" not in parser.tags  # the label did not become markup
    headers = [text for tag, text in parser.cells if tag == "th"]
    assert ODD in headers and headers.count("(total)") == 2
    cells = [text for _, text in parser.cells]
    total_row = cells[len(cells) - 1 - cells[::-1].index("(total)"):]
    assert total_row[1:] == [f"{v:,}" for v in m.column_totals()] + ["9"]
    assert 'class="stay"' in page and "background:#" in page
    assert "50.0% of the customers stayed put" in page
    assert "(customers below)" in render_html(bal)
    # by extension; other extensions refused; no partial files left
    assert write_matrix(m, tmp_path / "x.HTML").exists()
    with pytest.raises(ClientlensError, match="use a .csv, .xlsx, .png or .html file"):
        write_matrix(m, tmp_path / "m.ods")
    assert not list(tmp_path.glob("*.partial"))


# -- KPIs -------------------------------------------------------------------------


def test_kpis_per_date_and_loyal_share(engine) -> None:
    k = kpis(engine)
    assert k.dates == list(DATES)
    assert [(d.customers, d.loyal) for d in k.per_date] == [(8, 4), (8, 4), (6, 4), (7, 5)]
    assert k.per_date[2].loyal_share == pytest.approx(4 / 6)
    assert k.notes == []


def test_kpis_retention_and_churn(engine) -> None:
    k = kpis(engine)
    overall = [(r.date_from, r.date_to, r.base, r.retained, r.churned) for r in
               k.retention_for()]
    # D1 base: C1 C2 C3 C5 C6 C7 C9 (C8 holds nothing); C3 closed all, C5 left
    # D2 base: C1 C2 C6 C7 C8 C9; C7 missing at D3
    # D3 base: C1 C2 C4 C6 C8 C9; all keep products
    assert overall == [(D1, D2, 7, 5, 2), (D2, D3, 6, 5, 1), (D3, D4, 6, 6, 0)]
    first = k.retention_for()[0]
    assert first.retention_rate == pytest.approx(5 / 7)
    assert first.churn_rate == pytest.approx(2 / 7)

    def groups(by: str, d1: dt.date) -> dict:
        return {r.group: (r.base, r.retained) for r in k.retention
                if r.by == by and r.date_from == d1}

    assert groups("segment", D1) == {"loyal": (1, 1), "regular": (4, 3), "status": (1, 0),
                                     ODD: (1, 1)}
    assert groups("phase", D1) == {"customer_management": (2, 1), "welcome": (2, 2),
                                   "potential_divorce": (1, 0), "intensive_care": (1, 1),
                                   NONE: (1, 1)}
    assert groups("phase", D2) == {"welcome": (1, 1), "customer_management": (3, 2),
                                   "intensive_care": (1, 1), "win_back": (1, 1)}
    assert groups("segment", D3) == {"loyal": (1, 1), "new": (1, 1), "regular": (2, 2),
                                     "status": (1, 1), ODD: (1, 1)}
    # phase order follows the lifecycle
    assert [r.group for r in k.retention if r.by == "phase" and r.date_from == D1] == [
        "welcome", "customer_management", "intensive_care", "potential_divorce", NONE]


def test_kpis_time_in_phase_with_censored_runs(engine) -> None:
    k = kpis(engine)
    d = {p.phase: p for p in k.durations}
    # Days: D1->D2 31, D2->D3 30, D3->D4 31; D1->D3 61, D2->D4 61, D1->D4 92.
    # welcome: C2 D1..D2 then getting_to_know at D3 (61), C9 D1 then D2 (31); C4 D3..D4
    # still going (31 so far)
    w = d["welcome"]
    assert (w.completed, w.completed_mean_days, w.completed_median_days) == (2, 46.0, 46.0)
    assert (w.censored, w.censored_mean_days, w.censored_median_days) == (1, 31.0, 31.0)
    assert w.left_censored == 2
    # customer_management, all censored: C1 92 (to the last date), C2 0 (entered at D4),
    # C5 0 (gone at D2), C6 31, C7 0 (missing at D3) and 0 (back at D4), C9 61
    cm = d["customer_management"]
    assert (cm.completed, cm.completed_mean_days, cm.completed_median_days) == (0, None, None)
    assert cm.censored == 7
    assert cm.censored_mean_days == pytest.approx((92 + 0 + 0 + 31 + 0 + 0 + 61) / 7)
    assert cm.censored_median_days == 0.0
    assert cm.left_censored == 2  # C1 and C5; C7 had no phase at D1
    # divorce: C8 D1 -> win_back at D2 (31, completed); C3 D2 then missing (censored, 0)
    dv = d["divorce"]
    assert (dv.completed, dv.completed_mean_days, dv.censored, dv.censored_mean_days) == (
        1, 31.0, 1, 0.0)
    assert (d["recruitment"].completed, d["recruitment"].completed_mean_days) == (1, 30.0)
    assert (d["getting_to_know"].completed_mean_days, d["intensive_care"].completed_mean_days,
            d["potential_divorce"].completed_mean_days) == (31.0, 61.0, 31.0)
    assert (d["win_back"].completed, d["win_back"].censored,
            d["win_back"].censored_mean_days) == (0, 1, 61.0)
    assert [p.phase for p in k.durations] == [
        "recruitment", "welcome", "getting_to_know", "customer_management",
        "intensive_care", "potential_divorce", "divorce", "win_back"]


def test_kpis_date_range_and_rows(engine) -> None:
    k = kpis(engine, dt.date(2026, 8, 1), D3)
    assert k.dates == [D2, D3]
    assert [(r.base, r.retained) for r in k.retention_for()] == [(6, 5)]
    # inside the range the D2 welcome run of C2 started at D2 (left-censored), then
    # getting_to_know at D3: 30 days
    welcome = next(p for p in k.durations if p.phase == "welcome")
    assert (welcome.completed, welcome.completed_mean_days, welcome.left_censored) == (
        1, 30.0, 1)
    rows = k.to_rows()
    assert all(list(r) == list(ROW_FIELDS) for r in rows)
    json.dumps(rows)  # plain JSON types
    churn = [r for r in rows if r["kpi"] == "churn_rate" and r["by"] == "all"]
    assert churn == [{"kpi": "churn_rate", "date_from": "2026-08-31",
                      "date_to": "2026-09-30", "by": "all", "group": "all",
                      "value": pytest.approx(1 / 6), "count": 1, "base": 6}]
    assert {r["kpi"] for r in rows} == {
        "customers", "loyal_share", "retention_rate", "churn_rate",
        "phase_days_completed_mean", "phase_days_completed_median",
        "phase_days_censored_mean", "phase_days_censored_median"}
    with pytest.raises(ClientlensError, match=r"no profiles from 2027-01-01 to the end; "
                                              r"4 dates run, from 2026-07-31 to 2026-10-31"):
        kpis(engine, dt.date(2027, 1, 1))
    with pytest.raises(ClientlensError, match="is after"):
        kpis(engine, D3, D2)
    single = kpis(engine, D4, D4)
    assert single.retention == [] and single.per_date[0].customers == 7


def test_kpis_without_phase_or_loyalty_columns() -> None:
    e = DuckDBEngine(":memory:")
    e.execute("create table profiles (as_of date, customer_id varchar, segment varchar, "
              "open_products integer)")
    e.execute(f"insert into profiles values (date '{D1}', 'A', 'x', 1), "
              f"(date '{D2}', 'A', 'x', 0), (date '{D2}', 'B', 'y', 1)")
    k = kpis(e)
    assert k.durations == [] and k.per_date[0].loyal is None
    assert [(r.by, r.group, r.base, r.retained) for r in k.retention] == [
        ("all", "all", 1, 0), ("segment", "x", 1, 0)]
    assert any("phase" in n for n in k.notes) and any("loyalty_grade" in n for n in k.notes)
    assert "loyal_share" not in {r["kpi"] for r in k.to_rows()}
    e.close()


# -- properties over random snapshots -----------------------------------------------

LABELS = st.sampled_from(["a", "b", "c", ODD, None])
SNAPSHOT = st.one_of(st.none(), st.tuples(
    LABELS, st.sampled_from(["welcome", "customer_management", "divorce", None]),
    st.integers(0, 2), st.sampled_from(["A", "B", "C", None]),
    st.decimals(min_value=0, max_value=10_000, places=2).map(str)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories=st.dictionaries(st.sampled_from([f"K{i}" for i in range(8)]),
                               st.tuples(SNAPSHOT, SNAPSHOT, SNAPSHOT), min_size=1))
def test_matrix_properties(stories: dict) -> None:
    dates = (D1, D2, D3)
    rows = story_rows(stories, dates)
    at = {d: {r["customer_id"] for r in rows if r["as_of"] == d} for d in dates}
    assume(at[D1] and at[D3])
    e = DuckDBEngine(":memory:")
    try:
        create_profiles(e, rows)
        m = migration_matrix(e, D1, D3, "segment")
        k = kpis(e)
    finally:
        e.close()
    assert m.total() == len(at[D1] | at[D3])
    assert m.customers_from == len(at[D1]) and m.customers_to == len(at[D3])
    assert m.row_totals()[-1] == len(at[D3] - at[D1])
    assert m.column_totals()[-1] == len(at[D1] - at[D3])
    assert m.counts[-1][-1] == 0
    by_label = Counter(r["segment"] if r["segment"] is not None else NONE
                       for r in rows if r["as_of"] == D1)
    assert {label: n for label, n in zip(m.rows, m.row_totals(), strict=True)
            if label != ABSENT and n} == dict(by_label)
    assert as_cells(m) == reference_matrix(rows, D1, D3, "segment")
    share = m.stayed_share()
    assert share is not None and 0 <= share <= 1
    # KPIs: retention against a plain-Python pass
    present = {d: {r["customer_id"]: r for r in rows if r["as_of"] == d} for d in dates}
    days = [d for d in dates if present[d]]
    expected = []
    for t1, t2 in zip(days, days[1:], strict=False):
        base = {c for c, r in present[t1].items() if r["open_products"] > 0}
        kept = {c for c in base if c in present[t2] and present[t2][c]["open_products"] > 0}
        expected.append((t1, t2, len(base), len(kept)))
    assert [(r.date_from, r.date_to, r.base, r.retained) for r in k.retention_for()] == expected
    # every (customer, date) with a phase is in exactly one run
    runs = sum(p.completed + p.censored for p in k.durations)
    phased = sorted((r["customer_id"], days.index(r["as_of"]), r["phase"]) for r in rows
                    if r["phase"] is not None)
    starts = sum(1 for i, (c, j, p) in enumerate(phased)
                 if i == 0 or phased[i - 1] != (c, j - 1, p))
    assert runs == starts


# -- the commands -------------------------------------------------------------------


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    root = tmp_path / "bank"
    init_workspace(root)
    with Workspace(root).engine() as engine:
        create_profiles(engine, story_rows())
    return root


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(migrations_command)
    app.command()(kpis_command)
    return app


def run(*args: str):
    return CliRunner().invoke(cli(), list(args), env={"COLUMNS": "220"})


def test_migrations_command(bank: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # -o is a path as typed, relative to the current folder
    res = run("migrations", "-w", str(bank), "--from", str(D1), "--to", str(D3),
              "-o", "matrix.csv", "-o", str(tmp_path / "out" / "matrix.html"),
              "-o", str(tmp_path / "matrix.png"))
    assert res.exit_code == 0, res.output
    assert "segment: 2026-07-31 → 2026-09-30 (customers)" in res.stdout
    assert ODD in res.stdout and ABSENT in res.stdout
    # the rulebook's segment order: loyal, new, status, ..., regular
    assert res.stdout.index("│ loyal") < res.stdout.index("│ new") < \
        res.stdout.index("│ status") < res.stdout.index("│ regular")
    assert "4 of 8 customers kept their segment (50.0%); 1 new since 2026-07-31, 3 gone by " \
           "2026-09-30." in res.stdout
    assert (tmp_path / "matrix.csv").exists()  # a bare name goes to the current folder
    assert (tmp_path / "out" / "matrix.html").exists() and (tmp_path / "matrix.png").exists()
    # defaults: the latest run against the one before
    res = run("migrations", "-w", str(bank), "--by", "phase", "--measure", "balance")
    assert res.exit_code == 0, res.output
    assert "phase: 2026-09-30 → 2026-10-31 (customers)" in res.stdout
    assert "phase: 2026-09-30 → 2026-10-31 (balance_total)" in res.stdout
    # phases in lifecycle order, not the order the rulebook tries its rules
    assert res.stdout.index("│ welcome") < res.stdout.index("│ getting_to_know") < \
        res.stdout.index("│ customer_management") < res.stdout.index("│ win_back")


def test_migrations_command_errors(bank: Path) -> None:
    res = run("migrations", "-w", str(bank), "--from", "2026-09-15", "--to", str(D4))
    assert res.exit_code == 1
    assert res.stderr.strip() == ("error: no profiles for --from 2026-09-15; nearest dates "
                                  "run: 2026-07-31, 2026-08-31, 2026-09-30, 2026-10-31 "
                                  "(4 dates from "
                                  "2026-07-31 to 2026-10-31)")
    res = run("migrations", "-w", str(bank), "--by", "sgement")
    assert res.exit_code == 1 and "Did you mean 'segment'" in res.stderr
    res = run("migrations", "-w", str(bank), "-o", "m.ods")
    assert res.exit_code == 1 and "use a .csv, .xlsx, .png or .html file" in res.stderr
    res = run("migrations", "-w", str(bank), "--from", "31.07.2026")
    assert res.exit_code == 1 and "--from '31.07.2026' is not a date" in res.stderr
    res = run("migrations", "-w", str(bank), "--to", str(D1))
    assert res.exit_code == 1 and "no run before 2026-07-31" in res.stderr


def test_kpis_command(bank: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = run("kpis", "-w", str(bank))
    assert res.exit_code == 0, res.output
    assert "KPIs from 2026-07-31 to 2026-10-31" in res.stdout
    assert "71.4%" in res.stdout  # retention D1 -> D2: 5 of 7
    assert "Retention by segment" in res.stdout and "Days in each phase" in res.stdout
    res = run("kpis", "-w", str(bank), "--from", str(D2), "--json",
              "-o", str(tmp_path / "kpis.csv"))
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {r["date_from"] for r in rows} >= {"2026-08-31", "2026-09-30"}
    assert "2026-07-31" not in {r["date_from"] for r in rows}
    written = list(csv.DictReader((tmp_path / "kpis.csv").open(encoding="utf-8")))
    assert len(written) == len(rows) and list(written[0]) == list(ROW_FIELDS)
    res = run("kpis", "-w", str(bank), "-o", "kpis.json")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "kpis.json").read_text(encoding="utf-8")) \
        == json.loads(run("kpis", "-w", str(bank), "--json").stdout)
    res = run("kpis", "-w", str(bank), "--from", "2027-01-01")
    assert res.exit_code == 1 and res.stderr.startswith("error: no profiles from 2027-01-01")
