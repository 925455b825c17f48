"""Reading the warehouse from a page: in a worker thread, on the latest snapshot or
a stored date the page names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool

from clientlens.faces.console.web import Page, PageError

R = TypeVar("R")


async def read(p: Page, work: Callable[..., R], *args: Any) -> R:
    """``work(engine, *args)`` with the warehouse, in a worker thread."""
    backend = p.request.app.state.backend

    def run() -> R:
        with backend.engine() as engine:
            return work(engine, *args)

    return await run_in_threadpool(run)


@contextmanager
def staging(backend: Any) -> Iterator[Any]:
    """Where imports and their quarantine are kept: the warehouse itself on DuckDB,
    the DuckDB staging area in front of another engine."""
    if backend.ws.settings.engine == "duckdb":
        with backend.engine() as engine:
            yield engine
    else:
        with backend.ws.staging_engine(read_only=True) as engine:
            yield engine


def stored_date(dates: list[dt.date], wanted: dt.date | None, name: str = "as_of"
                ) -> dt.date | None:
    """``wanted`` if a run is stored for it, the latest for None; a 404 page otherwise."""
    if not dates:
        return None
    if wanted is None:
        return dates[-1]
    if wanted not in dates:
        shown = ", ".join(str(d) for d in dates[-5:])
        raise PageError(404, f"{name}: no run is stored for {wanted}; stored runs: {shown}",
                        "not_found")
    return wanted
