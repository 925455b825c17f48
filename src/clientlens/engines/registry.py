"""Engines are plug-ins found through the ``clientlens.engines`` entry-point group.

Nothing here imports a driver: an engine module is imported only when asked for.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from clientlens.engines.base import Engine
from clientlens.model.errors import EngineError, did_you_mean

# Built-in engines, so a source checkout works without installed metadata.
BUILTIN = {"duckdb": "clientlens.engines.duckdb_engine:DuckDBEngine",
           "postgres": "clientlens.engines.postgres_engine:PostgresEngine",
           "spark": "clientlens.engines.spark_engine:SparkEngine"}


def available() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group="clientlens.engines"):
        found[ep.name] = ep.value
    return found


def engine_class(name: str) -> type[Engine]:
    engines = available()
    if name not in engines:
        raise EngineError(f"unknown engine '{name}'.{did_you_mean(name, engines)} "
                          f"Available: {', '.join(sorted(engines))}")
    module_name, _, attr = engines[name].partition(":")
    try:
        module = __import__(module_name, fromlist=[attr])
    except ImportError as e:
        raise EngineError(f"engine '{name}' cannot be loaded: {e}") from e
    return getattr(module, attr)
