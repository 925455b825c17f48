"""Figures the console computes once per stored snapshot: a split of the customers,
the trend, a migration matrix, a work list, the dictionary's body. They change only
when a run stores a snapshot, and the service forgets them then
(``Backend.forget_snapshot``, called when a run it started finishes); each is kept
with the newest snapshot date and the definitions' version it was made from, so a
snapshot stored by another process is not answered from the old figures either.

Only data that is the same for every role is kept; the field policy is applied to it
on every request. At most ``SIZE`` entries, the least recently used dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

R = TypeVar("R")
SIZE = 64


class PageCache:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], R]) -> R:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: another page need not wait for this one
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def page_cache(backend: Any) -> PageCache:
    if backend.page_cache is None:
        backend.page_cache = PageCache()
    return backend.page_cache


def cached(backend: Any, engine: Any, key: tuple, make: Callable[[], R]) -> R:
    """``make()``, kept under ``key`` for the newest stored snapshot and the current
    definitions."""
    try:
        newest = backend.latest(engine)
    except Exception:  # noqa: BLE001 - no snapshot yet: nothing worth keeping
        return make()
    return page_cache(backend).get((newest, backend.defs.version, *key), make)
