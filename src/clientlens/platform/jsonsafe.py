"""JSON-safe values: what the faces and the application database write as JSON.

``plain`` turns a value into one ``json.dumps`` accepts without surprises (decimals
to floats, dates to ISO strings, NaN and infinities to None, sets sorted, tuples to
lists; recursively). ``json_bytes`` gives the same JSON straight from orjson, the
HTTP lookups' fast path (``tests/faces/http/test_api.py`` holds the two to the same output).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """JSON-safe: decimals to floats, dates to ISO strings, NaN to None; recursively."""
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return [plain(v) for v in sorted(value, key=str)]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"not JSON: {type(value).__name__}")


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON bytes (orjson), as ``plain`` + ``json.dumps`` would give it:
    decimals as numbers, dates as ISO strings, NaN and infinities as null."""
    import orjson  # the HTTP extra's dependency: imported when a face asks

    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
