"""The contact policy (``contact_policy.yaml`` beside the rulebook): YAML in, a checked
``ContactPolicy`` out.

Like the rulebook, every problem is collected with its file and line and reported at
once; an unknown channel, purpose or period gets a "did you mean". The policy is data:
which purposes need an opt-in, the pressure caps, the quiet hours and the cooling-off
after complaints. What it means for one proposed contact is decided in
``services/contact/rules.py``.

The policy's ``version`` is the one its authors give (``policy.version``) plus a digest
of its content, so a decision can say which text it was made under.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clientlens.definitions.yamlsrc import Located, load_yaml
from clientlens.model.contact import CONTACT_CHANNELS, CONTACT_PURPOSES, INBOUND, OUTBOUND
from clientlens.model.errors import DefinitionError, Problem, did_you_mean

POLICY_FILE = "contact_policy.yaml"
PERIODS = ("day", "week", "month")
BASES = ("opt_in", "opt_out")
DIRECTIONS = (INBOUND, OUTBOUND)
DAY_KINDS = ("weekday", "weekend", "holiday")
SECTIONS = ("policy", "defaults", "purposes", "caps", "quiet_hours", "cooling_off")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")


class ContactPolicyError(DefinitionError):
    """A contact policy file with problems; one problem is one line."""

    code = "definition_error"

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        if len(self.problems) == 1:
            self.args = (f"contact policy: {self.problems[0]}",)


@dataclass(frozen=True)
class Cap:
    """At most ``max`` contacts matching the filters per ``period`` (None: any)."""

    id: str
    period: str
    max: int
    channels: frozenset[str] | None = None
    direction: str | None = None
    purposes: frozenset[str] | None = None
    per_campaign: bool = False
    line: int = 0

    def counts(self, channel: str, purpose: str) -> bool:
        """Whether a contact on ``channel`` for ``purpose`` is one this cap counts."""
        return ((self.channels is None or channel in self.channels)
                and (self.direction is None
                     or CONTACT_CHANNELS[channel].direction == self.direction)
                and (self.purposes is None or purpose in self.purposes))


@dataclass(frozen=True)
class QuietHours:
    """Outbound contacts on ``channels`` for ``purposes`` only within the allowed local
    hours of the kind of day (start inclusive, end exclusive); None: not that day."""

    channels: frozenset[str]
    purposes: frozenset[str]
    allowed: dict[str, tuple[dt.time, dt.time] | None]

    def applies(self, channel: str, purpose: str) -> bool:
        return channel in self.channels and purpose in self.purposes


@dataclass(frozen=True)
class CoolingOff:
    purposes: frozenset[str]
    open_recovery_case: bool = False
    after_complaint_days: int | None = None
    after_declined_offer_days: int | None = None


@dataclass(frozen=True)
class ContactPolicy:
    name: str
    version: str  # "<policy.version>+<digest>"
    file: str
    time_zone: str
    country: str
    language: str
    basis: dict[tuple[str, str], str]  # (purpose, direction) -> opt_in | opt_out
    caps: tuple[Cap, ...]
    quiet_hours: QuietHours | None
    cooling_off: CoolingOff


def load_contact_policy(path: str | Path) -> ContactPolicy:
    """Read and check a contact policy file; every problem at once."""
    path = Path(path)
    try:
        doc = load_yaml(path)
    except DefinitionError as e:
        raise ContactPolicyError(e.problems) from None
    if not isinstance(doc, Located):
        raise ContactPolicyError([Problem("must be a YAML mapping", str(path))])
    return build_contact_policy(doc, str(path))


class _Out:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, message: str, node: Any, key: str | None = None,
            where: str | None = None) -> None:
        file = getattr(node, "file", None) or None
        line = None
        if isinstance(node, Located):
            line = node.line_of(key) if key is not None else node.line
        self.problems.append(Problem(message, file, line, where))


def _names(value: Any, known: dict[str, Any] | tuple[str, ...], what: str, node: Located,
           key: str, out: _Out, where: str | None) -> frozenset[str] | None:
    """One name or a list of names of ``known``; None (with a problem) when wrong."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) for v in items):
        out.add(f"{key} must be a {what} or a list of them", node, key, where)
        return None
    bad = False
    for v in items:
        if v not in known:
            out.add(f"unknown {what} '{v}'.{did_you_mean(v, known)} Known: "
                    f"{', '.join(known)}", node, key, where)
            bad = True
    return None if bad else frozenset(items)


def _mapping(doc: Located, key: str, out: _Out, *, required: bool = False) -> Located | None:
    value = doc.get(key)
    if value is None:
        if required:
            out.add(f"section '{key}' is missing", doc, None)
        return None
    if not isinstance(value, Located):
        out.add(f"'{key}' must be a mapping", doc, key)
        return None
    return value


def _unknown_keys(node: Located, allowed: tuple[str, ...], what: str, out: _Out,
                  where: str | None = None) -> None:
    for key in node:
        if key not in allowed:
            out.add(f"unknown key '{key}' in {what}.{did_you_mean(str(key), allowed)}",
                    node, str(key), where)


def _days(node: Located, key: str, out: _Out) -> int | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        out.add(f"{key} must be a whole number of days, 0 or more (got {value!r})", node, key)
        return None
    return value


def _hours(value: Any, node: Located, key: str, out: _Out
           ) -> tuple[dt.time, dt.time] | None:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, str) and _HHMM.fullmatch(v) for v in value)):
        out.add(f"allowed hours for {key} must be null (no contacts that day) or two times "
                f"like [\"09:00\", \"21:00\"] (got {value!r})", node, key)
        return None
    start, end = (dt.time.fromisoformat(v) for v in value)
    if end <= start:
        out.add(f"allowed hours for {key}: {value[1]} is not after {value[0]}", node, key)
        return None
    return start, end


def _read_caps(doc: Located, out: _Out) -> tuple[Cap, ...]:
    raw = doc.get("caps") or []
    if not isinstance(raw, list):
        out.add("'caps' must be a list", doc, "caps")
        return ()
    caps: list[Cap] = []
    seen: set[str] = set()
    keys = ("id", "channel", "direction", "purpose", "per_campaign", "period", "max")
    for node in raw:
        if not isinstance(node, Located):
            out.add("each cap must be a mapping with id, period and max", doc, "caps")
            continue
        cid = node.get("id")
        if not isinstance(cid, str) or not _ID.fullmatch(cid):
            out.add(f"a cap's id must be lower-case letters, digits and '_' (got {cid!r})",
                    node, "id")
            cid = None
        elif cid in seen:
            out.add(f"cap id '{cid}' is used twice", node, "id")
        else:
            seen.add(cid)
        where = f"cap {cid}" if cid else None
        _unknown_keys(node, keys, "a cap", out, where)
        period = node.get("period")
        if period not in PERIODS:
            out.add(f"unknown period {period!r}.{did_you_mean(str(period), PERIODS)} Use "
                    f"{', '.join(PERIODS)}", node, "period", where)
        limit = node.get("max")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            out.add(f"max must be a whole number, 0 or more (got {limit!r})", node, "max",
                    where)
        channels = purposes = None
        if "channel" in node:
            channels = _names(node["channel"], CONTACT_CHANNELS, "channel", node, "channel",
                              out, where)
        if "purpose" in node:
            purposes = _names(node["purpose"], CONTACT_PURPOSES, "purpose", node, "purpose",
                              out, where)
        direction = node.get("direction")
        if direction is not None and direction not in DIRECTIONS:
            out.add(f"direction must be inbound or outbound (got {direction!r})", node,
                    "direction", where)
        per_campaign = node.get("per_campaign", False)
        if not isinstance(per_campaign, bool):
            out.add("per_campaign must be true or false", node, "per_campaign", where)
        if cid and period in PERIODS and isinstance(limit, int) and not isinstance(limit, bool):
            caps.append(Cap(cid, period, limit, channels, direction, purposes,
                            per_campaign is True, node.line))
    return tuple(caps)


def _read_quiet(doc: Located, out: _Out) -> QuietHours | None:
    node = _mapping(doc, "quiet_hours", out)
    if node is None:
        return None
    _unknown_keys(node, ("channels", "purposes", "allowed"), "quiet_hours", out)
    channels = _names(node.get("channels", []), CONTACT_CHANNELS, "channel", node,
                      "channels", out, "quiet_hours")
    purposes = _names(node.get("purposes", []), CONTACT_PURPOSES, "purpose", node,
                      "purposes", out, "quiet_hours")
    for c in channels or ():
        if CONTACT_CHANNELS[c].direction != OUTBOUND:
            out.add(f"channel '{c}' is inbound: the customer chose the moment, quiet hours "
                    "apply to outbound channels only", node, "channels", "quiet_hours")
    allowed_node = _mapping(node, "allowed", out, required=True)
    allowed: dict[str, tuple[dt.time, dt.time] | None] = {}
    if allowed_node is not None:
        _unknown_keys(allowed_node, DAY_KINDS, "quiet_hours.allowed", out)
        for kind in DAY_KINDS:
            if kind not in allowed_node:
                out.add(f"quiet_hours.allowed needs '{kind}' (null: no contacts that day)",
                        allowed_node, None)
                continue
            value = allowed_node[kind]
            allowed[kind] = None if value is None else _hours(value, allowed_node, kind, out)
    return QuietHours(channels or frozenset(), purposes or frozenset(), allowed)


def _read_cooling(doc: Located, out: _Out) -> CoolingOff:
    node = _mapping(doc, "cooling_off", out)
    if node is None:
        return CoolingOff(frozenset())
    _unknown_keys(node, ("purposes", "open_recovery_case", "after_complaint_days",
                         "after_declined_offer_days"), "cooling_off", out)
    purposes = _names(node.get("purposes", []), CONTACT_PURPOSES, "purpose", node,
                      "purposes", out, "cooling_off")
    case = node.get("open_recovery_case", False)
    if not isinstance(case, bool):
        out.add("open_recovery_case must be true or false", node, "open_recovery_case")
    return CoolingOff(purposes or frozenset(), case is True,
                      _days(node, "after_complaint_days", out),
                      _days(node, "after_declined_offer_days", out))


def _read_basis(doc: Located, out: _Out) -> dict[tuple[str, str], str]:
    node = _mapping(doc, "purposes", out, required=True)
    basis: dict[tuple[str, str], str] = {}
    if node is None:
        return basis
    for purpose, spec in node.items():
        where = f"purpose {purpose}"
        if purpose not in CONTACT_PURPOSES:
            out.add(f"unknown purpose '{purpose}'.{did_you_mean(str(purpose), CONTACT_PURPOSES)}"
                    f" Known: {', '.join(CONTACT_PURPOSES)}", node, str(purpose))
            continue
        # `marketing: opt_in` is short for `marketing: {basis: opt_in}`
        value = spec.get("basis") if isinstance(spec, Located) else spec
        if isinstance(spec, Located):
            _unknown_keys(spec, ("basis",), where, out)
        by_direction = value if isinstance(value, Located) else dict.fromkeys(DIRECTIONS, value)
        if isinstance(value, Located):
            _unknown_keys(value, DIRECTIONS, f"{where} basis", out)
        for direction in DIRECTIONS:
            b = by_direction.get(direction)
            if b not in BASES:
                at = value if isinstance(value, Located) else spec
                out.add(f"basis must be opt_in or opt_out, or a mapping of inbound and "
                        f"outbound to them (got {b!r}).{did_you_mean(str(b), BASES)}",
                        at if isinstance(at, Located) else node,
                        direction if isinstance(value, Located) else (
                            "basis" if isinstance(spec, Located) else str(purpose)),
                        where)
                break
            basis[(purpose, direction)] = b
    for purpose in CONTACT_PURPOSES:
        if purpose not in node:
            out.add(f"purpose '{purpose}' needs a basis (opt_in or opt_out)", node, None)
    return basis


def build_contact_policy(doc: Located, file: str = "") -> ContactPolicy:
    out = _Out()
    for key in doc:
        if key not in SECTIONS:
            out.add(f"unknown section '{key}'.{did_you_mean(str(key), SECTIONS)} Known: "
                    f"{', '.join(SECTIONS)}", doc, str(key))
    meta = _mapping(doc, "policy", out, required=True)
    name = str(meta.get("name") or "contact policy") if meta is not None else ""
    given = str(meta.get("version", "")) if meta is not None else ""
    defaults = _mapping(doc, "defaults", out) or Located()
    zone = defaults.get("time_zone", "Europe/Moscow")
    try:
        zoneinfo.ZoneInfo(str(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        out.add(f"unknown time zone {zone!r}; use a name like Europe/Moscow or Europe/Sofia",
                defaults, "time_zone")
    country = defaults.get("country", "RU")
    if not supported_country(country):
        out.add(f"unknown country {country!r}; give an ISO code like RU or BG", defaults,
                "country")
    language = str(defaults.get("language", "ru"))
    basis = _read_basis(doc, out)
    caps = _read_caps(doc, out)
    quiet = _read_quiet(doc, out)
    cooling = _read_cooling(doc, out)
    if out.problems:
        raise ContactPolicyError(out.problems)
    digest = hashlib.sha256(json.dumps(_plain(doc), sort_keys=True, default=str)
                            .encode()).hexdigest()[:12]
    return ContactPolicy(name=name, version=f"{given}+{digest}" if given else digest,
                         file=file, time_zone=str(zone), country=str(country),
                         language=language, basis=basis, caps=caps, quiet_hours=quiet,
                         cooling_off=cooling)


def supported_country(code: object) -> bool:
    import holidays  # the public holidays of every country it knows (pinned)

    return isinstance(code, str) and code in holidays.list_supported_countries()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
