"""One snapshot's profile rows in memory, for lookups of single customers.

A service answering profile lookups should not query the warehouse for each one:
``SnapshotRows`` holds a stored snapshot column by column and hands out one customer's
row as a plain dict in tens of microseconds, where slicing the Arrow table and
converting it costs about a millisecond for 130 columns.

Each column is kept compactly:

- numbers and booleans as a NumPy array plus a null mask;
- everything else (text, dates, decimals, timestamps) dictionary-encoded: integer
  codes plus the list of distinct values, which are few for segments, grades,
  reasons and dates;
- types neither covers (lists, structs) stay Arrow arrays read one value at a time.

The values equal ``table.to_pylist()`` (``tests/services/profiling/test_profile_store.py``).

``LatestSnapshot`` is the cache a service owns (one per app, never a global): the
latest snapshot's profile rows and entitlements, loaded once and dropped when a run
finishes.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

Getter = Callable[[int], Any]


def _numeric_getter(col: pa.ChunkedArray) -> Getter:
    nulls = col.is_null().to_numpy(zero_copy_only=False) if col.null_count else None
    fill = False if pa.types.is_boolean(col.type) else 0
    values = col.fill_null(fill).to_numpy(zero_copy_only=False) if col.null_count \
        else col.to_numpy(zero_copy_only=False)
    item = values.item
    if nulls is None:
        return item
    return lambda i: None if nulls[i] else item(i)


def _dictionary_getter(col: pa.ChunkedArray) -> Getter:
    encoded = pc.dictionary_encode(col).combine_chunks()
    distinct = [*encoded.dictionary.to_pylist(), None]
    codes = encoded.indices.fill_null(len(distinct) - 1).to_numpy(zero_copy_only=False)
    item = codes.item
    return lambda i: distinct[item(i)]


def _arrow_getter(col: pa.ChunkedArray) -> Getter:
    array = col.combine_chunks()
    return lambda i: array[i].as_py()


def getter(col: pa.ChunkedArray) -> Getter:
    """A function from row number to the Python value, for one column."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return _numeric_getter(col)
    if (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_date(t)
            or pa.types.is_decimal(t) or pa.types.is_timestamp(t)):
        return _dictionary_getter(col)
    return _arrow_getter(col)


class SnapshotRows:
    """The rows of ``table`` by ``key``: ``rows.get(customer_id)`` is a dict or None."""

    def __init__(self, table: pa.Table, key: str = "customer_id") -> None:
        self.names: tuple[str, ...] = tuple(table.column_names)
        self._getters = [getter(table.column(n)) for n in self.names]
        self._index = {k: i for i, k in enumerate(table.column(key).to_pylist())}

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def get(self, key: str) -> dict[str, Any] | None:
        i = self._index.get(key)
        if i is None:
            return None
        return {n: g(i) for n, g in zip(self.names, self._getters, strict=True)}


Snapshot = tuple[dt.date, SnapshotRows, dict[str, list[dict]]]


def load_snapshot(engine: Any, as_of: dt.date) -> Snapshot:
    """The profile rows of the snapshot of ``as_of`` and its entitlements by customer."""
    rows = SnapshotRows(engine.fetch_arrow("select * from profiles where as_of = ?",
                                           [as_of]))
    entitlements: dict[str, list[dict]] = {}
    if engine.table_columns("entitlements") is not None:
        for row in engine.fetch_arrow(
                "select customer_id, service, kind, granted_on, last_qualified_on, kept_until, "
                "qualified from entitlements where as_of = ? order by customer_id, service",
                [as_of]).to_pylist():
            entitlements.setdefault(row.pop("customer_id"), []).append(row)
    return as_of, rows, entitlements


class LatestSnapshot:
    """The latest snapshot in memory (profile rows by customer, their entitlements):
    a lookup of it reads no table. ``forget()`` when a run has stored a new one."""

    def __init__(self) -> None:
        self._latest: dt.date | None = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def latest(self, engine: Any) -> dt.date:
        """The latest snapshot's date (``NotFoundError`` before the first run)."""
        from clientlens.services.profiling.segmentation import latest_as_of

        if self._latest is None:
            self._latest = latest_as_of(engine)
        return self._latest

    def stored(self, engine: Any, customer_id: str, as_of: dt.date
               ) -> tuple[dict | None, list[dict] | None]:
        """The stored profile row and entitlements of a customer in the latest
        snapshot, from memory; (None, None) for other dates (read them from the
        warehouse)."""
        if as_of != self.latest(engine):
            return None, None
        snap = self._snapshot
        if snap is None or snap[0] != as_of:
            with self._lock:
                snap = self._snapshot
                if snap is None or snap[0] != as_of:
                    snap = self._snapshot = load_snapshot(engine, as_of)
        _, rows, entitlements = snap
        row = rows.get(customer_id)
        if row is None:
            return None, None
        return row, entitlements.get(customer_id, [])

    def loaded(self) -> bool:
        """Whether the latest snapshot is in memory (a lookup of it needs no I/O)."""
        return (self._snapshot is not None and self._latest is not None
                and self._snapshot[0] == self._latest)

    def forget(self) -> None:
        self._latest = None
        self._snapshot = None
