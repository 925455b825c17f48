"""The contact policy's caps, quiet hours and consent precedence, written the plain way:
the oracle the property tests hold ``services/contact/rules.py`` to.

Where the service computes the period's bounds and compares instants, the oracle
compares calendar keys of local times (the date, the ISO year and week, the year and
month); where the service sorts by a precedence tuple, the oracle narrows the records
step by step as the documentation says it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import holidays

from clientlens.model.contact import CONTACT_CHANNELS


def period_key(local: dt.datetime, period: str) -> tuple:
    if period == "day":
        return (local.date(),)
    if period == "week":
        iso = local.isocalendar()
        return (iso.year, iso.week)
    return (local.year, local.month)


def cap_hits(policy, proposal, contacts, zone_name: str) -> set[str]:
    """Ids of the caps the proposal would exceed."""
    zone = zoneinfo.ZoneInfo(zone_name)
    direction = {n: c.direction for n, c in CONTACT_CHANNELS.items()}

    def counted(cap, channel: str, purpose: str) -> bool:
        if cap.channels is not None and channel not in cap.channels:
            return False
        if cap.direction is not None and direction[channel] != cap.direction:
            return False
        return cap.purposes is None or purpose in cap.purposes

    hits = set()
    for cap in policy.caps:
        if not counted(cap, proposal.channel, proposal.purpose):
            continue
        if cap.per_campaign and proposal.campaign is None:
            continue
        key = period_key(proposal.at.astimezone(zone), cap.period)
        n = 0
        for c in contacts:
            if not counted(cap, c.channel, c.purpose):
                continue
            if cap.per_campaign and c.campaign != proposal.campaign:
                continue
            if period_key(c.at.astimezone(zone), cap.period) == key:
                n += 1
        if n >= cap.max:
            hits.add(cap.id)
    return hits


def is_quiet(policy, proposal, zone_name: str, country: str) -> bool:
    quiet = policy.quiet_hours
    if quiet is None:
        return False
    if proposal.channel not in quiet.channels or proposal.purpose not in quiet.purposes:
        return False
    local = proposal.at.astimezone(zoneinfo.ZoneInfo(zone_name))
    day = local.date()
    if day in holidays.country_holidays(country, years=day.year):
        window = quiet.allowed["holiday"]
    elif day.isoweekday() in (6, 7):
        window = quiet.allowed["weekend"]
    else:
        window = quiet.allowed["weekday"]
    if window is None:
        return True
    minutes = local.hour * 60 + local.minute + local.second / 60
    start = window[0].hour * 60 + window[0].minute
    end = window[1].hour * 60 + window[1].minute
    return not (start <= minutes < end)


def consent_status(records, purpose: str, channel: str, at: dt.datetime) -> str | None:
    """granted, withdrawn, or None when no record applies."""
    applying = [r for r in records if r.purpose == purpose
                and r.channel in (channel, "any") and r.effective_from <= at]
    if not applying:
        return None
    latest = max(r.effective_from for r in applying)
    applying = [r for r in applying if r.effective_from == latest]
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    newest = max(r.recorded_at or floor for r in applying)
    applying = [r for r in applying if (r.recorded_at or floor) == newest]
    own = [r for r in applying if r.channel == channel]
    applying = own or applying
    return "withdrawn" if any(r.status == "withdrawn" for r in applying) else "granted"


def on_do_not_contact(records, at: dt.datetime) -> bool:
    return consent_status([r for r in records if r.purpose == "all"], "all", "any",
                          at) == "withdrawn"
