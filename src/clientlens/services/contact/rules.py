"""What the contact policy says about one proposed contact, given the customer's facts.

Pure functions over plain values: no database, no clock. ``decide`` takes the policy,
the proposal and everything known about the customer (consents from the bank and from
clientlens, past contacts, pauses, preferences, open cases, complaints) and returns a
``Decision``: allowed, or suppressed with every reason spelled out the way segment
explanations are ("SMS weekly cap 2 of 2, purpose marketing", "consent withdrawn
2026-03-02 via branch"). ``services/contact/policy.py`` gathers the facts.

Rules, in the order their reasons are listed:

1. do-not-contact: the latest ``all``/``any`` consent record in effect is a withdrawal,
   or the customer asked not to be contacted on leaving. Overrides everything, service
   contacts included.
2. consent: the latest record in effect for the purpose on the channel (or on ``any``
   channel) wins; on the same moment a later-recorded one, then a channel's own record
   over ``any``, then a withdrawal over a grant. Withdrawn suppresses; none suppresses
   when the purpose needs an opt-in on the channel's direction.
3. a pause window the customer asked for (every purpose but service).
4. cooling-off: an open recovery case, a complaint within N days, the same offer
   declined within N days (for the purposes the policy lists).
5. quiet hours and quiet days in the customer's time zone and country.
6. caps: contacts in the log in the same calendar day, ISO week or month (customer's
   time zone) that the cap counts; at the cap, suppressed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from clientlens.definitions.contact_policy import Cap, ContactPolicy
from clientlens.model.contact import ALL_PURPOSES, ANY_CHANNEL, CONTACT_CHANNELS

COUNTRY_NAMES = {"RU": "Russia", "BG": "Bulgaria"}
PERIOD_WORDS = {"day": "daily", "week": "weekly", "month": "monthly"}
UTC = dt.UTC


@dataclass(frozen=True)
class Proposal:
    customer_id: str
    channel: str
    purpose: str
    at: dt.datetime  # aware
    campaign: str | None = None
    offer: str | None = None


@dataclass(frozen=True)
class ConsentRecord:
    purpose: str
    channel: str
    status: str
    effective_from: dt.datetime  # aware
    source: str
    recorded_by: str | None = None
    reference: str | None = None
    origin: str = "clientlens"  # "bank" (imported) or "clientlens" (recorded)
    record_id: str = ""
    recorded_at: dt.datetime | None = None


@dataclass(frozen=True)
class PastContact:
    channel: str
    purpose: str
    at: dt.datetime  # aware
    campaign: str | None = None
    offer: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Pause:
    starts_on: dt.date
    ends_on: dt.date
    reason: str = ""


@dataclass(frozen=True)
class Preference:
    preferred_channel: str | None = None
    language: str | None = None
    time_zone: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class CustomerFacts:
    consents: tuple[ConsentRecord, ...] = ()
    contacts: tuple[PastContact, ...] = ()
    pauses: tuple[Pause, ...] = ()
    preference: Preference = field(default_factory=Preference)
    open_case_since: dt.date | None = None
    complaints: tuple[dt.datetime, ...] = ()  # aware
    left_do_not_contact: dt.date | None = None  # departure recorded with do-not-contact


@dataclass(frozen=True)
class Suppression:
    rule: str  # do_not_contact, consent, pause, recovery_case, complaint, declined_offer,
    # quiet_hours, cap <id>
    text: str


@dataclass(frozen=True)
class Decision:
    proposal: Proposal
    suppressions: tuple[Suppression, ...]
    notes: tuple[str, ...]
    time_zone: str
    local_time: dt.datetime
    language: str
    policy_version: str

    @property
    def allowed(self) -> bool:
        return not self.suppressions


# -- calendars -----------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> dict[dt.date, str]:
    import holidays  # pinned; its calendars of Russia and Bulgaria include moved days

    # Names in English whatever the process's locale: the library otherwise follows
    # LANG, and without one names a Russian holiday in Russian.
    calendar = holidays.country_holidays(country, years=year)
    english = "en_US" if "en_US" in calendar.supported_languages else None
    return dict(holidays.country_holidays(country, years=year, language=english).items())


def holiday_name(day: dt.date, country: str) -> str | None:
    """The public holiday ``day`` is in ``country``, if any."""
    return _holidays(country, day.year).get(day)


def day_kind(day: dt.date, country: str) -> str:
    """holiday, weekend or weekday."""
    if holiday_name(day, country) is not None:
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"


def period_bounds(local: dt.datetime, period: str) -> tuple[dt.datetime, dt.datetime]:
    """The calendar day, ISO week (Monday to Sunday) or month holding ``local`` (an aware
    local time), as aware local midnights [start, end)."""
    day = local.date()
    if period == "day":
        start, end = day, day + dt.timedelta(days=1)
    elif period == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(period)
    zone = local.tzinfo
    return (dt.datetime.combine(start, dt.time(), zone),
            dt.datetime.combine(end, dt.time(), zone))


# -- consent ---------------------------------------------------------------------------


def _precedence(r: ConsentRecord) -> tuple:
    return (r.effective_from, r.recorded_at or dt.datetime.min.replace(tzinfo=UTC),
            r.channel != ANY_CHANNEL, r.status == "withdrawn")


def effective_consent(consents: Iterable[ConsentRecord], purpose: str, channel: str,
                      at: dt.datetime) -> ConsentRecord | None:
    """The record that decides ``purpose`` on ``channel`` at ``at`` (None: no record)."""
    applying = [r for r in consents if r.purpose == purpose
                and r.channel in (channel, ANY_CHANNEL) and r.effective_from <= at]
    return max(applying, key=_precedence, default=None)


def do_not_contact(consents: Iterable[ConsentRecord], at: dt.datetime
                   ) -> ConsentRecord | None:
    """The withdrawal that puts the customer on do-not-contact at ``at``, if any."""
    latest = max((r for r in consents if r.purpose == ALL_PURPOSES and r.effective_from <= at),
                 key=_precedence, default=None)
    return latest if latest is not None and latest.status == "withdrawn" else None


def _evidence(r: ConsentRecord, zone: zoneinfo.ZoneInfo) -> str:
    when = r.effective_from.astimezone(zone).date().isoformat()
    by = f" by {r.recorded_by}" if r.recorded_by else ""
    return f"{when} via {r.source}{by}"


def _channel_words(channel: str) -> str:
    return "all channels" if channel == ANY_CHANNEL else CONTACT_CHANNELS[channel].label


# -- the decision ------------------------------------------------------------------------


def cap_text(cap: Cap, proposal: Proposal, count: int) -> str:
    if cap.channels is not None:
        what = "/".join(CONTACT_CHANNELS[c].label for c in sorted(cap.channels))
    elif cap.direction is not None:
        what = cap.direction
    else:
        what = "contact"
    text = f"{what} {PERIOD_WORDS[cap.period]} cap {count} of {cap.max}"
    if cap.purposes is not None:
        text += f", purpose {proposal.purpose}"
    if cap.per_campaign:
        text += f", campaign {proposal.campaign}"
    return text


def cap_count(cap: Cap, proposal: Proposal, contacts: Iterable[PastContact],
              zone: zoneinfo.ZoneInfo) -> int | None:
    """How many logged contacts count against ``cap`` in the proposal's period (None:
    the cap does not apply to the proposal)."""
    if not cap.counts(proposal.channel, proposal.purpose):
        return None
    if cap.per_campaign and proposal.campaign is None:
        return None
    start, end = period_bounds(proposal.at.astimezone(zone), cap.period)
    return sum(1 for c in contacts
               if cap.counts(c.channel, c.purpose)
               and (not cap.per_campaign or c.campaign == proposal.campaign)
               and start <= c.at < end)


def quiet_reason(policy: ContactPolicy, proposal: Proposal, zone: zoneinfo.ZoneInfo,
                 country: str) -> str | None:
    """Why ``proposal`` falls in quiet hours or on a quiet day, or None."""
    quiet = policy.quiet_hours
    if quiet is None or not quiet.applies(proposal.channel, proposal.purpose):
        return None
    local = proposal.at.astimezone(zone)
    kind = day_kind(local.date(), country)
    window = quiet.allowed.get(kind)
    label = CONTACT_CHANNELS[proposal.channel].label
    if window is None:
        if kind == "holiday":
            name = holiday_name(local.date(), country)
            place = COUNTRY_NAMES.get(country, country)
            return (f"quiet day: {local.date()} is a public holiday in {place} ({name}); no "
                    f"{label} for {proposal.purpose}")
        return f"quiet day: no {label} for {proposal.purpose} on a {kind}"
    start, end = window
    now = local.time().replace(tzinfo=None)
    if start <= now < end:
        return None
    return (f"quiet hours: {local:%H:%M} {local:%a} {local.date()} in {zone.key}; {label} for "
            f"{proposal.purpose} only {start:%H:%M}-{end:%H:%M} on a {kind}")


def decide(policy: ContactPolicy, proposal: Proposal, facts: CustomerFacts) -> Decision:
    pref = facts.preference
    zone = zoneinfo.ZoneInfo(pref.time_zone or policy.time_zone)
    country = pref.country or policy.country
    at = proposal.at
    local = at.astimezone(zone)
    out: list[Suppression] = []
    notes: list[str] = []
    purpose, channel = proposal.purpose, proposal.channel
    direction = CONTACT_CHANNELS[channel].direction

    dnc = do_not_contact(facts.consents, at)
    if dnc is not None:
        out.append(Suppression("do_not_contact", f"do-not-contact since {_evidence(dnc, zone)}"))
    if facts.left_do_not_contact is not None and facts.left_do_not_contact <= local.date():
        out.append(Suppression("do_not_contact", "asked not to be contacted on leaving "
                                                 f"{facts.left_do_not_contact}"))

    basis = policy.basis[(purpose, direction)]
    record = effective_consent(facts.consents, purpose, channel, at)
    scope = f"{purpose}, {_channel_words(record.channel if record else channel)}"
    if record is not None and record.status == "withdrawn":
        out.append(Suppression("consent", f"consent withdrawn {_evidence(record, zone)} "
                                          f"({scope})"))
    elif record is not None:
        notes.append(f"consent granted {_evidence(record, zone)} ({scope})")
    elif basis == "opt_in":
        out.append(Suppression("consent", f"no consent to {purpose} by {_channel_words(channel)}"
                                          f": {purpose} by {direction} channels needs an "
                                          "opt-in"))
    else:
        notes.append(f"{purpose} by {direction} channels is allowed until the customer opts "
                     "out; no opt-out recorded")

    if purpose != "service":
        for p in facts.pauses:
            if p.starts_on <= local.date() <= p.ends_on:
                why = f" ({p.reason})" if p.reason else ""
                out.append(Suppression("pause", f"contacts paused {p.starts_on} to "
                                                f"{p.ends_on}{why}"))

    cool = policy.cooling_off
    if purpose in cool.purposes:
        if cool.open_recovery_case and facts.open_case_since is not None \
                and facts.open_case_since <= local.date():
            out.append(Suppression("recovery_case", "a recovery case is open since "
                                                    f"{facts.open_case_since}"))
        if cool.after_complaint_days is not None:
            days = dt.timedelta(days=cool.after_complaint_days)
            recent = [c for c in facts.complaints if c <= at < c + days]
            if recent:
                last = max(recent)
                until = (last + days).astimezone(zone).date()
                out.append(Suppression("complaint", f"complaint on "
                                                    f"{last.astimezone(zone).date()}: "
                                                    f"cooling-off until {until}"))
        if cool.after_declined_offer_days is not None and proposal.offer is not None:
            days = dt.timedelta(days=cool.after_declined_offer_days)
            declined = [c.at for c in facts.contacts if c.outcome == "declined"
                        and c.offer == proposal.offer and c.at <= at < c.at + days]
            if declined:
                last = max(declined)
                out.append(Suppression("declined_offer", f"offer {proposal.offer} declined "
                                                         f"{last.astimezone(zone).date()}, "
                                                         f"not offered again for "
                                                         f"{cool.after_declined_offer_days} "
                                                         "days"))

    quiet = quiet_reason(policy, proposal, zone, country)
    if quiet is not None:
        out.append(Suppression("quiet_hours", quiet))

    for cap in policy.caps:
        count = cap_count(cap, proposal, facts.contacts, zone)
        if count is not None and count >= cap.max:
            out.append(Suppression(f"cap {cap.id}", cap_text(cap, proposal, count)))

    if pref.preferred_channel and pref.preferred_channel != channel:
        notes.append(f"prefers {CONTACT_CHANNELS[pref.preferred_channel].label}")
    return Decision(proposal, tuple(out), tuple(notes), zone.key, local,
                    pref.language or policy.language, policy.version)
