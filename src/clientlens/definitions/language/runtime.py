"""The Python form of the rule language: small helpers the generated code calls.

Each helper is the Python meaning of one entry of ``semantics.SCALARS`` (which names
it); ``compiler.pyeval`` generates plain expressions over them. They follow SQL's
semantics as the SQL forms pin them: three-valued logic (NULL is ``None``),
NULL-propagating arithmetic, division and modulo by zero give NULL, LEAST/GREATEST
skip NULLs, ``%`` takes the sign of the dividend, a floating-point result that would
be infinite or undefined is NULL.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

# Beyond these a power is NULL (overflow) or 0.0 (underflow): e**690 is about 1e300,
# well inside a double, so no engine reaches infinity, and PostgreSQL (which raises
# on overflow and underflow) never has to.
POWER_LOG_LIMIT = 690.0
# A double of this magnitude or more has no fractional part (2**52).
WHOLE_DOUBLE = 4503599627370496.0


def _and(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: Any, b: Any) -> Any:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _not(a: Any) -> Any:
    return None if a is None else not a


def _cmp(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def f(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        return op(a, b)
    return f


_eq = _cmp(lambda a, b: a == b)
_ne = _cmp(lambda a, b: a != b)
_gt = _cmp(lambda a, b: a > b)
_ge = _cmp(lambda a, b: a >= b)
_lt = _cmp(lambda a, b: a < b)
_le = _cmp(lambda a, b: a <= b)
_add = _cmp(lambda a, b: a + b)
_sub = _cmp(lambda a, b: a - b)
_mul = _cmp(lambda a, b: a * b)


def _div(a: Any, b: Any) -> Any:
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def _mod(a: Any, b: Any) -> Any:
    if a is None or b is None or b == 0:
        return None
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _neg(a: Any) -> Any:
    return None if a is None else -a


def _abs(a: Any) -> Any:
    return None if a is None else abs(a)


def _power(a: Any, b: Any) -> Any:
    """POWER in double precision; NULL where the result is undefined or would overflow."""
    if a is None or b is None:
        return None
    x, y = float(a), float(b)
    if x == 0:
        return None if y < 0 else math.pow(x, y)
    if x < 0 and y != math.floor(y):
        return None
    size = y * math.log(abs(x))
    if size > POWER_LOG_LIMIT:
        return None
    if size < -POWER_LOG_LIMIT:
        return 0.0
    return math.pow(x, y)


def _round(a: Any, places: int) -> Any:
    """Half away from zero. Floating-point numbers are rounded with the same IEEE
    operations the SQL form uses, so every engine and Python agree to the bit."""
    if a is None:
        return None
    if isinstance(a, float):
        m = 10.0 ** abs(places)
        scaled = abs(a) * m if places >= 0 else abs(a) / m
        if scaled >= WHOLE_DOUBLE:
            return a
        whole = float(math.floor(scaled + 0.5))
        out = whole / m if places >= 0 else whole * m
        return -out if a < 0 else out
    if isinstance(a, int):
        return int(Decimal(a).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)) \
            if places < 0 else a
    return a.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _in(a: Any, items: tuple, has_null: bool) -> Any:
    if a is None:
        return None
    if a in items:
        return True
    return None if has_null else False


def _coalesce(*xs: Any) -> Any:
    for x in xs:
        if x is not None:
            return x
    return None


def _least(*xs: Any) -> Any:
    present = [x for x in xs if x is not None]
    return min(present) if present else None


def _greatest(*xs: Any) -> Any:
    present = [x for x in xs if x is not None]
    return max(present) if present else None


def _date(x: Any) -> Any:
    return x.date() if isinstance(x, dt.datetime) else x


def _ts(x: Any) -> Any:
    if x is None or isinstance(x, dt.datetime):
        return x
    return dt.datetime.combine(x, dt.time())


def _days_between(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return (_date(b) - _date(a)).days


def window_bounds(days: int, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """First and last calendar day of the ``days``-day window ending on ``as_of``."""
    return as_of - dt.timedelta(days=max(days, 0) - 1), as_of


def _within(x: Any, first: dt.date, last: dt.date) -> Any:
    if x is None:
        return None
    return first <= _date(x) <= last


def _within_days(x: Any, days: int, as_of: dt.date) -> Any:
    first, last = window_bounds(days, as_of)
    return _within(x, first, last)


def _year(x: Any) -> Any:
    return None if x is None else x.year


def _month(x: Any) -> Any:
    return None if x is None else x.month


@lru_cache(maxsize=1024)
def _like_pattern(pattern: str) -> re.Pattern[str]:
    # '%' any text, '_' one character, everything else (a backslash too) itself.
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _like(a: Any, pattern: Any) -> Any:
    if a is None or pattern is None:
        return None
    return _like_pattern(pattern).fullmatch(a) is not None


def _float(x: Any) -> Any:
    return None if x is None else float(x)


def _decimal(x: Any) -> Any:
    return None if x is None or isinstance(x, Decimal) else Decimal(x)


HELPERS: dict[str, Any] = {name: obj for name, obj in globals().items()
                           if name.startswith("_") and callable(obj)}
HELPERS["dt"] = dt
HELPERS["Decimal"] = Decimal
