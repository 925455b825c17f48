"""contact_policy.yaml is checked like the rulebook: every problem with its file and
line, "did you mean" for unknown names, and a single problem is a single line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from clientlens.definitions.contact_policy import ContactPolicyError, load_contact_policy
from clientlens.services.contact.policy import DEFAULT_POLICY

GOOD = DEFAULT_POLICY.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contact_policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_policy_loads_with_its_version() -> None:
    p = load_contact_policy(DEFAULT_POLICY)
    assert p.version.startswith("1+") and len(p.version) == 14
    assert p.basis[("marketing", "outbound")] == "opt_in"
    assert p.basis[("marketing", "inbound")] == "opt_out"
    assert {c.id for c in p.caps} >= {"sms_weekly", "outbound_daily"}
    assert p.quiet_hours is not None and p.quiet_hours.allowed["holiday"] is None
    assert p.quiet_hours.allowed["weekday"] == (dt.time(9), dt.time(21))
    assert p.cooling_off.after_complaint_days == 30


def test_a_changed_policy_gets_another_version(tmp_path: Path) -> None:
    a = load_contact_policy(write(tmp_path, GOOD))
    b = load_contact_policy(write(tmp_path, GOOD.replace("max: 2", "max: 3", 1)))
    assert a.version != b.version and a.version.split("+")[0] == b.version.split("+")[0]


def test_unknown_channel_names_file_line_and_the_close_one(tmp_path: Path) -> None:
    text = GOOD.replace("channel: sms\n", "channel: smss\n", 1)
    path = write(tmp_path, text)
    with pytest.raises(ContactPolicyError) as e:
        load_contact_policy(path)
    message = str(e.value)
    assert "\n" not in message
    assert f"{path}:{line_of(text, 'smss')}" in message
    assert "unknown channel 'smss'. Did you mean 'sms'?" in message
    assert "(cap sms_weekly)" in message


def test_malformed_yaml_is_one_line_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("    period: week\n", "    period: [week\n", 1)
    path = write(tmp_path, text)
    with pytest.raises(ContactPolicyError) as e:
        load_contact_policy(path)
    assert "\n" not in str(e.value)
    assert str(path) + ":" in str(e.value) and "YAML" in str(e.value)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("period: week", "period: weak", "unknown period 'weak'. Did you mean 'week'?"),
    ("max: 2", "max: -1", "max must be a whole number, 0 or more"),
    ("purpose: marketing\n", "purpose: marketting\n",
     "unknown purpose 'marketting'. Did you mean 'marketing'?"),
    ("basis: opt_out}", "basis: opt_ot}", "Did you mean 'opt_out'?"),
    ('weekday: ["09:00", "21:00"]', 'weekday: ["21:00", "09:00"]', "09:00 is not after 21:00"),
    ('weekday: ["09:00", "21:00"]', 'weekday: ["9am", "21:00"]', "two times like"),
    ("country: RU ", "country: XX ", "unknown country 'XX'"),
    ("time_zone: Europe/Moscow", "time_zone: Europe/Mosco", "unknown time zone"),
    ("after_complaint_days: 30", "after_complaint_days: soon", "whole number of days"),
    ("channels: [outbound_call, sms]", "channels: [atm, sms]", "channel 'atm' is inbound"),
    ("  open_recovery_case: true", "  open_recovery_case: true\n  colling: 1",
     "unknown key 'colling' in cooling_off"),
])
def test_each_mistake_is_named_at_its_line(tmp_path: Path, old: str, new: str,
                                            expected: str) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    path = write(tmp_path, text)
    with pytest.raises(ContactPolicyError) as e:
        load_contact_policy(path)
    problem = e.value.problems[0]
    assert expected in problem.message
    assert problem.file == str(path)
    assert problem.line == line_of(text, new.strip().split("\n")[-1].strip())


def test_every_problem_at_once(tmp_path: Path) -> None:
    text = (GOOD.replace("period: week", "period: weak", 1)
            .replace("channel: outbound_call", "channel: outbund_call", 1)
            .replace("quiet_hours:", "quite_hours:", 1))
    with pytest.raises(ContactPolicyError) as e:
        load_contact_policy(write(tmp_path, text))
    messages = " | ".join(p.message for p in e.value.problems)
    assert "weak" in messages and "outbund_call" in messages and "quite_hours" in messages
    assert str(e.value).startswith("3 problems in the definitions:")


def test_a_purpose_without_a_basis_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("  surveys: {basis: opt_out}\n", "", 1)
    with pytest.raises(ContactPolicyError, match="purpose 'surveys' needs a basis"):
        load_contact_policy(write(tmp_path, text))


def test_a_bare_basis_is_short_for_the_mapping(tmp_path: Path) -> None:
    text = GOOD.replace("  cross_sell: {basis: opt_out}", "  cross_sell: opt_in", 1)
    policy = load_contact_policy(write(tmp_path, text))
    assert policy.basis[("cross_sell", "inbound")] == "opt_in"
    with pytest.raises(ContactPolicyError, match="Did you mean 'opt_in'"):
        load_contact_policy(write(tmp_path, text.replace("cross_sell: opt_in",
                                                         "cross_sell: optin")))


def test_a_new_workspace_gets_the_policy_and_an_older_one_the_default(tmp_path: Path) -> None:
    from clientlens.services.contact import commands
    from clientlens.services.workspace import jobs

    root = tmp_path / "bank"
    jobs.init(root)
    assert commands.check_policy(root).file == str(root / "definitions" / "contact_policy.yaml")
    (root / "definitions" / "contact_policy.yaml").unlink()
    assert commands.check_policy(root).file == str(DEFAULT_POLICY)
