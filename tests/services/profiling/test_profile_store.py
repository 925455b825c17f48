"""SnapshotRows (the API's in-memory snapshot) gives back exactly Arrow's rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from clientlens.services.profiling.profile_store import SnapshotRows

COLUMNS = {
    "n": (pa.int64(), st.integers(-(2**62), 2**62)),
    "x": (pa.float64(), st.floats(allow_nan=False)),
    "flag": (pa.bool_(), st.booleans()),
    "segment": (pa.string(), st.sampled_from(["new", "regular", "loyal", "", "ё"])),
    "day": (pa.date32(), st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1))),
    "money": (pa.decimal128(38, 2),
              st.decimals(-10**9, 10**9, places=2, allow_nan=False, allow_infinity=False)),
    "at": (pa.timestamp("us"), st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1))),
    "reasons": (pa.list_(pa.string()), st.lists(st.sampled_from(["a", "b"]), max_size=3)),
}


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(1, 40))
    data = {"customer_id": [f"C{i:04d}" for i in range(n)]}
    for name, (_, values) in COLUMNS.items():
        data[name] = [draw(st.none() | values) for _ in range(n)]
    schema = pa.schema([("customer_id", pa.string()),
                        *((name, t) for name, (t, _) in COLUMNS.items())])
    table = pa.Table.from_pydict(data, schema=schema)
    if n > 3 and draw(st.booleans()):  # several chunks, like a query's result
        table = pa.concat_tables([table.slice(0, n // 2), table.slice(n // 2)])
    return table


@settings(max_examples=150, deadline=None)
@given(tables())
def test_rows_equal_arrow_rows(table: pa.Table) -> None:
    rows = SnapshotRows(table)
    assert len(rows) == table.num_rows
    for expected in table.to_pylist():
        got = rows.get(expected["customer_id"])
        assert got == expected
        # the same Python types, not only equal values (1 == 1.0 == True)
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert rows.get("nobody") is None and "nobody" not in rows


def test_decimals_stay_decimals() -> None:
    table = pa.table({"customer_id": ["a"], "m": pa.array([Decimal("1.50")],
                                                           pa.decimal128(38, 2))})
    assert SnapshotRows(table).get("a") == {"customer_id": "a", "m": Decimal("1.50")}
