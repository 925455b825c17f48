"""How a value written in a file is read: the grammar of numbers, dates and timestamps.

This is the table "What the importer accepts" of docs/data-model.md, as patterns. A
value is tested against its pattern before DuckDB casts it, since DuckDB's casts take
much more (``1e3``, ``2019-5-1``, a zone dropped without conversion) and a value is
never reinterpreted to fit. Each pattern is a full match (RE2, DuckDB's regex
engine); the value has already been trimmed.

Numbers
  whole number  ``[+-]digits``: ``2009``, ``+2009``, ``-7``
  money, decimal point  ``[+-]digits[.digits]``: ``1234.56``, ``+100.5``
  money, decimal comma (``;`` files, or ``--decimal-comma``)  the integer part either
    plain digits or grouped in threes by single spaces (a space, a no-break space
    U+00A0 or a narrow no-break space U+202F): ``1 234 567,89``; the decimal mark a
    comma (or a point: ``1234.56`` has one reading there too).
  Never: exponents, hexadecimal, ``_``, a bare mark (``,5``, ``100,``), spaces other
  than between groups of three (``1 2 3,4 5``, ``12 34,56``).
  Decimals: one or two; more only when every digit past the second is zero and there
  are at least four (``1234,5000``, as NUMERIC(18, 4) columns print). Exactly three
  (``12,340``, ``1.000``) are refused: they read as a thousands separator as easily as
  decimals.

Dates  ``YYYY-MM-DD`` or ``DD.MM.YYYY``, two-digit months and days, years 0001 to
  9999, real calendar days (``2026-02-30`` is refused).

Timestamps  a date in either form, alone or followed by a time: ISO ``YYYY-MM-DD``
  then a space or ``T``, ``HH:MM`` (00:00 to 23:59), optional ``:SS``, optional ``.`` and 1 to 6
  digits; Russian ``DD.MM.YYYY HH:MM`` or ``DD.MM.YYYY HH:MM:SS``. A time may end
  with a zone offset (``Z``, ``+03``, ``+0300``, ``+03:00``, ``-05:00``): the instant is
  converted to the workspace's wall-clock time zone (``time_zone`` in
  clientlens.yaml, Europe/Moscow by default), since the model's timestamps are the
  bank's wall-clock times. Zone names (``MSK``, ``UTC``) are refused: abbreviations
  are ambiguous.
"""

from __future__ import annotations

from clientlens.engines import sqltext

D = "duckdb"

INTEGER = r"[+-]?[0-9]+"
DECIMAL_POINT = r"[+-]?[0-9]+([.][0-9]+)?"
GROUP_SPACES = " \u00a0\u202f"
DECIMAL_COMMA = (r"[+-]?([0-9]+|[0-9]{1,3}([" + GROUP_SPACES + r"][0-9]{3})+)([,.][0-9]+)?")
# After the separators are removed and the mark made a point: what is exact in
# DECIMAL(18, 2), and the one ambiguous spelling.
EXACT_FRACTION = r"[+-]?[0-9]+([.][0-9]{1,2}0*)?"  # three zeros-ended counted here too
THREE_DECIMALS = r"[+-]?[0-9]+[.][0-9]{2}0"

# Years 0001 to 9999 (DuckDB would read 0000 as 1 BC); hours 00 to 23 (it would read
# 24:00 as the next day), minutes and seconds 00 to 59.
YEAR = r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
ISO_DATE = YEAR + r"-[0-9]{2}-[0-9]{2}"
RU_DATE = r"[0-9]{2}[.][0-9]{2}[.]" + YEAR
HH_MM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
ISO_TIME = HH_MM + r"(:[0-5][0-9]([.][0-9]{1,6})?)?"
RU_TIME = HH_MM + r"(:[0-5][0-9])?"
ZONE = r"(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)"
ISO_LOCAL = ISO_DATE + r"([ T]" + ISO_TIME + ")?"
RU_LOCAL = RU_DATE + "( " + RU_TIME + ")?"
ISO_ZONED = ISO_DATE + "[ T]" + ISO_TIME + ZONE
RU_ZONED = RU_DATE + " " + RU_TIME + ZONE
# The parts of a zoned timestamp: the local time and the offset.
ZONED_PARTS = r"^(.*[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.][0-9]+)?)?)(Z|[+-][0-9]{2}(?::?[0-9]{2})?)$"
RU_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


def lit(value: object) -> str:
    return sqltext.literal(value, D)


def matches(text: str, pattern: str) -> str:
    return f"regexp_full_match({text}, {lit(pattern)})"


def decimal_text(text: str, comma: bool) -> str:
    """SQL: the decimal as written with its group separators removed and the mark a
    point (only for values that match the shape)."""
    if not comma:
        return text
    for space in GROUP_SPACES:
        text = f"replace({text}, {lit(space)}, '')"
    return f"replace({text}, ',', '.')"


def decimal_value(text: str, comma: bool) -> str:
    shape = DECIMAL_COMMA if comma else DECIMAL_POINT
    return (f"case when {matches(text, shape)} "
            f"then try_cast({decimal_text(text, comma)} as decimal(18, 2)) end")


def integer_value(text: str) -> str:
    return f"case when {matches(text, INTEGER)} then try_cast({text} as bigint) end"


def date_value(text: str) -> str:
    return (f"case when {matches(text, RU_DATE)} "
            f"then cast(try_strptime({text}, '%d.%m.%Y') as date) "
            f"when {matches(text, ISO_DATE)} then try_cast({text} as date) end")


def _local(text: str) -> str:
    return (f"case when {matches(text, RU_LOCAL)} "
            f"then try_strptime({text}, [{', '.join(lit(f) for f in RU_FORMATS)}]) "
            f"when {matches(text, ISO_LOCAL)} then try_cast({text} as timestamp) end")


def timestamp_value(text: str, time_zone: str) -> str:
    """SQL: the wall-clock time in ``time_zone`` a timestamp stands for."""
    parts = f"regexp_extract({text}, {lit(ZONED_PARTS)}, ['local', 'zone'])"
    zone = f"({parts}).zone"
    # The offset in minutes: Z is 0; +03, +0300 and +03:00 are 180.
    digits = f"replace({zone}, ':', '')"
    minutes = (f"case when {zone} = 'Z' then 0 else "
               f"(case when starts_with({zone}, '-') then -1 else 1 end) * "
               f"(cast(substr({digits}, 2, 2) as integer) * 60 + "
               f"coalesce(try_cast(nullif(substr({digits}, 4, 2), '') as integer), 0)) end")
    utc = f"({_local(f'({parts}).local')} - to_minutes({minutes}))"
    return (f"case when {matches(text, ISO_ZONED)} or {matches(text, RU_ZONED)} "
            f"then timezone({lit(time_zone)}, timezone('UTC', {utc})) "
            f"else {_local(text)} end")


def decimal_exactness(text: str, comma: bool) -> tuple[str, str]:
    """SQL conditions (on a value that parsed) for the two ways a decimal is refused as
    written: three decimals (ambiguous), and digits a DECIMAL(18, 2) would round."""
    plain = decimal_text(text, comma)
    return matches(plain, THREE_DECIMALS), f"not {matches(plain, EXACT_FRACTION)}"
