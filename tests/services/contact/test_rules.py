"""The contact policy's decision for one proposed contact: consent precedence, the
do-not-contact, holidays of Russia and Bulgaria, time zones, caps and cooling-off.

The property tests draw random policies, customers' contacts, consents, zones and
moments and hold ``rules.decide`` to the plain reference in ``tests/oracle/contact.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientlens.definitions.contact_policy import (
    Cap,
    ContactPolicy,
    CoolingOff,
    QuietHours,
    load_contact_policy,
)
from clientlens.model.contact import CONTACT_CHANNELS, CONTACT_PURPOSES
from clientlens.services.contact.policy import DEFAULT_POLICY
from clientlens.services.contact.rules import (
    ConsentRecord,
    CustomerFacts,
    PastContact,
    Pause,
    Preference,
    Proposal,
    day_kind,
    decide,
    holiday_name,
    period_bounds,
)
from tests.oracle import contact as oracle

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
SOF = zoneinfo.ZoneInfo("Europe/Sofia")
POLICY = load_contact_policy(DEFAULT_POLICY)
ZONES = ("Europe/Moscow", "Europe/Sofia", "Asia/Vladivostok", "Europe/Kaliningrad", "UTC")
CHANNELS = tuple(CONTACT_CHANNELS)
PURPOSES = tuple(CONTACT_PURPOSES)
BASE = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def at(*args: int, tz: zoneinfo.ZoneInfo = MSK) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


def consent(purpose: str, channel: str, status: str, when: dt.datetime,
            source: str = "branch", **kw: object) -> ConsentRecord:
    return ConsentRecord(purpose, channel, status, when, source, **kw)  # type: ignore[arg-type]


def rules(d) -> list[str]:  # noqa: ANN001
    return [s.rule for s in d.suppressions]


# -- explanations and examples -----------------------------------------------------------


def test_the_two_explanations_of_the_issue() -> None:
    facts = CustomerFacts(
        consents=(consent("marketing", "any", "granted", at(2025, 1, 1, 10)),
                  consent("marketing", "any", "withdrawn", at(2026, 3, 2, 11, 20))),
        contacts=(PastContact("sms", "marketing", at(2027, 1, 11, 12)),
                  PastContact("sms", "marketing", at(2027, 1, 12, 12))))
    d = decide(POLICY, Proposal("C1", "sms", "marketing", at(2027, 1, 14, 12)), facts)
    texts = [s.text for s in d.suppressions]
    assert not d.allowed
    assert texts[0].startswith("consent withdrawn 2026-03-02 via branch")
    assert "SMS weekly cap 2 of 2, purpose marketing" in texts


def test_allowed_when_nothing_stands_in_the_way() -> None:
    facts = CustomerFacts(consents=(consent("marketing", "email", "granted", at(2026, 1, 5)),))
    d = decide(POLICY, Proposal("C1", "email", "marketing", at(2027, 1, 13, 12)), facts)
    assert d.allowed and d.suppressions == ()
    assert any("consent granted 2026-01-05 via branch" in n for n in d.notes)


def test_opt_in_needs_a_record_and_opt_out_does_not() -> None:
    when = at(2027, 1, 13, 12)
    d = decide(POLICY, Proposal("C1", "sms", "marketing", when), CustomerFacts())
    assert rules(d) == ["consent"] and "needs an opt-in" in d.suppressions[0].text
    # the ATM screen is inbound: marketing there is allowed until the customer opts out
    assert decide(POLICY, Proposal("C1", "atm", "marketing", when), CustomerFacts()).allowed
    assert decide(POLICY, Proposal("C1", "sms", "cross_sell", when), CustomerFacts()).allowed


# -- consent precedence ------------------------------------------------------------------


def test_latest_effective_record_wins_not_the_latest_recorded() -> None:
    late_recorded_older = consent("marketing", "sms", "granted", at(2026, 1, 1),
                                  recorded_at=at(2026, 6, 1))
    newer = consent("marketing", "sms", "withdrawn", at(2026, 3, 1),
                    recorded_at=at(2026, 3, 1))
    d = decide(POLICY, Proposal("C1", "sms", "marketing", at(2027, 1, 13, 12)),
               CustomerFacts(consents=(late_recorded_older, newer)))
    assert rules(d) == ["consent"]


def test_a_future_dated_record_is_not_yet_in_effect() -> None:
    facts = CustomerFacts(consents=(
        consent("marketing", "any", "granted", at(2026, 1, 1)),
        consent("marketing", "any", "withdrawn", at(2027, 2, 1))))
    assert decide(POLICY, Proposal("C1", "sms", "marketing", at(2027, 1, 13, 12)), facts).allowed
    assert not decide(POLICY, Proposal("C1", "sms", "marketing", at(2027, 2, 2, 12)),
                      facts).allowed


def test_a_channel_record_after_an_any_record_wins_and_vice_versa() -> None:
    any_withdrawn = consent("marketing", "any", "withdrawn", at(2026, 1, 1))
    sms_granted = consent("marketing", "sms", "granted", at(2026, 2, 1))
    when = at(2027, 1, 13, 12)
    facts = CustomerFacts(consents=(any_withdrawn, sms_granted))
    assert decide(POLICY, Proposal("C1", "sms", "marketing", when), facts).allowed
    assert not decide(POLICY, Proposal("C1", "email", "marketing", when), facts).allowed
    later_any = consent("marketing", "any", "withdrawn", at(2026, 3, 1))
    facts = CustomerFacts(consents=(any_withdrawn, sms_granted, later_any))
    assert not decide(POLICY, Proposal("C1", "sms", "marketing", when), facts).allowed


def test_do_not_contact_overrides_later_grants_and_service() -> None:
    facts = CustomerFacts(consents=(
        consent("all", "any", "withdrawn", at(2026, 5, 1), source="call_centre",
                recorded_by="petrova"),
        consent("marketing", "sms", "granted", at(2026, 6, 1))))
    when = at(2027, 1, 13, 12)
    for channel in CHANNELS:
        for purpose in PURPOSES:
            d = decide(POLICY, Proposal("C1", channel, purpose, when), facts)
            assert "do_not_contact" in rules(d), (channel, purpose)
    d = decide(POLICY, Proposal("C1", "sms", "service", when), facts)
    assert d.suppressions[0].text == "do-not-contact since 2026-05-01 via call_centre by petrova"
    lifted = dataclasses.replace(facts, consents=(
        *facts.consents, consent("all", "any", "granted", at(2026, 7, 1))))
    assert decide(POLICY, Proposal("C1", "sms", "marketing", when), lifted).allowed


def test_leaving_with_do_not_contact_suppresses() -> None:
    facts = CustomerFacts(left_do_not_contact=dt.date(2026, 6, 30))
    d = decide(POLICY, Proposal("C1", "email", "service", at(2027, 1, 13, 12)), facts)
    assert rules(d) == ["do_not_contact"] and "on leaving 2026-06-30" in d.suppressions[0].text


records_st = st.lists(st.builds(
    ConsentRecord,
    purpose=st.sampled_from(("marketing", "surveys", "all")),
    channel=st.sampled_from(("sms", "email", "any")),
    status=st.sampled_from(("granted", "withdrawn")),
    effective_from=st.integers(0, 20).map(lambda d: BASE + dt.timedelta(days=d)),
    source=st.just("branch"),
    recorded_at=st.one_of(st.none(), st.integers(0, 3).map(
        lambda d: BASE + dt.timedelta(days=d))),
).filter(lambda r: (r.purpose == "all") == (r.channel == "any") or r.purpose != "all"),
    max_size=8)


@settings(max_examples=300, deadline=None)
@given(records=records_st, day=st.integers(0, 22), channel=st.sampled_from(("sms", "email")),
       purpose=st.sampled_from(("marketing", "surveys")))
def test_consent_precedence_matches_the_reference(records, day, channel, purpose) -> None:  # noqa: ANN001
    records = [r for r in records if r.purpose != "all" or r.channel == "any"]
    when = BASE + dt.timedelta(days=day, hours=12)
    d = decide(POLICY, Proposal("C1", channel, purpose, when), CustomerFacts(tuple(records)))
    status = oracle.consent_status(records, purpose, channel, when)
    dnc = oracle.on_do_not_contact(records, when)
    basis = POLICY.basis[(purpose, "outbound")]
    expected_consent = status == "withdrawn" or (status is None and basis == "opt_in")
    assert ("consent" in rules(d)) == expected_consent
    assert ("do_not_contact" in rules(d)) == dnc
    if dnc or expected_consent:
        assert not d.allowed


# -- holidays, quiet hours and time zones -------------------------------------------------


def test_orthodox_christmas_in_russia_and_liberation_day_in_bulgaria() -> None:
    assert holiday_name(dt.date(2027, 1, 7), "RU") == "Christmas Day"
    assert holiday_name(dt.date(2027, 3, 3), "BG") == "Liberation Day"
    assert day_kind(dt.date(2027, 3, 3), "RU") == "weekday"  # a Wednesday in Russia
    assert day_kind(dt.date(2027, 3, 3), "BG") == "holiday"
    assert day_kind(dt.date(2027, 3, 6), "BG") == "weekend"


def test_quiet_day_is_the_customers_countrys_holiday() -> None:
    granted = consent("marketing", "any", "granted", at(2026, 1, 1))
    bg = CustomerFacts(consents=(granted,), preference=Preference(time_zone="Europe/Sofia",
                                                                  country="BG"))
    ru = CustomerFacts(consents=(granted,))
    liberation = at(2027, 3, 3, 12, tz=SOF)
    d = decide(POLICY, Proposal("C1", "sms", "marketing", liberation), bg)
    assert rules(d) == ["quiet_hours"]
    assert "2027-03-03 is a public holiday in Bulgaria (Liberation Day)" in d.suppressions[0].text
    assert decide(POLICY, Proposal("C1", "sms", "marketing", liberation), ru).allowed
    christmas = at(2027, 1, 7, 12)
    assert rules(decide(POLICY, Proposal("C1", "sms", "marketing", christmas), ru)) == \
        ["quiet_hours"]
    assert decide(POLICY, Proposal("C1", "sms", "marketing", christmas), bg).allowed
    # service contacts and inbound impressions keep no quiet hours
    assert decide(POLICY, Proposal("C1", "sms", "service", christmas), ru).allowed
    assert decide(POLICY, Proposal("C1", "atm", "marketing", christmas), ru).allowed


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another() -> None:
    granted = (consent("marketing", "any", "granted", at(2026, 1, 1)),)
    instant = dt.datetime(2027, 1, 13, 12, 30, tzinfo=dt.UTC)  # Wednesday
    moscow = CustomerFacts(consents=granted)  # 15:30 local
    vladivostok = CustomerFacts(consents=granted,
                                preference=Preference(time_zone="Asia/Vladivostok"))  # 22:30
    assert decide(POLICY, Proposal("C1", "sms", "marketing", instant), moscow).allowed
    d = decide(POLICY, Proposal("C1", "sms", "marketing", instant), vladivostok)
    assert rules(d) == ["quiet_hours"]
    assert "22:30 Wed 2027-01-13 in Asia/Vladivostok" in d.suppressions[0].text
    assert d.time_zone == "Asia/Vladivostok" and d.local_time.hour == 22


def test_weekly_cap_is_the_customers_calendar_week() -> None:
    """The week a contact falls in is the customer's local week: two SMS sent on Sunday
    afternoon and evening (UTC) are last week in Moscow but this week in Vladivostok."""
    granted = (consent("marketing", "any", "granted", at(2026, 1, 1)),)
    sunday = (PastContact("sms", "marketing", dt.datetime(2027, 1, 10, 10, tzinfo=dt.UTC)),
              PastContact("sms", "marketing", dt.datetime(2027, 1, 10, 14, 30, tzinfo=dt.UTC)),
              PastContact("sms", "marketing", dt.datetime(2027, 1, 10, 20, tzinfo=dt.UTC)))
    monday = dt.datetime(2027, 1, 11, 7, 0, tzinfo=dt.UTC)  # 10:00 Moscow, 17:00 Vladivostok
    proposal = Proposal("C1", "sms", "marketing", monday)
    msk = CustomerFacts(consents=granted, contacts=sunday)
    vlat = CustomerFacts(consents=granted, contacts=sunday,
                         preference=Preference(time_zone="Asia/Vladivostok"))
    assert decide(POLICY, proposal, msk).allowed  # all three on Sunday in Moscow
    d = decide(POLICY, proposal, vlat)  # 00:30 and 06:00 Monday in Vladivostok
    assert "SMS weekly cap 2 of 2, purpose marketing" in [s.text for s in d.suppressions]
    one = decide(POLICY, proposal, dataclasses.replace(vlat, contacts=sunday[:2]))
    assert rules(one) == ["cap outbound_daily"]  # one SMS this week, but one today


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize("zone", ["Europe/Sofia", "Asia/Vladivostok"])
def test_period_bounds_hold_exactly_the_days_of_the_same_period(period: str, zone: str) -> None:
    """Every day of two years (Sofia's clock changes included): the bounds hold a moment
    exactly when it is in the same calendar day, ISO week or month."""
    tz = zoneinfo.ZoneInfo(zone)
    first = dt.date(2027, 1, 1)
    days = [first + dt.timedelta(days=n) for n in range(731)]
    for n in range(0, 731, 3):
        start, end = period_bounds(dt.datetime.combine(days[n], dt.time(12), tz), period)
        key = oracle.period_key(dt.datetime.combine(days[n], dt.time(12), tz), period)
        for other in days[max(0, n - 40):n + 40]:
            for hour in (0, 23):
                moment = dt.datetime.combine(other, dt.time(hour, 59), tz)
                assert (start <= moment < end) == (oracle.period_key(moment, period) == key)


# -- cooling-off and pauses ---------------------------------------------------------------


def test_cooling_off_after_complaint_open_case_and_declined_offer() -> None:
    when = at(2027, 1, 13, 12)
    base = (consent("marketing", "any", "granted", at(2026, 1, 1)),)
    complaint = CustomerFacts(consents=base, complaints=(at(2026, 12, 20, 10),))
    d = decide(POLICY, Proposal("C1", "email", "marketing", when), complaint)
    assert [s.text for s in d.suppressions] == ["complaint on 2026-12-20: cooling-off until "
                                                "2027-01-19"]
    assert decide(POLICY, Proposal("C1", "email", "marketing", at(2027, 1, 19, 12)),
                  complaint).allowed
    assert decide(POLICY, Proposal("C1", "email", "service", when), complaint).allowed
    case = CustomerFacts(consents=base, open_case_since=dt.date(2027, 1, 2))
    assert rules(decide(POLICY, Proposal("C1", "email", "cross_sell", when), case)) == \
        ["recovery_case"]
    declined = CustomerFacts(consents=base, contacts=(PastContact(
        "outbound_call", "cross_sell", at(2026, 11, 1, 12), offer="DEP-GROW",
        outcome="declined"),))
    d = decide(POLICY, Proposal("C1", "email", "marketing", when, offer="DEP-GROW"), declined)
    assert rules(d) == ["declined_offer"]
    assert decide(POLICY, Proposal("C1", "email", "marketing", when, offer="CARD-GOLD"),
                  declined).allowed


def test_a_pause_stops_all_but_service() -> None:
    facts = CustomerFacts(pauses=(Pause(dt.date(2027, 2, 1), dt.date(2027, 2, 28), "abroad"),))
    inside = at(2027, 2, 28, 20)
    assert rules(decide(POLICY, Proposal("C1", "email", "cross_sell", inside), facts)) == \
        ["pause"]
    assert decide(POLICY, Proposal("C1", "email", "service", inside), facts).allowed
    assert decide(POLICY, Proposal("C1", "email", "cross_sell", at(2027, 3, 1, 10)),
                  facts).allowed


# -- caps and quiet hours against the reference ---------------------------------------------

# A few channels, so caps' filters and the proposals meet often.
SOME = ("sms", "outbound_call", "email", "atm", "branch")
names = st.frozensets(st.sampled_from(SOME), min_size=1, max_size=3)
caps_st = st.lists(st.builds(
    Cap, id=st.just("x"), period=st.sampled_from(("day", "week", "month")),
    max=st.integers(0, 2), channels=st.one_of(st.none(), names),
    direction=st.sampled_from((None, "inbound", "outbound")),
    purposes=st.one_of(st.none(), st.frozensets(st.sampled_from(PURPOSES), min_size=1)),
    per_campaign=st.booleans()), min_size=1, max_size=3).map(
    lambda cs: tuple(dataclasses.replace(c, id=f"c{i}") for i, c in enumerate(cs)))
times = st.integers(0, 48 * 75).map(lambda m: BASE + dt.timedelta(minutes=30 * m))
EDGES = (0, 8, 9, 10, 18, 20, 21, 23)  # the hours windows open and close at, and midnight
hours = st.tuples(st.sampled_from(EDGES[1:]), st.sampled_from(EDGES[1:])).filter(
    lambda t: t[0] < t[1]).map(lambda t: (dt.time(t[0]), dt.time(t[1])))
quiet_st = st.builds(
    QuietHours,
    channels=st.frozensets(st.sampled_from(("sms", "outbound_call", "email", "post")),
                           min_size=1),
    purposes=st.frozensets(st.sampled_from(PURPOSES), min_size=1),
    allowed=st.fixed_dictionaries({"weekday": st.one_of(st.none(), hours),
                                   "weekend": st.one_of(st.none(), hours),
                                   "holiday": st.one_of(st.none(), hours)}))
# A moment as (days after BASE, hour, minute) in the customer's own zone: on a window's
# edge, at local midnight (where a day, week or month begins) or half an hour off.
local_st = st.tuples(st.integers(0, 75), st.sampled_from(EDGES), st.sampled_from((0, 30)))
contacts_st = st.lists(st.tuples(st.sampled_from(SOME), st.sampled_from(PURPOSES),
                                 st.tuples(st.integers(-9, 9), st.sampled_from(EDGES),
                                           st.sampled_from((0, 30))),
                                 st.sampled_from((None, "a", "b"))), max_size=20)


def local(zone: str, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(BASE.date() + dt.timedelta(days=day), dt.time(hour, minute),
                               zoneinfo.ZoneInfo(zone))


def open_policy(caps: tuple[Cap, ...], quiet: QuietHours | None) -> ContactPolicy:
    """Every purpose allowed until opted out, no cooling-off: only caps and quiet hours."""
    return dataclasses.replace(
        POLICY, caps=caps, quiet_hours=quiet, cooling_off=CoolingOff(frozenset()),
        basis={(p, d): "opt_out" for p in PURPOSES for d in ("inbound", "outbound")})


@settings(max_examples=1000, deadline=None)
@given(caps=caps_st, contacts=contacts_st, moment=local_st, channel=st.sampled_from(SOME),
       purpose=st.sampled_from(PURPOSES), campaign=st.sampled_from((None, "a", "b")),
       zone=st.sampled_from(ZONES))
def test_caps_match_the_reference(caps, contacts, moment, channel, purpose, campaign,  # noqa: ANN001
                                  zone) -> None:
    when = local(zone, *moment)
    past = [PastContact(c, p, local(zone, moment[0] + d, h, m), a)
            for c, p, (d, h, m), a in contacts]
    policy = open_policy(caps, None)
    proposal = Proposal("C1", channel, purpose, when, campaign)
    d = decide(policy, proposal, CustomerFacts(contacts=tuple(past),
                                               preference=Preference(time_zone=zone)))
    got = {r.removeprefix("cap ") for r in rules(d) if r.startswith("cap ")}
    assert got == oracle.cap_hits(policy, proposal, past, zone)
    assert d.allowed == (not got)


@settings(max_examples=1000, deadline=None)
@given(quiet=quiet_st, moment=local_st, data=st.data(), zone=st.sampled_from(ZONES),
       country=st.sampled_from(("RU", "BG")))
def test_quiet_hours_match_the_reference(quiet, moment, data, zone, country) -> None:  # noqa: ANN001
    # Mostly a channel and purpose the quiet hours cover, sometimes one they do not.
    channel = data.draw(st.sampled_from((*sorted(quiet.channels), "atm")))
    purpose = data.draw(st.sampled_from((*sorted(quiet.purposes), "service")))
    policy = open_policy((), quiet)
    proposal = Proposal("C1", channel, purpose, local(zone, *moment))
    d = decide(policy, proposal, CustomerFacts(
        preference=Preference(time_zone=zone, country=country)))
    assert ("quiet_hours" in rules(d)) == oracle.is_quiet(policy, proposal, zone, country)
    assert d.allowed == ("quiet_hours" not in rules(d))


@settings(max_examples=150, deadline=None)
@given(contacts=st.lists(st.builds(PastContact, channel=st.sampled_from(CHANNELS),
                                   purpose=st.sampled_from(PURPOSES), at=times,
                                   campaign=st.sampled_from((None, "a", "b"))), max_size=25),
       when=times, zone=st.sampled_from(ZONES))
def test_following_the_policy_never_breaks_a_cap(contacts, when, zone) -> None:  # noqa: ANN001
    """Contacts made only when the policy allows them never exceed any cap in any period."""
    policy = open_policy(POLICY.caps, None)
    made: list[PastContact] = []
    pref = Preference(time_zone=zone)
    for c in sorted(contacts, key=lambda c: c.at):
        p = Proposal("C1", c.channel, c.purpose, c.at, c.campaign)
        if decide(policy, p, CustomerFacts(contacts=tuple(made), preference=pref)).allowed:
            made.append(c)
    for cap in policy.caps:
        for c in made:
            p = Proposal("C1", c.channel, c.purpose, c.at, c.campaign)
            if not cap.counts(c.channel, c.purpose) or (cap.per_campaign and not c.campaign):
                continue
            same = [m for m in made if cap.counts(m.channel, m.purpose)
                    and (not cap.per_campaign or m.campaign == c.campaign)
                    and oracle.period_key(m.at.astimezone(zoneinfo.ZoneInfo(zone)), cap.period)
                    == oracle.period_key(p.at.astimezone(zoneinfo.ZoneInfo(zone)), cap.period)]
            assert len(same) <= cap.max, cap.id


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_has_a_direction_and_a_basis(channel: str) -> None:
    spec = CONTACT_CHANNELS[channel]
    for purpose in PURPOSES:
        assert POLICY.basis[(purpose, spec.direction)] in ("opt_in", "opt_out")
