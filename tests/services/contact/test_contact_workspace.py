"""The contact policy over a real workspace: consents imported from the bank and recorded
through clientlens, the contact log, recovery cases and departures, on a SQLite and a
PostgreSQL application database; and the commands as a user runs them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from clientlens.appdb import Base, head_revision
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.services.contact import commands, records
from clientlens.services.relationship import recovery
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import Workspace
from tests.support.cli import cli

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
CUSTOMERS = """customer_id,full_name,customer_type,registered_on
C1,Иванова Мария,retail,2020-01-01
C2,Петров Иван,retail,2021-05-05
C3,Георгиева Анна,retail,2022-02-02
"""
CONSENTS = ("consent_id,customer_id,purpose,channel,status,effective_from,source,recorded_by,"
            "reference\n") + """K1,C1,marketing,any,granted,2025-01-10 10:00:00,internet,,
K2,C1,marketing,sms,withdrawn,2026-03-02 11:20:00,branch,ivanova,DOC-1
K3,C2,marketing,smss,granted,2026-03-02 11:20:00,branch,ivanova,DOC-2
K4,C3,marketing,any,granted,2026-01-01 09:00:00,mobile,,
"""
INTERACTIONS = """interaction_id,customer_id,ts,channel,kind
I1,C2,2026-12-20 10:00:00,branch,complaint
"""


@pytest.fixture
def workspace(app_db_settings: str, tmp_path: Path) -> Path:
    root = tmp_path / "bank"
    jobs.init(root)
    with (root / "clientlens.yaml").open("a", encoding="utf-8") as f:
        f.write(app_db_settings)
    files = []
    for name, text in (("customers", CUSTOMERS), ("consents", CONSENTS),
                       ("interactions", INTERACTIONS)):
        path = tmp_path / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    reports = jobs.import_files(root, files)
    consents = next(r for r in reports if r.table == "consents")
    assert (consents.rows_loaded, consents.rows_quarantined) == (3, 1)
    assert any("channel" in reason and "any" in reason for reason in consents.reasons)
    return root


def msk(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


def suppressed(d) -> list[str]:  # noqa: ANN001
    return [s.rule for s in d.suppressions]


def test_the_migrated_schema_matches_the_models(workspace: Path) -> None:
    with Workspace(workspace).app_db() as db, db.engine.connect() as conn:
        assert head_revision() == "0010"
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_imported_and_recorded_consents_decide_together(workspace: Path) -> None:
    when = msk(2027, 1, 13, 12)
    d = commands.check(workspace, "C1", "sms", "marketing", at=when)
    assert suppressed(d) == ["consent"]
    assert d.suppressions[0].text.startswith("consent withdrawn 2026-03-02 via branch by ivanova")
    assert commands.check(workspace, "C1", "email", "marketing", at=when).allowed
    # a later consent recorded in clientlens outranks the bank's older withdrawal
    commands.record_consent(workspace, "C1", purpose="marketing", channel="sms",
                            status="granted", source="mobile", recorded_by="app",
                            effective_from=msk(2026, 12, 1, 9))
    assert commands.check(workspace, "C1", "sms", "marketing", at=when).allowed
    # and the do-not-contact overrides both, for service too
    commands.record_consent(workspace, "C1", purpose="all", channel="any", status="withdrawn",
                            source="call_centre", recorded_by="petrova",
                            effective_from=msk(2027, 1, 2, 9))
    for channel, purpose in (("sms", "marketing"), ("email", "service"), ("atm", "surveys")):
        d = commands.check(workspace, "C1", channel, purpose, at=when)
        assert suppressed(d) == ["do_not_contact"], (channel, purpose)
    view = commands.show_consent(workspace, "C1", at=when)
    assert view.do_not_contact is not None and view.do_not_contact.source == "call_centre"
    assert view.grid[("marketing", "sms")][0] == "granted"
    assert [r.origin for r in view.records] == ["bank", "bank", "clientlens", "clientlens"]


def test_the_unknown_channel_row_is_quarantined_and_the_complaint_cools_off(
        workspace: Path) -> None:
    when = msk(2027, 1, 13, 12)
    d = commands.check(workspace, "C2", "email", "marketing", at=when)
    assert suppressed(d) == ["consent", "complaint"]  # the smss row never arrived
    assert "complaint on 2026-12-20: cooling-off until 2027-01-19" in d.suppressions[1].text
    assert suppressed(commands.check(workspace, "C2", "email", "service", at=when)) == []


def test_the_log_counts_toward_caps_once_per_source_ref(workspace: Path) -> None:
    for day in (11, 12):
        _, contact_id, new = commands.log(workspace, "C3", "sms", "marketing",
                                          recorded_by="dialler", at=msk(2027, 1, day, 12),
                                          source_ref=f"SMS-{day}")
        assert new
    again = commands.log(workspace, "C3", "sms", "marketing", recorded_by="dialler",
                         at=msk(2027, 1, 12, 12), source_ref="SMS-12")
    assert again[1] == contact_id and again[2] is False
    d = commands.check(workspace, "C3", "sms", "marketing", at=msk(2027, 1, 14, 12))
    assert [s.text for s in d.suppressions] == ["SMS weekly cap 2 of 2, purpose marketing"]
    # the next ISO week starts on Monday 2027-01-18
    assert commands.check(workspace, "C3", "sms", "marketing", at=msk(2027, 1, 18, 12)).allowed
    decision, contact_id, _ = commands.log(workspace, "C3", "sms", "marketing",
                                           recorded_by="dialler", at=msk(2027, 1, 14, 13),
                                           enforce=True)
    assert contact_id is None and not decision.allowed
    assert len(commands.history(workspace, "C3")) == 2


def test_open_case_departure_pause_and_preferences(workspace: Path) -> None:
    when = msk(2027, 1, 13, 12)
    with Workspace(workspace).app_db() as db:
        recovery.open_case(db, "C3", dt.date(2027, 1, 5), "card_fee", "", "ivanova", 5)
    assert suppressed(commands.check(workspace, "C3", "email", "marketing", at=when)) == \
        ["recovery_case"]
    commands.pause(workspace, "C3", dt.date(2027, 2, 1), dt.date(2027, 2, 10),
                   recorded_by="ivanova", reason="abroad")
    assert "pause" in suppressed(commands.check(workspace, "C3", "email", "cross_sell",
                                                at=msk(2027, 2, 5, 12)))
    # the customer lives in Sofia: 2027-03-03 is a holiday there, not in Moscow
    commands.prefer(workspace, "C3", recorded_by="ivanova", time_zone="Europe/Sofia",
                    country="BG", language="bg", preferred_channel="email")
    d = commands.check(workspace, "C3", "outbound_call", "cross_sell",
                       at=dt.datetime(2027, 3, 3, 11, 0))  # naive: the customer's local time
    assert d.time_zone == "Europe/Sofia" and d.local_time.hour == 11 and d.language == "bg"
    assert "quiet_hours" in suppressed(d)
    assert any("prefers e-mail" in n for n in d.notes)


def test_bad_values_are_one_clear_line(workspace: Path) -> None:
    with pytest.raises(ClientlensError) as e:
        commands.check(workspace, "C1", "smss", "marketing")
    assert str(e.value).startswith("unknown channel 'smss'. Did you mean 'sms'?")
    with pytest.raises(ClientlensError, match="unknown purpose 'marketting'. Did you mean "
                                              "'marketing'"):
        commands.record_consent(workspace, "C1", purpose="marketting", channel="sms",
                                status="granted", source="branch", recorded_by="x")
    with pytest.raises(ClientlensError, match="do-not-contact: it takes channel 'any'"):
        commands.record_consent(workspace, "C1", purpose="all", channel="sms",
                                status="withdrawn", source="branch", recorded_by="x")
    with pytest.raises(NotFoundError, match="Did you mean 'C1'"):
        commands.check(workspace, "c1", "sms", "marketing")
    with pytest.raises(ClientlensError, match="unknown outcome 'declned'. Did you mean "
                                              "'declined'"):
        commands.log(workspace, "C1", "sms", "marketing", recorded_by="x", outcome="declned")
    with Workspace(workspace).app_db() as db:
        assert records.contacts(db, "C1") == []  # nothing half-written


def test_the_commands_as_a_user_runs_them(workspace: Path) -> None:
    w = ["-w", str(workspace)]
    ok = cli("contact", "check", "C1", "--channel", "email", "--purpose", "marketing",
             "--at", "2027-01-13T12:00", *w)
    assert ok.stdout.startswith("allowed C1: email, marketing at 2027-01-13 12:00 Europe/Moscow")
    no = cli("contact", "check", "C1", "--channel", "sms", "--purpose", "marketing",
             "--at", "2027-01-07T12:00", *w, check=False)
    assert no.returncode == 3
    assert "consent withdrawn 2026-03-02 via branch" in no.stdout
    assert "2027-01-07 is a public holiday in Russia (Christmas Day)" in no.stdout
    bad = cli("contact", "check", "C1", "--channel", "smss", "--purpose", "marketing", *w,
              check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "Did you mean 'sms'?" in bad.stderr
    logged = cli("contact", "log", "C1", "--channel", "email", "--purpose", "marketing",
                 "--by", "petrova", "--at", "2027-01-13T12:30", "--source-ref", "E-1", *w)
    assert "Logged contact" in logged.stdout
    rec = cli("consent", "record", "C1", "--purpose", "marketing", "--channel", "email",
              "--status", "withdrawn", "--source", "branch", "--by", "ivanova",
              "--effective", "2027-01-13T13:00", *w)
    assert "withdrawn" in rec.stdout
    shown = cli("consent", "show", "C1", "--at", "2027-01-14T12:00", *w)
    assert "withdrawn 2027-01-13 via branch" in shown.stdout
    policy = workspace / "definitions" / "contact_policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("period: week", "period: weak",
                                                                 1), encoding="utf-8")
    broken = cli("contact", "check", "C1", "--channel", "sms", "--purpose", "marketing", *w,
                 check=False)
    assert broken.returncode == 1 and broken.stderr.strip().count("\n") == 0
    assert "contact_policy.yaml:" in broken.stderr and "Did you mean 'week'?" in broken.stderr
    checked = cli("check", *w, check=False)
    assert checked.returncode == 1 and "Did you mean 'week'?" in checked.stderr
    for group in ("contact", "consent"):
        assert "Quick start" in cli(group, "--help").stdout
    assert "Example" in cli("contact", "check", "--help").stdout
