"""The importer reads numbers, dates and timestamps exactly as docs/data-model.md says.

Each property test writes many generated values into one file, imports it, and
compares every line with a reading of the documented grammar written here, in plain
Python, independently of the importer's patterns (services/ingest/grammar.py): a
value is loaded with the value the docs give it, or quarantined with the reason they
give; nothing else. Time zones are converted here with the standard library's zoneinfo,
not DuckDB's ICU.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.services.ingest.importer import import_file

DIGITS = "0123456789"
GROUP_SPACES = " \u00a0\u202f"
INVALID, AMBIGUOUS, INEXACT = "invalid", "ambiguous", "inexact"
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def all_digits(text: str) -> bool:
    return bool(text) and all(c in DIGITS for c in text)


# -- the documented grammar, read by hand -------------------------------------------

def doc_decimal(text: str, comma: bool) -> Decimal | str:
    """data-model.md, "decimals"; the value, or why it is refused."""
    sign = ""
    if text[:1] in "+-":
        sign, text = text[0], text[1:]
    marks = ",." if comma else "."
    whole, fraction = text, None
    for i, c in enumerate(text):
        if c in marks:
            whole, fraction = text[:i], text[i + 1:]
            break
    if fraction is not None and not all_digits(fraction):
        return INVALID
    if comma and any(c in GROUP_SPACES for c in whole):
        groups = whole
        for space in GROUP_SPACES:
            groups = groups.replace(space, "|")
        parts = groups.split("|")
        if not (all(all_digits(p) for p in parts) and 1 <= len(parts[0]) <= 3
                and all(len(p) == 3 for p in parts[1:])):
            return INVALID
        whole = "".join(parts)
    if not all_digits(whole):
        return INVALID
    fraction = fraction or ""
    if len(whole.lstrip("0")) > 16:  # DECIMAL(18, 2): out of range, whatever the decimals
        return INVALID
    if len(fraction) == 3 and fraction[2] == "0":
        return AMBIGUOUS
    if len(fraction) > 2 and (len(fraction) == 3 or fraction[2:].strip("0")):
        return INEXACT
    return Decimal(sign + whole + "." + (fraction[:2] or "0")).quantize(Decimal("0.01"))


def doc_date(text: str) -> dt.date | str:
    """data-model.md, "dates": YYYY-MM-DD or DD.MM.YYYY, a real day, year 1 to 9999."""
    if len(text) != 10:
        return INVALID
    if text[4] == "-" and text[7] == "-":
        y, m, d = text[:4], text[5:7], text[8:]
    elif text[2] == "." and text[5] == ".":
        d, m, y = text[:2], text[3:5], text[6:]
    else:
        return INVALID
    if not (all_digits(y) and all_digits(m) and all_digits(d)):
        return INVALID
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return INVALID


def doc_timestamp(text: str, zone: str) -> dt.datetime | str:
    """data-model.md, "timestamps"; a zoned time as the wall-clock time in ``zone``."""
    day = doc_date(text[:10])
    if isinstance(day, str):
        return INVALID
    rest = text[10:]
    if not rest:
        return dt.datetime.combine(day, dt.time())
    iso = text[4] == "-"
    if rest[0] not in (" T" if iso else " "):
        return INVALID
    rest = rest[1:]
    offset = None
    if rest.endswith("Z"):
        offset, rest = dt.timedelta(0), rest[:-1]
    else:
        cut = max(rest.rfind("+"), rest.rfind("-"))
        if cut >= 0:
            rest, tail = rest[:cut], rest[cut:]
            body = tail[1:]
            if len(body) == 5 and body[2] == ":":
                body = body[:2] + body[3:]
            if not (all_digits(body) and len(body) in (2, 4)):
                return INVALID
            hh, mm = int(body[:2]), int(body[2:] or 0)
            if hh > 14 or mm > 59:
                return INVALID
            sign = -1 if tail[0] == "-" else 1
            offset = sign * dt.timedelta(hours=hh, minutes=mm)
    pieces = rest.split(":")
    if len(pieces) not in (2, 3):
        return INVALID
    hh, mm = pieces[0], pieces[1]
    ss, micro = "0", "0"
    if len(pieces) == 3:
        ss = pieces[2]
        if "." in ss:
            if not iso:
                return INVALID
            ss, micro = ss.split(".", 1)
            if not (1 <= len(micro) <= 6 and all_digits(micro)):
                return INVALID
            micro = micro.ljust(6, "0")
        if len(ss) != 2 or not all_digits(ss):
            return INVALID
    if not (len(hh) == 2 and len(mm) == 2 and all_digits(hh) and all_digits(mm)):
        return INVALID
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 59:
        return INVALID
    local = dt.datetime.combine(day, dt.time(int(hh), int(mm), int(ss), int(micro)))
    if offset is None:
        return local
    instant = local.replace(tzinfo=dt.timezone(offset))
    return instant.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


# -- generated values: near the grammar, and off it ---------------------------------

SEPARATORS = st.sampled_from([" ", "\u00a0", "\u202f", "_", "  ", ".", ","])


@st.composite
def decimals(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(alphabet="0123456789 ,.+-e\u00a0x", min_size=1, max_size=12))
    sign = draw(st.sampled_from(["", "", "+", "-", "--"]))
    if draw(st.booleans()):
        whole = draw(st.text(DIGITS, max_size=19))
    else:
        groups = draw(st.lists(st.text(DIGITS, min_size=1, max_size=4), min_size=1,
                               max_size=5))
        whole = groups[0] + "".join(draw(SEPARATORS) + g for g in groups[1:])
    mark = draw(st.sampled_from(["", ",", ".", ",", "."]))
    fraction = draw(st.text(DIGITS, max_size=6)) if mark else ""
    fraction += draw(st.sampled_from(["", "", "", "0", "00", "e3", " 5"]))
    return sign + whole + mark + fraction


@st.composite
def dates(draw: st.DrawFn, years: tuple[int, int] = (0, 9999)) -> str:
    y = draw(st.integers(*years))
    m = draw(st.integers(0, 13))
    d = draw(st.integers(0, 32))
    ys = draw(st.sampled_from([f"{y:04d}", str(y)]))
    ms = draw(st.sampled_from([f"{m:02d}", str(m)]))
    ds = draw(st.sampled_from([f"{d:02d}", str(d)]))
    form = draw(st.sampled_from(["iso", "ru", "slash", "iso", "ru"]))
    if form == "iso":
        return f"{ys}-{ms}-{ds}"
    if form == "ru":
        return f"{ds}.{ms}.{ys}"
    return f"{ys}/{ms}/{ds}"


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    # Years where the zone databases agree (no local mean time of 1880).
    day = draw(dates(years=(1990, 2040)))
    if draw(st.integers(0, 4)) == 0:
        return day
    sep = draw(st.sampled_from([" ", "T", " ", "  ", "_"]))
    # The edges drawn often: 24:00 and :60 are what a lenient parser takes.
    hh = draw(st.one_of(st.integers(0, 25), st.sampled_from([0, 23, 24])))
    mm, ss = (draw(st.one_of(st.integers(0, 61), st.sampled_from([0, 59, 60])))
              for _ in range(2))
    hs = draw(st.sampled_from([f"{hh:02d}", str(hh)]))
    time = f"{hs}:{mm:02d}"
    if draw(st.booleans()):
        time += f":{ss:02d}"
        if draw(st.booleans()):
            time += "." + draw(st.text(DIGITS, min_size=1, max_size=8))
    zone = draw(st.sampled_from(["", "", "", "Z", "+03:00", "-05:00", "+0530", "+03", "+3",
                                 "+15:00", "+03:75", " +03:00", "MSK", "UTC", "-00:30"]))
    return day + sep + time + zone


# -- the properties -----------------------------------------------------------------

@pytest.fixture
def engine(tmp_path: Path):  # noqa: ANN201
    eng = DuckDBEngine(tmp_path / "warehouse.duckdb")
    yield eng
    eng.close()


def reasons(engine: DuckDBEngine, path: Path) -> dict[int, str]:
    return dict(engine.fetch_all("select row_number, reason from quarantine where file = ?",
                                 [str(path)]))


def expected_reason(column: str, value: str, kind: str, type_name: str) -> str:
    return {INVALID: f"column {column}: '{value}' is not a valid {type_name}",
            AMBIGUOUS: f"column {column}: '{value}' has three decimal places: a thousands "
                       "separator? Money has at most 2 (write 12,34 or 12340)",
            INEXACT: f"column {column}: '{value}' has more than 2 decimal places"}[kind]


_files = iter(range(10**9))


def customers_file(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    """customers with (registered_on, declared_monthly_income) per line, from line 2."""
    path = tmp_path / f"customers_{next(_files)}.csv"
    path.write_text("customer_id;full_name;customer_type;registered_on;"
                    "declared_monthly_income\n" + "".join(
                        f"C{i};N;retail;{r};{m}\n" for i, (r, m) in enumerate(rows, start=2)),
                    encoding="utf-8")
    return path


def clean(values: list[str]) -> list[str]:
    # Spaces around a value, no-break ones included, are dropped (documented
    # separately); ';' is the delimiter.
    return [v for v in values if v == v.strip(GROUP_SPACES) and v and ";" not in v
            and '"' not in v]


@SETTINGS
@given(values=st.lists(decimals(), min_size=1, max_size=60), comma=st.booleans())
def test_decimals_are_read_as_documented(engine: DuckDBEngine, tmp_path: Path,
                                         values: list[str], comma: bool) -> None:
    values = clean(values)
    if not values:
        return
    path = customers_file(tmp_path, [("2020-01-01", v) for v in values])
    import_file(engine, "customers", path, decimal_comma=comma, force=True)
    got = reasons(engine, path)
    stored = dict(engine.fetch_all("select customer_id, declared_monthly_income from customers "
                                   "where customer_id = any(?)",
                                   [[f"C{i}" for i in range(2, len(values) + 2)]]))
    for line, value in enumerate(values, start=2):
        want = doc_decimal(value, comma)
        if isinstance(want, Decimal):
            assert line not in got, (value, got.get(line))
            assert stored[f"C{line}"] == want, value
        else:
            assert got.get(line) == expected_reason("declared_monthly_income", value, want,
                                                    "decimal"), value


@SETTINGS
@given(values=st.lists(dates(), min_size=1, max_size=60))
def test_dates_are_read_as_documented(engine: DuckDBEngine, tmp_path: Path,
                                      values: list[str]) -> None:
    path = customers_file(tmp_path, [(v, "") for v in values])
    import_file(engine, "customers", path, force=True)
    got = reasons(engine, path)
    stored = dict(engine.fetch_all("select customer_id, registered_on from customers "
                                   "where customer_id = any(?)",
                                   [[f"C{i}" for i in range(2, len(values) + 2)]]))
    for line, value in enumerate(values, start=2):
        want = doc_date(value)
        if isinstance(want, dt.date):
            assert line not in got, (value, got.get(line))
            assert stored[f"C{line}"] == want, value
        else:
            assert got.get(line) == f"column registered_on: '{value}' is not a valid date"


@SETTINGS
@given(values=st.lists(timestamps(), min_size=1, max_size=60),
       zone=st.sampled_from(["Europe/Moscow", "Europe/Sofia", "UTC", "America/New_York"]))
def test_timestamps_are_read_as_documented(engine: DuckDBEngine, tmp_path: Path,
                                           values: list[str], zone: str) -> None:
    values = clean(values)
    if not values:
        return
    parent = tmp_path / "customers.csv"
    if not parent.exists():
        parent.write_text("customer_id;full_name;customer_type;registered_on\n"
                          "C1;A;retail;2020-01-01\n", encoding="utf-8")
        import_file(engine, "customers", parent)
    path = tmp_path / f"interactions_{next(_files)}.csv"
    path.write_text("interaction_id;customer_id;ts;channel;kind\n" + "".join(
        f"I{i};C1;{v};atm;other\n" for i, v in enumerate(values, start=2)), encoding="utf-8")
    import_file(engine, "interactions", path, time_zone=zone, force=True)
    got = reasons(engine, path)
    stored = dict(engine.fetch_all("select interaction_id, ts from interactions "
                                   "where interaction_id = any(?)",
                                   [[f"I{i}" for i in range(2, len(values) + 2)]]))
    for line, value in enumerate(values, start=2):
        want = doc_timestamp(value, zone)
        if isinstance(want, dt.datetime):
            assert line not in got, (value, got.get(line))
            assert stored[f"I{line}"] == want, value
        else:
            assert got.get(line) == f"column ts: '{value}' is not a valid timestamp", value


# -- the examples the issue names ---------------------------------------------------

@pytest.mark.parametrize(("value", "comma", "want"), [
    ("1 2 3,4 5", True, INVALID), ("12 34,56", True, INVALID), ("1e3", True, INVALID),
    (",5", True, INVALID), ("100,", True, INVALID), (".5", False, INVALID),
    ("100.", False, INVALID), ("12,340", True, AMBIGUOUS), ("1.000", False, AMBIGUOUS),
    ("12,345", True, INEXACT), ("+100,00", True, Decimal("100.00")),
    ("1 234 567,89", True, Decimal("1234567.89")), ("1\u00a0234,5", True, Decimal("1234.50")),
    ("1234,5000", True, Decimal("1234.50")), ("-0,10", True, Decimal("-0.10")),
    ("1234.56", True, Decimal("1234.56")), ("1 234.56", False, INVALID),
])
def test_the_documented_examples(value: str, comma: bool, want: object) -> None:
    assert doc_decimal(value, comma) == want


def test_examples_of_the_issue_through_the_importer(engine: DuckDBEngine,
                                                    tmp_path: Path) -> None:
    rows = [("2019/05/01", ""), ("2019-5-1", ""), ("2020-01-01", "1 2 3,4 5"),
            ("2020-01-01", "12 34,56"), ("2020-01-01", "1e3"), ("2020-01-01", ",5"),
            ("2020-01-01", "100,"), ("2020-01-01", "12,340"), ("2020-01-01", "+100,00")]
    path = customers_file(tmp_path, rows)
    report = import_file(engine, "customers", path)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 8)
    got = reasons(engine, path)
    assert got[2] == "column registered_on: '2019/05/01' is not a valid date"
    assert got[3] == "column registered_on: '2019-5-1' is not a valid date"
    assert got[9].startswith("column declared_monthly_income: '12,340' has three decimal")
    assert engine.fetch_all("select declared_monthly_income from customers") == \
        [(Decimal("100.00"),)]


EDGE_TIMESTAMPS = ["2020-01-01 24:00", "2020-01-01 23:60", "2020-01-01 23:59:60",
                   "0000-01-01", "2026/10/31 10:00", "2026-10-31 9:05", "31.10.2026 14:05",
                   "31.10.2026T14:05", "2026-10-31T10:00:00Z", "2026-10-31 10:00+03",
                   "2026-10-31 10:00:00.5-05:00", "2026-10-31 10:00 MSK",
                   "2026-10-31 10:00+15:00", "2026-02-29 10:00", "2028-02-29"]


def test_edges_of_timestamps_through_the_importer(engine: DuckDBEngine,
                                                  tmp_path: Path) -> None:
    parent = customers_file(tmp_path, [("2020-01-01", "")])
    import_file(engine, "customers", parent)
    path = tmp_path / "interactions.csv"
    path.write_text("interaction_id;customer_id;ts;channel;kind\n" + "".join(
        f"I{i};C2;{v};atm;other\n" for i, v in enumerate(EDGE_TIMESTAMPS, start=2)),
        encoding="utf-8")
    import_file(engine, "interactions", path, time_zone="Europe/Moscow")
    got = reasons(engine, path)
    stored = dict(engine.fetch_all("select interaction_id, ts from interactions"))
    loaded = {v: stored[f"I{i}"] for i, v in enumerate(EDGE_TIMESTAMPS, start=2)
              if f"I{i}" in stored}
    assert loaded == {"31.10.2026 14:05": dt.datetime(2026, 10, 31, 14, 5),
                      "2026-10-31T10:00:00Z": dt.datetime(2026, 10, 31, 13, 0),
                      "2026-10-31 10:00+03": dt.datetime(2026, 10, 31, 10, 0),
                      "2026-10-31 10:00:00.5-05:00": dt.datetime(2026, 10, 31, 18, 0, 0,
                                                                 500000),
                      "2028-02-29": dt.datetime(2028, 2, 29)}
    for i, v in enumerate(EDGE_TIMESTAMPS, start=2):
        assert (v in loaded) == isinstance(doc_timestamp(v, "Europe/Moscow"), dt.datetime), v
        if v not in loaded:
            assert got[i] == f"column ts: '{v}' is not a valid timestamp"


def test_a_transaction_before_its_account_opened_is_loaded_and_counted(
        engine: DuckDBEngine, tmp_path: Path) -> None:
    import_file(engine, "customers", customers_file(tmp_path, [("2020-01-01", "")]))
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id;customer_id;account_type;subtype;currency;opened_on;"
                        "balance\nA1;C2;card;debit;RUB;2024-03-01;0\n", encoding="utf-8")
    import_file(engine, "accounts", accounts)
    path = tmp_path / "transactions.csv"
    path.write_text("transaction_id;account_id;customer_id;ts;amount;kind;channel\n"
                    "T1;A1;C2;2024-02-29 23:59;100;salary;pos\n"
                    "T2;A1;C2;2024-03-01 00:00;100;salary;pos\n", encoding="utf-8")
    report = import_file(engine, "transactions", path)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 0)
    assert report.notes == {"transactions dated before their account's opened_on (loaded "
                            "as written)": 1}


@pytest.mark.parametrize("zone", ["Europe/Moscow", "Europe/Sofia", "America/New_York"])
def test_a_parquet_instant_is_stored_as_the_workspace_zone_reads_it(
        engine: DuckDBEngine, tmp_path: Path, zone: str) -> None:
    """A Parquet timestamp with a zone is an instant: stored as the wall-clock time of
    the workspace's zone (docs/data-model.md), whatever the DuckDB session's zone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parent = tmp_path / "customers.csv"
    parent.write_text("customer_id;full_name;customer_type;registered_on\n"
                      "C1;A;retail;2020-01-01\n", encoding="utf-8")
    import_file(engine, "customers", parent, force=True)
    instants = [dt.datetime(2026, 10, 30, 21, 30, tzinfo=dt.UTC),
                dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=dt.UTC)]
    path = tmp_path / "interactions.parquet"
    pq.write_table(pa.table({
        "interaction_id": ["P1", "P2"], "customer_id": ["C1", "C1"],
        "ts": pa.array(instants, pa.timestamp("us", tz="UTC")),
        "channel": ["atm", "branch"], "kind": ["other", "visit"]}), path)
    engine.execute("set TimeZone = 'Asia/Tokyo'")  # not the workspace's: must not matter
    import_file(engine, "interactions", path, time_zone=zone, force=True)
    stored = dict(engine.fetch_all("select interaction_id, ts from interactions "
                                   "where interaction_id in ('P1', 'P2')"))
    for key, instant in zip(("P1", "P2"), instants, strict=True):
        want = instant.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
        assert stored[key] == want, (zone, key)
