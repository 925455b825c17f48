"""The member-get-member referral programme over the application database, on SQLite
and a real PostgreSQL (a fresh schema per test, like
tests/services/relationship/test_recovery.py)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from clientlens.appdb import AppDB, open_appdb
from clientlens.appdb.database import database_url
from clientlens.appdb.schema import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    ReferralProgramme,
    ReferralRegistration,
)
from clientlens.model.errors import ClientlensError, DefinitionError, NotFoundError
from clientlens.services.programmes import referrals as rf
from clientlens.services.programmes.referrals import InsufficientPoints, ReferralError
from clientlens.services.workspace.folder import DEFAULTS as WORKSPACE_DEFAULTS

DEFAULTS = WORKSPACE_DEFAULTS / "referrals"
D = dt.date(2026, 10, 1)
ADVOCATE = {"segment": "regular", "phase": "customer_management", "loyalty_grade": "A"}
ANNA = {"document": "4510 123456", "phone": "+7 (916) 555-01-01", "address": "Moscow, Tverskaya 1"}


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def person(n: int) -> dict[str, str]:
    return {"document": f"45{n:02d} 000{n:03d}", "phone": f"+7 900 000 {n:04d}",
            "address": f"Kazan, Lenina {n}"}


@pytest.fixture
def pg(postgres_url: str) -> Iterator[AppDB]:
    schema = f"cl_ref_{uuid.uuid4().hex[:10]}"
    appdb = open_appdb(postgres_url, schema=schema)
    yield appdb
    appdb.close()
    engine = create_engine(database_url(postgres_url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'drop schema if exists "{schema}" cascade'))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppDB]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg")
        return
    appdb = open_appdb(f"sqlite:///{tmp_path / 'app.sqlite'}")
    yield appdb
    appdb.close()


def write(tmp_path: Path, text_: str, name: str = "friends") -> Path:
    folder = tmp_path / "definitions" / "referrals"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text_, encoding="utf-8")
    return path


def friends(db: AppDB) -> None:
    rf.publish_programme(db, DEFAULTS / "friends.yaml")


def invite(db: AppDB, referrer: str = "C1", on: dt.date = D,
           identity: dict | None = None) -> str:
    return rf.issue_code(db, "friends", referrer, ADVOCATE, on,
                         referrer_identity=ANNA if identity is None else identity).code


def card(on: dt.date) -> dict:
    return {"kind": "product_opened", "on": on, "product_type": "card"}


def check_ledger(db: AppDB) -> None:
    """Every transaction sums to zero, every balance is the sum of its entries, no
    customer is below zero, every reward entry names its registration."""
    with db.transaction() as s:
        sums = s.execute(select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
                         .group_by(LedgerEntry.transaction_id)).all()
        assert all(total == 0 for _, total in sums)
        assert len(sums) == s.scalar(select(func.count()).select_from(LedgerTransaction))
        by_account = dict(s.execute(select(LedgerEntry.account, func.sum(LedgerEntry.amount))
                                    .group_by(LedgerEntry.account)).all())
        for acc in s.scalars(select(LedgerAccount)):
            assert acc.balance == by_account.get(acc.account, 0), acc.account
            if acc.kind == "customer":
                assert acc.balance >= 0
        for entry, tx in s.execute(select(LedgerEntry, LedgerTransaction).join(
                LedgerTransaction, LedgerTransaction.transaction_id
                == LedgerEntry.transaction_id)):
            if tx.kind == "reward":
                assert entry.registration_id == tx.registration_id is not None
                assert entry.event == f"reward:{tx.beneficiary_role}"


# -- definitions and publication -------------------------------------------------------


def test_the_default_programme_is_the_brief() -> None:
    p = rf.load_programme(DEFAULTS / "friends.yaml")
    assert p.id == "friends"
    assert p.referrer.segments == ["regular", "status", "social"]
    assert p.referrer.phases == ["customer_management"]
    assert p.referrer.grades == {"loyalty_grade": ["A", "B"]}
    assert (p.rewards.referrer_points, p.rewards.new_customer_points) == (1000, 1000)
    assert p.qualifying_event.kind == "product_opened"
    assert p.qualifying_event.product_types == ["card", "deposit"]
    assert p.qualifying_event.within_days == 90
    assert (p.cap.max_rewards, p.cap.period_days, p.invitation_expiry_days) == (5, 365, 60)


def test_definition_errors_name_file_and_field(tmp_path: Path) -> None:
    base = (DEFAULTS / "friends.yaml").read_text()
    bad = write(tmp_path, base.replace("referrer_points: 1000", "referrer_points: -5")
                .replace("within_days: 90", "within_days: soon"))
    with pytest.raises(DefinitionError) as e:
        rf.load_programme(bad)
    message = str(e.value)
    assert isinstance(e.value, ReferralError) and isinstance(e.value, ClientlensError)
    assert f"{bad} (rewards.referrer_points): Input should be greater than 0" in message
    assert f"{bad} (qualifying_event.within_days)" in message
    other = write(tmp_path, base.replace("kind: product_opened", "kind: app_installed"))
    with pytest.raises(DefinitionError, match=r"\(qualifying_event\)"):
        rf.load_programme(other)
    extra = write(tmp_path, base + "bonus: 5\n")
    with pytest.raises(DefinitionError, match=r"\(bonus\): Extra inputs are not permitted"):
        rf.load_programme(extra)
    renamed = write(tmp_path, base, name="pals")
    with pytest.raises(DefinitionError, match="id 'friends' differs from the file name 'pals'"):
        rf.load_programme(renamed)
    broken = write(tmp_path, "id: [unclosed\n", name="broken")
    with pytest.raises(DefinitionError, match=f"{broken}:2: not valid YAML"):
        rf.load_programme(broken)
    nothing = write(tmp_path, base.replace("product_types: [card, deposit]", ""), name="friends")
    with pytest.raises(DefinitionError, match="needs product_types or product_codes"):
        rf.load_programme(nothing)


def test_publishing_versions_and_immutability(db: AppDB, tmp_path: Path) -> None:
    base = (DEFAULTS / "friends.yaml").read_text()
    path = write(tmp_path, base)
    first = rf.publish_programme(db, path)
    assert (first.version, first.created) == (1, True)
    path.write_text("# only a comment changed\n" + base)  # same content: a no-op
    again = rf.publish_programme(db, path)
    assert (again.version, again.created, again.content_hash) == (1, False, first.content_hash)
    code_v1 = invite(db)
    path.write_text(base.replace("referrer_points: 1000", "referrer_points: 1500"))
    second = rf.publish_programme(db, path)
    assert (second.version, second.created) == (2, True)
    assert rf.get_programme(db, "friends").rewards.referrer_points == 1500
    assert rf.get_programme(db, "friends", 1).rewards.referrer_points == 1000
    # a registration keeps the version its code was issued under
    rf.register(db, code_v1, "N1", person(1), day(1))
    assert rf.qualify(db, "N1", card(day(2)), day(2)).newly_rewarded
    assert rf.balance(db, "C1") == 1000
    # the database itself refuses to change or delete a published version
    for stmt in (update(ReferralProgramme).values(name="hacked"),
                 ReferralProgramme.__table__.delete()):
        with pytest.raises(DBAPIError, match="immutable"), db.transaction() as s:
            s.execute(stmt)
    with pytest.raises(DBAPIError, match="append-only"), db.transaction() as s:
        s.execute(update(LedgerEntry).values(amount=5))
    assert rf.get_programme(db, "friends", 1).name == "Friends bring friends"
    with pytest.raises(NotFoundError, match="referral programme 'pals' is not published"):
        rf.get_programme(db, "pals")


# -- issuing codes ---------------------------------------------------------------------


def test_only_eligible_referrers_get_a_code(db: AppDB) -> None:
    friends(db)
    inv = rf.issue_code(db, "friends", "C1", {"segment": "status", "phase": "customer_management",
                                              "grades": {"loyalty_grade": "B"}}, D)
    assert (inv.programme_id, inv.programme_version, inv.issued_on, inv.expires_on) == \
        ("friends", 1, D, day(60))
    assert len(inv.code) == 10
    for profile, problem in [
        ({**ADVOCATE, "segment": "mass"}, "segment 'mass' is not one of regular, status, social"),
        ({**ADVOCATE, "phase": "intensive_care"},
         "phase 'intensive_care' is not one of customer_management"),
        ({**ADVOCATE, "loyalty_grade": "C"}, "loyalty_grade 'C' is not one of A, B"),
        ({"segment": "regular", "phase": "customer_management"},
         "loyalty_grade None is not one of A, B"),
    ]:
        with pytest.raises(ReferralError) as e:
            rf.issue_code(db, "friends", "C2", profile, D)
        assert str(e.value) == f"referrer C2 may not refer in programme 'friends': {problem}"
        assert e.value.reason == "not_eligible"
    with pytest.raises(NotFoundError):
        rf.issue_code(db, "nosuch", "C1", ADVOCATE, D)
    with pytest.raises(ReferralError, match="today: '1.10.2026' is not a date"):
        rf.issue_code(db, "friends", "C1", ADVOCATE, "1.10.2026")


# -- registration and fraud controls -----------------------------------------------------


def test_registration_reason_codes(db: AppDB) -> None:
    friends(db)
    code = invite(db, "C1")
    ok = rf.register(db, code.lower(), "N1", person(1), day(1), {"C1", "C9"})
    assert (ok.status, ok.reason_code, ok.referrer_id, ok.programme_id) == \
        ("registered", None, "C1", "friends")
    assert rf.register(db, code, "N1", person(1), day(1)) == ok  # the same request again

    def reason(*args, **kwargs) -> str | None:  # noqa: ANN002, ANN003
        result = rf.register(db, *args, **kwargs)
        assert result.rejected == (result.reason_code is not None)
        return result.reason_code

    assert reason("NOSUCHCODE", "N2", person(2), day(1)) == "unknown_code"
    assert reason(code, "N2", person(2), day(61)) == "expired_code"
    assert reason(code, "C9", person(2), day(1), {"C1", "C9"}) == "already_customer"
    assert reason(code, "C9", person(2), day(1), lambda cid: cid == "C9") == "already_customer"
    assert reason(code, "C1", person(2), day(1)) == "self_referral"
    for key in ("document", "phone", "address"):  # any one identity field, normalized
        same = {**person(3), key: {"document": "4510-123456", "phone": "8 916 555 01 01",
                                   "address": "moscow tverskaya, 1"}[key]}
        assert reason(code, f"N3{key}", same, day(1)) == "self_referral"
    second = invite(db, "C1")
    assert reason(second, "N1", person(1), day(2)) == "already_registered"
    # circular: N1 (referred by C1) cannot bring C1 in
    n1 = rf.issue_code(db, "friends", "N1", ADVOCATE, day(2)).code
    assert reason(n1, "C1", person(5), day(3)) == "circular"
    # velocity: at most 3 accepted registrations per referrer per day
    assert [reason(code, f"V{i}", person(10 + i), day(5)) for i in range(4)] == \
        [None, None, None, "velocity"]
    assert reason(second, "V9", person(20), day(5)) == "velocity"  # per referrer, any code
    assert reason(second, "V9", person(20), day(6)) is None
    with pytest.raises(ReferralError, match="registered_on: .* is before the code was issued"):
        rf.register(db, code, "N8", person(8), day(-1))
    with pytest.raises(ReferralError, match="identity: unknown field"):
        rf.register(db, code, "N8", {"passport": "x"}, day(1))


def test_self_referral_with_the_referrer_identity_looked_up(db: AppDB) -> None:
    friends(db)
    code = invite(db, "C1", identity={})  # issued without an identity
    lookup = {"C1": ANNA}.get
    assert rf.register(db, code, "N1", {"phone": "89165550101"}, day(1),
                       referrer_identity=lookup).reason_code == "self_referral"
    assert rf.register(db, code, "N1", person(1), day(1),
                       referrer_identity=lookup).status == "registered"


def test_the_database_accepts_a_customer_once_per_programme(db: AppDB) -> None:
    friends(db)
    rf.register(db, invite(db), "N1", person(1), day(1))
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(ReferralRegistration(programme_id="friends", programme_version=1, code="X",
                                   referrer_id="C2", new_customer_id="N1",
                                   accepted_customer_id="N1", registered_on=D,
                                   status="registered"))


# -- qualifying, rewards, caps, the ledger -------------------------------------------------


def test_qualifying_fact_reason_codes_and_one_reward(db: AppDB) -> None:
    friends(db)
    rf.register(db, invite(db), "N1", person(1), day(10))
    q = lambda fact: rf.qualify(db, "N1", fact, day(200))  # noqa: E731
    assert q(card(day(9))).reason_code == "fact_before_registration"
    assert q(card(day(101))).reason_code == "fact_after_expiry"
    assert q({"kind": "salary_received", "on": day(20)}).reason_code == "wrong_event"
    assert q({**card(day(20)), "product_type": "loan"}).reason_code == "event_not_met"
    assert rf.balance(db, "C1") == 0
    done = q(card(day(100)))  # the last day of the 90
    assert (done.status, done.accepted, done.newly_rewarded, len(done.transaction_ids)) == \
        ("rewarded", True, True, 2)
    again = q({"kind": "product_opened", "on": day(50), "product_code": "DEP-GROW"})
    assert (again.status, again.accepted, again.newly_rewarded) == ("rewarded", True, False)
    assert (rf.balance(db, "C1"), rf.balance(db, "N1")) == (1000, 1000)
    reg = rf.get_registration(db, done.registration_id)
    assert (reg.status, reg.qualified_on) == ("rewarded", day(100))
    with pytest.raises(ReferralError, match=r"fact, on: .* is after today"):
        q(card(day(300)))
    with pytest.raises(NotFoundError, match="customer N2 has no accepted referral"):
        rf.qualify(db, "N2", card(day(20)), day(20))
    with pytest.raises(ReferralError, match="fact, kind: missing"):
        q({"on": day(20)})
    check_ledger(db)
    # and the database refuses a second reward for the same registration and role
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(LedgerTransaction(kind="reward", registration_id=done.registration_id,
                                beneficiary_role="referrer", customer_id="C1"))


def test_min_balance_and_salary_events(db: AppDB, tmp_path: Path) -> None:
    base = (DEFAULTS / "friends.yaml").read_text()
    event = "kind: product_opened\n  product_types: [card, deposit]\n"
    assert event in base
    rf.publish_programme(db, write(tmp_path, base.replace("id: friends", "id: saver").replace(
        event, "kind: min_balance\n  amount: 50000\n  days: 30\n"), "saver"))
    rf.publish_programme(db, write(tmp_path, base.replace("id: friends", "id: payroll").replace(
        event, "kind: salary_received\n  min_amount: 30000\n"), "payroll"))
    saver = rf.issue_code(db, "saver", "C1", ADVOCATE, D).code
    payroll = rf.issue_code(db, "payroll", "C2", ADVOCATE, D, person(50)).code
    rf.register(db, saver, "N1", person(1), day(1))
    rf.register(db, payroll, "N2", person(2), day(1))
    bal = {"kind": "min_balance", "on": day(40)}
    assert rf.qualify(db, "N1", {**bal, "amount": "49999.99", "held_days": 30},
                      day(40)).reason_code == "event_not_met"
    assert rf.qualify(db, "N1", {**bal, "amount": 60000, "held_days": 29},
                      day(40)).reason_code == "event_not_met"
    assert rf.qualify(db, "N1", {**bal, "amount": 50000, "held_days": 30}, day(40)).newly_rewarded
    salary = {"kind": "salary_received", "on": day(30)}
    assert rf.qualify(db, "N2", {**salary, "amount": 29000}, day(30)).reason_code == \
        "event_not_met"
    assert rf.qualify(db, "N2", {**salary, "amount": 31000}, day(30), "payroll").newly_rewarded
    check_ledger(db)


def test_the_cap_per_referrer_and_period(db: AppDB) -> None:
    friends(db)
    results = []
    for i in range(7):  # 2 per day stays under the velocity limit
        code = invite(db, "C1", day(i // 2))
        rf.register(db, code, f"N{i}", person(i), day(i // 2))
        results.append(rf.qualify(db, f"N{i}", card(day(10 + i)), day(20)))
    assert [r.status for r in results] == ["rewarded"] * 5 + ["qualified"] * 2
    assert [r.reason_code for r in results[5:]] == ["capped", "capped"]
    assert rf.balance(db, "C1") == 5000
    assert rf.balance(db, "N5") == 0 and rf.balance(db, "N4") == 1000
    # a year after the first reward the window has room again
    code = invite(db, "C1", day(370))
    rf.register(db, code, "N8", person(8), day(370))
    assert rf.qualify(db, "N8", card(day(380)), day(380)).status == "rewarded"
    check_ledger(db)


def test_redemption_never_overdraws_and_is_idempotent(db: AppDB) -> None:
    friends(db)
    rf.register(db, invite(db), "N1", person(1), day(1))
    rf.qualify(db, "N1", card(day(2)), day(2))
    first = rf.redeem_points(db, "N1", 600, "key-1")
    assert (first.points, first.balance_after, first.replayed) == (600, 400, False)
    assert rf.redeem_points(db, "N1", 600, "key-1") == \
        rf.Redemption(first.transaction_id, "N1", 600, 400, replayed=True)
    with pytest.raises(ReferralError, match="idempotency key 'key-1' was already used"):
        rf.redeem_points(db, "N1", 100, "key-1")
    with pytest.raises(InsufficientPoints) as e:
        rf.redeem_points(db, "N1", 401, "key-2")
    assert str(e.value) == "redeem N1, points: 401 is more than the balance of 400"
    with pytest.raises(InsufficientPoints):
        rf.redeem_points(db, "N7", 1, "key-3")  # no points at all
    assert rf.redeem_points(db, "N1", 400, "key-2").balance_after == 0  # key not burnt
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ReferralError, match="points: must be a whole number > 0"):
            rf.redeem_points(db, "N1", bad, "key-9")  # type: ignore[arg-type]
    # below zero is refused by the database too
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(update(LedgerAccount).where(LedgerAccount.account == "customer:N1:points")
                  .values(balance=-1))
    assert rf.balance(db, "N1") == 0
    check_ledger(db)


# -- reports -------------------------------------------------------------------------------


def test_funnel_and_warehouse_facts_on_a_scripted_story(db: AppDB) -> None:
    friends(db)
    codes = [invite(db, "C1"), invite(db, "C1"), invite(db, "C2", identity=person(40)),
             invite(db, "C2", identity=person(40))]  # 4 invitations; the last one unused
    rf.register(db, codes[0], "N1", person(1), day(1))  # qualifies, rewarded
    rf.register(db, codes[0], "N2", person(2), day(1))  # qualifies, rewarded
    rf.register(db, codes[1], "N3", person(3), day(2))  # registered, never qualifies
    rf.register(db, codes[2], "N4", person(4), day(3))  # rewarded
    rf.register(db, codes[2], "C1", person(5), day(3), {"C1"})  # already_customer
    rf.register(db, codes[1], "N5", ANNA, day(3))  # self_referral
    rf.register(db, codes[1], "N6", person(6), day(70))  # expired_code
    rf.register(db, "BOGUS", "N7", person(7), day(3))  # unknown_code: no programme
    for cust in ("N1", "N2", "N4"):
        rf.qualify(db, cust, card(day(10)), day(10))
    f = rf.funnel(db, "friends", point_value="0.5")
    assert (f.invited, f.registered, f.qualified, f.rewarded, f.capped) == (4, 4, 3, 3, 0)
    assert f.rejected == {"already_customer": 1, "expired_code": 1, "self_referral": 1}
    assert f.points_paid == 6000 and f.cost == Decimal("3000.0")
    assert (f.points_per_acquired, f.cost_per_acquired) == (Decimal("2000.00"),
                                                          Decimal("1000.00"))
    with pytest.raises(ReferralError, match="point_value"):
        rf.funnel(db, "friends", point_value="free")

    table = rf.referral_facts(db)
    assert table.schema == rf.FACTS_SCHEMA
    from clientlens.model.tables import TABLES
    assert table.column_names == list(TABLES["referrals"].column_names)
    rows = table.to_pylist()
    assert len(rows) == 5  # 4 accepted registrations + the unused code
    assert {r["referred_customer_id"] for r in rows} == {"N1", "N2", "N3", "N4", None}
    n1 = next(r for r in rows if r["referred_customer_id"] == "N1")
    assert (n1["customer_id"], n1["invited_on"], n1["qualified_on"]) == ("C1", D, day(10))
    assert n1["referral_id"].startswith("R") and len(n1["referral_id"]) == 10
    unused = next(r for r in rows if r["referred_customer_id"] is None)
    assert (unused["referral_id"], unused["customer_id"]) == (codes[3], "C2")
    check_ledger(db)


# -- concurrency (PostgreSQL) --------------------------------------------------------------


def _in_parallel(n: int, call) -> list:  # noqa: ANN001
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(i)
        except BaseException as e:  # noqa: BLE001
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_parallel_qualify_rewards_once(pg: AppDB) -> None:
    friends(pg)
    reg = rf.register(pg, invite(pg), "N1", person(1), day(1))
    results = _in_parallel(8, lambda i: rf.qualify(pg, "N1", card(day(2)), day(2)))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r.newly_rewarded for r in results) == 1
    assert {r.status for r in results} == {"rewarded"}
    with pg.transaction() as s:
        roles = s.scalars(select(LedgerTransaction.beneficiary_role).where(
            LedgerTransaction.registration_id == reg.registration_id)).all()
    assert sorted(roles) == ["new_customer", "referrer"]
    assert (rf.balance(pg, "C1"), rf.balance(pg, "N1")) == (1000, 1000)
    check_ledger(pg)


def test_parallel_redemptions_same_key_and_no_overdraft(pg: AppDB) -> None:
    friends(pg)
    rf.register(pg, invite(pg), "N1", person(1), day(1))
    rf.qualify(pg, "N1", card(day(2)), day(2))
    same = _in_parallel(8, lambda i: rf.redeem_points(pg, "N1", 300, "same-key"))
    assert not [r for r in same if isinstance(r, BaseException)], same
    assert len({r.transaction_id for r in same}) == 1
    assert sum(not r.replayed for r in same) == 1
    assert rf.balance(pg, "N1") == 700
    # different keys racing for more than the balance: only two of 300 fit in 700
    many = _in_parallel(8, lambda i: rf.redeem_points(pg, "N1", 300, f"key-{i}"))
    assert sum(isinstance(r, rf.Redemption) for r in many) == 2
    assert all(isinstance(r, (rf.Redemption, InsufficientPoints)) for r in many), many
    assert rf.balance(pg, "N1") == 100
    check_ledger(pg)


def test_parallel_registrations_respect_velocity(pg: AppDB) -> None:
    friends(pg)
    code = invite(pg)
    results = _in_parallel(8, lambda i: rf.register(pg, code, f"N{i}", person(i), day(1)))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.reason_code or "ok" for r in results) == ["ok"] * 3 + ["velocity"] * 5
