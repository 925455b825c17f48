"""The referral programme over HTTP on a demo workspace: the whole flow, reason codes,
idempotency (replay, conflict, across a restart), roles and the audit; and real
concurrent requests to a uvicorn server over a PostgreSQL application database."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from clientlens.appdb import AppDB, AuditEntry, open_appdb  # noqa: E402
from clientlens.appdb.schema import (  # noqa: E402
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from clientlens.faces.http.app import create_app  # noqa: E402
from clientlens.services.workspace import jobs  # noqa: E402
from clientlens.services.workspace.folder import Workspace  # noqa: E402

TOKENS = {
    "tok-viewer-1111": {"user": "vera", "role": "viewer"},
    "tok-analyst-2222": {"user": "anna", "role": "analyst"},
    "tok-marketing-3333": {"user": "mark", "role": "marketing"},
    "tok-security-4444": {"user": "sergey", "role": "security_officer"},
    "tok-admin-5555": {"user": "adam", "role": "admin"},
}
BY_ROLE = {v["role"]: k for k, v in TOKENS.items()}
TODAY = dt.date.today()


def auth(role: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {BY_ROLE[role]}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def ago(days: int) -> str:
    return str(TODAY - dt.timedelta(days=days))


def person(n: int) -> dict[str, str]:
    return {"document": f"45{n:02d} 000{n:03d}", "phone": f"+7 900 000 {n:04d}",
            "address": f"Kazan, Lenina {n}"}


@dataclass(frozen=True)
class Demo:
    root: Path
    referrers: list[str]  # eligible for the default programme in the latest run
    ineligible: str
    referrer_phone: str  # the first referrer's phone in the warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("api-referrals") / "bank"
    jobs.demo(root, customers=2000, seed=1)
    with Workspace(root).engine(read_only=True) as engine:
        latest = "(select max(as_of) from profiles)"
        referrers = [r[0] for r in engine.fetch_all(
            f"select customer_id from profiles where as_of = {latest} "
            "and segment in ('regular', 'status', 'social') "
            "and phase = 'customer_management' and loyalty_grade in ('A', 'B') "
            "order by customer_id limit 6")]
        (ineligible,) = engine.fetch_all(
            f"select min(customer_id) from profiles where as_of = {latest} "
            "and loyalty_grade not in ('A', 'B')")[0]
        (phone,) = engine.fetch_all("select phone from customers where customer_id = ?",
                                    [referrers[0]])[0]
    assert len(referrers) == 6 and ineligible and phone
    return Demo(root, referrers, ineligible, phone)


@pytest.fixture
def ws(demo: Demo, tmp_path: Path) -> Path:
    target = tmp_path / "bank"
    shutil.copytree(demo.root, target)
    jobs.publish_referral_programmes(target)
    return target


@pytest.fixture
def client(ws: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ws, tokens=TOKENS)) as c:
        yield c


def audit_entries(root: Path) -> list[AuditEntry]:
    with Workspace(root).app_db() as db, db.transaction() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.entry_id)))


def code_for(client: TestClient, referrer: str, on: str | None = None, **headers: str) -> str:
    r = client.post(f"/customers/{referrer}/referral-code",
                    json={"on": on or ago(20)}, headers={**auth("marketing"), **headers})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def card(on: str, kind: str = "product_opened", **more: object) -> dict:
    return {"kind": kind, "on": on, "product_type": "card", **more}


def check_ledger(db: AppDB) -> None:
    """Each transaction sums to zero, balances are the sums of their entries, no
    customer below zero."""
    with db.transaction() as s:
        sums = s.execute(select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
                         .group_by(LedgerEntry.transaction_id)).all()
        assert sums and all(total == 0 for _, total in sums)
        by_account = dict(s.execute(select(LedgerEntry.account, func.sum(LedgerEntry.amount))
                                    .group_by(LedgerEntry.account)).all())
        for acc in s.scalars(select(LedgerAccount)):
            assert acc.balance == by_account.get(acc.account, 0), acc.account
            assert acc.kind != "customer" or acc.balance >= 0


# -- the flow ---------------------------------------------------------------------------------
def test_code_register_qualify_reward_redeem_funnel(client: TestClient, ws: Path,
                                                    demo: Demo) -> None:
    referrer = demo.referrers[0]
    programmes = client.get("/referrals/programmes", headers=auth("analyst")).json()
    (friends,) = programmes["programmes"]
    assert (friends["programme_id"], friends["version"]) == ("friends", 1)
    assert friends["definition"]["rewards"] == {"referrer_points": 1000,
                                                "new_customer_points": 1000}

    r = client.post(f"/customers/{referrer}/referral-code", json={"on": ago(20)},
                    headers=auth("marketing"))
    assert r.status_code == 201, r.text
    invitation = r.json()
    assert invitation["referrer_id"] == referrer and invitation["programme_version"] == 1
    assert invitation["expires_on"] == ago(20 - 60) and invitation["replayed"] is False
    assert "idempotent-replayed" not in r.headers

    r = client.post("/referrals/registrations", headers=auth("marketing"), json={
        "code": invitation["code"].lower(), "new_customer_id": "N0001",
        "identity": person(1), "registered_on": ago(10)})
    assert r.status_code == 201, r.text
    reg = r.json()
    assert (reg["status"], reg["reason_code"], reg["referrer_id"]) == \
        ("registered", None, referrer)

    r = client.post("/referrals/qualifications", headers=auth("marketing"),
                    json={"new_customer_id": "N0001", "fact": card(ago(5))})
    assert r.status_code == 200, r.text
    q = r.json()
    assert (q["status"], q["accepted"], q["newly_rewarded"]) == ("rewarded", True, True)
    assert [(w["role"], w["customer_id"], w["points"]) for w in q["rewards"]] == [
        ("referrer", referrer, 1000), ("new_customer", "N0001", 1000)]
    again = client.post("/referrals/qualifications", headers=auth("admin"), json={
        "new_customer_id": "N0001", "fact": {**card(ago(4)), "product_type": "deposit"}}).json()
    assert (again["newly_rewarded"], again["rewards"]) == (False, q["rewards"])  # granted once

    assert client.get(f"/customers/{referrer}/points", headers=auth("analyst")
                      ).json()["balance"] == 1000
    r = client.post("/customers/N0001/points/redemptions", json={"points": 400,
                    "reason": "order-1187"}, headers=auth("marketing", "redeem-1"))
    assert r.status_code == 201, r.text
    assert (r.json()["balance_after"], r.json()["reason"]) == (600, "order-1187")
    points = client.get("/customers/N0001/points?limit=5", headers=auth("marketing")).json()
    assert points["balance"] == 600
    assert [(e["kind"], e["points"], e["reason"]) for e in points["entries"]] == [
        ("redemption", -400, "order-1187"), ("reward", 1000, None)]
    assert points["entries"][1]["registration_id"] == reg["registration_id"]
    assert client.get("/customers/NOBODY/points", headers=auth("admin")).json() == {
        "customer_id": "NOBODY", "balance": 0, "entries": []}

    f = client.get("/referrals/programmes/friends/funnel?point_value=0.5",
                   headers=auth("analyst")).json()
    assert {k: f[k] for k in ("invited", "registered", "qualified", "rewarded", "capped",
                              "rejected", "points_paid")} == {
        "invited": 1, "registered": 1, "qualified": 1, "rewarded": 1, "capped": 0,
        "rejected": {}, "points_paid": 2000}
    assert (f["cost"], f["cost_per_acquired"]) == (1000.0, 1000.0)

    actions = [(e.actor, e.action, e.outcome) for e in audit_entries(ws)]
    assert actions == [("mark", "referral.code", "ok"), ("mark", "referral.register", "ok"),
                       ("mark", "referral.qualify", "ok"), ("adam", "referral.qualify", "ok"),
                       ("mark", "points.redeem", "ok")]


# -- reason codes and errors ------------------------------------------------------------------
def test_a_refusal_does_not_quote_a_grade_the_role_may_not_see(demo: Demo, tmp_path: Path
                                                                ) -> None:
    """A programme whose referrers need a security grade: marketing (who may not see the
    security rating) is told the customer is not eligible, not which grade they have;
    admin gets the full reason."""
    root = tmp_path / "bank"
    shutil.copytree(demo.root, root)
    folder = Workspace(root).definitions_dir / "referrals"
    text = (folder / "friends.yaml").read_text(encoding="utf-8")
    (folder / "safe.yaml").write_text(text.replace("id: friends", "id: safe").replace(
        "loyalty_grade: [A, B]", "security_grade: [Z]"), encoding="utf-8")
    jobs.publish_referral_programmes(root)
    with TestClient(create_app(root, tokens=TOKENS)) as c:
        body = {"programme_id": "safe"}
        r = c.post(f"/customers/{demo.referrers[0]}/referral-code", json=body,
                   headers=auth("marketing"))
        assert r.status_code == 422 and r.json()["error"] == "not_eligible"
        assert "security_grade" not in r.json()["message"]
        assert "may not see" in r.json()["message"]
        r = c.post(f"/customers/{demo.referrers[0]}/referral-code", json=body,
                   headers=auth("admin"))
        assert r.status_code == 422 and "security_grade" in r.json()["message"]


def test_reason_codes_and_errors_over_http(client: TestClient, demo: Demo) -> None:
    h = auth("marketing")
    r = client.post(f"/customers/{demo.ineligible}/referral-code", headers=h)
    assert r.status_code == 422 and r.json()["error"] == "not_eligible"
    assert f"referrer {demo.ineligible} may not refer in programme 'friends'" in \
        r.json()["message"]
    r = client.post("/customers/NOBODY/referral-code", headers=h)
    assert r.status_code == 404 and "no profile" in r.json()["message"]
    r = client.post(f"/customers/{demo.referrers[0]}/referral-code",
                    json={"programme_id": "pals"}, headers=h)
    assert r.status_code == 404 and "'pals' is not published" in r.json()["message"]

    referrer = demo.referrers[0]
    code = code_for(client, referrer)

    def register(new: str, identity: dict | None = None, on: str = ago(10),
                 code_: str = code) -> dict:
        r = client.post("/referrals/registrations", headers=h, json={
            "code": code_, "new_customer_id": new, "identity": identity or {},
            "registered_on": on})
        assert r.status_code == 201, r.text
        return r.json()

    rejected = register("N0002", code_="NOSUCHCODE")
    assert (rejected["status"], rejected["reason_code"], rejected["programme_id"]) == \
        ("rejected", "unknown_code", None)
    assert rejected["message"] == "no invitation has this code"
    assert register("N0002", on=ago(-41))["reason_code"] == "expired_code"
    assert register(demo.ineligible)["reason_code"] == "already_customer"  # in the warehouse
    assert register(referrer)["reason_code"] == "already_customer"  # checked before self
    # the referrer's phone from the warehouse (the code was issued without an identity)
    same = register("N0003", {"phone": demo.referrer_phone})
    assert same["reason_code"] == "self_referral" and "same id, document, phone" in \
        same["message"]
    assert [register(f"N01{i}", person(10 + i), ago(9))["reason_code"] for i in range(4)] \
        == [None, None, None, "velocity"]

    r = client.post("/referrals/registrations", headers=h, json={
        "code": code, "new_customer_id": "N0004", "registered_on": ago(30)})
    assert r.status_code == 422 and "before the code was issued" in r.json()["message"]
    r = client.post("/referrals/registrations", headers=h, json={
        "code": code, "new_customer_id": "N0004", "identity": {"phone": "12"}})
    assert r.status_code == 422 and "fewer than 7 digits" in r.json()["message"]

    def qualify(fact: dict, new: str = "N010") -> httpx.Response:
        return client.post("/referrals/qualifications", headers=h,
                           json={"new_customer_id": new, "fact": fact})

    for fact, reason in [(card(ago(12)), "fact_before_registration"),
                         ({"kind": "salary_received", "on": ago(5)}, "wrong_event"),
                         (card(ago(5), product_type="loan"), "event_not_met")]:
        r = qualify(fact)
        assert r.status_code == 200, r.text
        assert (r.json()["accepted"], r.json()["reason_code"], r.json()["status"]) == \
            (False, reason, "registered")
        assert r.json()["message"] and r.json()["rewards"] == []
    r = qualify(card(ago(-1)))
    assert r.status_code == 422 and "is after today" in r.json()["message"]
    r = qualify(card(ago(5)), new="N9999")
    assert r.status_code == 404 and "no accepted referral registration" in r.json()["message"]

    r = client.post("/customers/N010/points/redemptions", json={"points": 1, "reason": "x"},
                    headers=auth("marketing", "k-1"))
    assert r.status_code == 409 and r.json()["error"] == "insufficient_points"
    assert "more than the balance of 0" in r.json()["message"]

    funnel = client.get("/referrals/programmes/friends/funnel", headers=h).json()
    assert funnel["rejected"] == {"already_customer": 2, "expired_code": 1,
                                  "self_referral": 1, "velocity": 1}
    r = client.get("/referrals/programmes/pals/funnel", headers=h)
    assert r.status_code == 404


@pytest.mark.parametrize(("path", "body", "where"), [
    ("/referrals/registrations", {"code": "ABC", "new_customer_id": "N 1"},
     "body.new_customer_id"),
    ("/referrals/registrations", {"code": "AB-C!", "new_customer_id": "N1"}, "body.code"),
    ("/referrals/registrations", {"code": "ABC", "new_customer_id": "N1", "bonus": 1},
     "body.bonus"),
    ("/referrals/registrations", {"code": "ABC", "new_customer_id": "N1",
                                  "registered_on": "0001-01-01"}, "body.registered_on"),
    ("/referrals/registrations", {"code": "ABC", "new_customer_id": "N1",
                                  "identity": {"passport": "x"}}, "body.identity.passport"),
    ("/referrals/qualifications", {"new_customer_id": "N1", "fact": {"kind": "app", "on":
                                   "2026-01-01"}}, "body.fact"),
    ("/referrals/qualifications", {"new_customer_id": "N1", "fact": {
        "kind": "min_balance", "on": "2026-01-01", "amount": "lots", "held_days": 3}},
     "body.fact.min_balance.amount"),
    ("/referrals/qualifications", {"new_customer_id": "N1", "fact": {
        "kind": "min_balance", "on": "2026-01-01", "amount": 5, "held_days": -1}},
     "body.fact.min_balance.held_days"),
    ("/customers/N1/points/redemptions", {"points": 0, "reason": "x"}, "body.points"),
    ("/customers/N1/points/redemptions", {"points": 10, "reason": "a\x00b"}, "body.reason"),
    ("/customers/N1/referral-code", {"on": "2026-02-30"}, "body.on"),
])
def test_bad_bodies_are_422_naming_the_field(client: TestClient, path: str, body: dict,
                                             where: str) -> None:
    r = client.post(path, json=body, headers=auth("admin", "k"))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"
    assert where in [d["where"] for d in r.json()["detail"]], r.json()


def test_a_redemption_needs_an_idempotency_key(client: TestClient) -> None:
    r = client.post("/customers/N1/points/redemptions", json={"points": 1, "reason": "x"},
                    headers=auth("admin"))
    assert r.status_code == 422 and "header.Idempotency-Key: Field required" in \
        r.json()["message"]
    r = client.post("/customers/N1/points/redemptions", json={"points": 1, "reason": "x"},
                    headers=auth("admin", "has space"))
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["message"]


# -- idempotency ------------------------------------------------------------------------------
def test_idempotency_replays_and_conflicts(client: TestClient, ws: Path, demo: Demo) -> None:
    referrer = demo.referrers[1]
    h = auth("marketing", "code-1")
    first = client.post(f"/customers/{referrer}/referral-code", json={"on": ago(20)},
                        headers=h)
    again = client.post(f"/customers/{referrer}/referral-code", json={"on": ago(20)},
                        headers=h)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**first.json(), "replayed": True}
    other = client.post(f"/customers/{referrer}/referral-code", json={"on": ago(19)},
                        headers=h)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_conflict"
    code = first.json()["code"]
    # the same key on another endpoint is another request
    r = client.post("/referrals/registrations", headers=h,
                    json={"code": code, "new_customer_id": "N0020"})
    assert r.status_code == 422 and r.json()["error"] == "idempotency_conflict"

    # a rejection replayed is not stored twice
    late = {"code": code, "new_customer_id": "N0021", "registered_on": ago(-41)}
    answers = [client.post("/referrals/registrations", json=late,
                           headers=auth("marketing", "reg-late")).json() for _ in range(2)]
    assert answers[0]["reason_code"] == "expired_code"
    assert answers[1] == {**answers[0], "replayed": True}
    assert client.get("/referrals/programmes/friends/funnel", headers=h
                      ).json()["rejected"] == {"expired_code": 1}
    client.post("/referrals/registrations", json=late, headers=auth("marketing"))
    assert client.get("/referrals/programmes/friends/funnel", headers=h
                      ).json()["rejected"] == {"expired_code": 2}  # no key: a new attempt

    client.post("/referrals/registrations", headers=auth("marketing"), json={
        "code": code, "new_customer_id": "N0022", "registered_on": ago(10)})
    body = {"new_customer_id": "N0022", "fact": card(ago(5))}
    q1 = client.post("/referrals/qualifications", json=body, headers=auth("admin", "q-1"))
    q2 = client.post("/referrals/qualifications", json=body, headers=auth("admin", "q-1"))
    q3 = client.post("/referrals/qualifications", json=body, headers=auth("admin"))
    assert q1.json()["newly_rewarded"] and q2.json() == {**q1.json(), "replayed": True}
    assert q2.headers["idempotent-replayed"] == "true"
    assert (q3.json()["newly_rewarded"], q3.json()["rewards"]) == (False, q1.json()["rewards"])
    r = client.post("/referrals/qualifications", headers=auth("admin", "q-1"),
                    json={**body, "fact": card(ago(4))})
    assert r.status_code == 422 and r.json()["error"] == "idempotency_conflict"

    spend = {"points": 300, "reason": "order-1"}
    r1 = client.post("/customers/N0022/points/redemptions", json=spend,
                     headers=auth("marketing", "spend-1"))
    r2 = client.post("/customers/N0022/points/redemptions", json=spend,
                     headers=auth("admin", "spend-1"))  # the key, not the user, decides
    assert r1.status_code == r2.status_code == 201
    assert r2.json() == {**r1.json(), "replayed": True} and r1.json()["balance_after"] == 700
    for changed in ({**spend, "points": 301}, {**spend, "reason": "order-2"}):
        r = client.post("/customers/N0022/points/redemptions", json=changed,
                        headers=auth("marketing", "spend-1"))
        assert r.status_code == 422 and r.json()["error"] == "idempotency_conflict"
    assert client.get("/customers/N0022/points", headers=h).json()["balance"] == 700
    # a refused request burns no key: the same key works once the points are there
    r = client.post("/customers/N0022/points/redemptions", json={"points": 701, "reason": "x"},
                    headers=auth("marketing", "spend-2"))
    assert r.status_code == 409
    r = client.post("/customers/N0022/points/redemptions", json={"points": 700, "reason": "x"},
                    headers=auth("marketing", "spend-2"))
    assert r.status_code == 201 and r.json()["balance_after"] == 0

    replays = [json.loads(e.detail)["replayed"] for e in audit_entries(ws)
               if e.action == "points.redeem" and e.outcome == "ok"]
    assert replays == [False, True, False]


def test_idempotency_keys_outlive_the_process(ws: Path, demo: Demo) -> None:
    """Keys live in the application database: a new app instance replays them."""
    path = f"/customers/{demo.referrers[2]}/referral-code"
    with TestClient(create_app(ws, tokens=TOKENS)) as c:
        first = c.post(path, json={"on": ago(20)}, headers=auth("admin", "restart-1")).json()
    with TestClient(create_app(ws, tokens=TOKENS)) as c:
        again = c.post(path, json={"on": ago(20)}, headers=auth("admin", "restart-1"))
        assert again.json() == {**first, "replayed": True}
        # and the CLI's redeem --key is the same key space
        from clientlens.services.programmes.referrals import redeem_points

        with Workspace(ws).app_db() as db:
            with pytest.raises(Exception, match="already used for another request"):
                redeem_points(db, "N1", 5, "restart-1")


# -- roles and the audit ----------------------------------------------------------------------
def test_roles_and_the_audit(client: TestClient, ws: Path, demo: Demo) -> None:
    writes = [
        (f"/customers/{demo.referrers[3]}/referral-code", {}),
        ("/referrals/registrations", {"code": "ABC", "new_customer_id": "N1"}),
        ("/referrals/qualifications", {"new_customer_id": "N1", "fact": card(ago(1))}),
        ("/customers/N1/points/redemptions", {"points": 1, "reason": "x"}),
    ]
    reads = ["/referrals/programmes", "/referrals/programmes/friends/funnel",
             "/customers/N1/points"]
    for role in ("viewer", "security_officer", "analyst"):
        for path, body in writes:
            r = client.post(path, json=body, headers=auth(role, "k-roles"))
            assert r.status_code == 403, (role, path, r.text)
            assert f"role '{role}' may not" in r.json()["message"]
    for role, status in (("viewer", 403), ("security_officer", 403), ("analyst", 200),
                         ("marketing", 200), ("admin", 200)):
        assert {client.get(p, headers=auth(role)).status_code for p in reads} == {status}
    denied = [(e.actor, e.action) for e in audit_entries(ws) if e.outcome == "denied"]
    assert denied == [(user, perm) for user in ("vera", "sergey", "anna")
                      for perm in ("referrals:write", "referrals:write", "referrals:write",
                                   "points:write")]

    code = code_for(client, demo.referrers[3])
    client.post("/referrals/registrations", headers=auth("marketing"), json={
        "code": code, "new_customer_id": "N0030", "identity": person(30),
        "registered_on": ago(10)})
    client.post("/referrals/registrations", headers=auth("marketing"), json={
        "code": code, "new_customer_id": "N0031", "identity": {"phone": "12"}})
    refused = [e for e in audit_entries(ws) if e.outcome == "refused"]
    assert [(e.action, json.loads(e.detail)["refused"]) for e in refused] == [
        ("referral.register", "ReferralError")]
    everything = "".join(f"{e.actor}{e.role}{e.action}{e.resource}{e.detail}"
                         for e in audit_entries(ws))
    for secret in (*TOKENS, code, "900 000 0030", "4530", "Lenina"):
        assert secret not in everything


# -- real concurrent requests against PostgreSQL ----------------------------------------------
SERVER = """
import sys, uvicorn
from clientlens.faces.http.app import create_app
from clientlens.platform.http_guard import log_config
app = create_app(sys.argv[1], tokens={sys.argv[2]: {"user": "loadtest", "role": "marketing"}})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_config=log_config())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_server(demo: Demo, postgres_url: str, pg_schema: str, tmp_path: Path
              ) -> Iterator[tuple[str, dict[str, str], AppDB]]:
    """uvicorn in a child process over a copy of the demo workspace whose application
    database is a fresh PostgreSQL schema (dropped afterwards)."""
    root = tmp_path / "bank"
    shutil.copytree(demo.root, root)
    (root / "clientlens-app.sqlite").unlink(missing_ok=True)
    schema = pg_schema
    with (root / "clientlens.yaml").open("a", encoding="utf-8") as f:
        f.write(f"app_db: {postgres_url}\napp_db_schema: {schema}\n")
    assert Workspace(root).app_db_url == postgres_url
    jobs.publish_referral_programmes(root)
    token, port = uuid.uuid4().hex, _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(root), token, str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    db = open_appdb(postgres_url, schema=schema)
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        yield base, {"Authorization": f"Bearer {token}"}, db
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        db.close()


def _in_parallel(n: int, call) -> list:  # noqa: ANN001
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            try:
                results[i] = call(http, i)
            except BaseException as e:  # noqa: BLE001
                results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_concurrent_http_requests_on_postgresql(pg_server: tuple[str, dict, AppDB],
                                                demo: Demo) -> None:
    base, headers, db = pg_server
    referrer = demo.referrers[4]
    r = httpx.post(f"{base}/customers/{referrer}/referral-code", json={"on": ago(20)},
                   headers=headers)
    assert r.status_code == 201, r.text
    reg = httpx.post(f"{base}/referrals/registrations", headers=headers, json={
        "code": r.json()["code"], "new_customer_id": "N0040", "identity": person(40),
        "registered_on": ago(10)}).json()
    assert reg["status"] == "registered", reg

    # 16 at once for the same referral: 8 with one Idempotency-Key, 8 without
    body = {"new_customer_id": "N0040", "fact": card(ago(5))}
    answers = _in_parallel(16, lambda http, i: http.post(
        f"{base}/referrals/qualifications", json=body,
        headers={**headers, **({"Idempotency-Key": "qualify-N0040"} if i % 2 else {})}))
    assert not [a for a in answers if isinstance(a, BaseException)], answers
    statuses = [a.status_code for a in answers]
    assert all(200 <= s < 300 or s == 409 for s in statuses), [a.text for a in answers]
    done = [a.json() for a in answers if a.status_code == 200]
    assert {a["status"] for a in done} == {"rewarded"}
    assert sum(a["newly_rewarded"] and not a["replayed"] for a in done) == 1
    keyed = [a.json() for i, a in enumerate(answers) if i % 2 and a.status_code == 200]
    assert len({json.dumps(a["rewards"]) for a in keyed}) == 1
    assert sum(not a["replayed"] for a in keyed) == 1  # the key ran once
    with db.transaction() as s:
        roles = s.scalars(select(LedgerTransaction.beneficiary_role).where(
            LedgerTransaction.registration_id == reg["registration_id"])).all()
    assert sorted(roles) == ["new_customer", "referrer"]  # exactly one reward pair

    # 16 redemptions of 300 racing for a balance of 1000: three fit; 8 more share a key
    answers = _in_parallel(16, lambda http, i: http.post(
        f"{base}/customers/N0040/points/redemptions", json={"points": 300, "reason": "race"},
        headers={**headers, "Idempotency-Key": f"race-{i}"}))
    assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 13, \
        [a.text for a in answers]
    answers = _in_parallel(8, lambda http, i: http.post(
        f"{base}/customers/{referrer}/points/redemptions",
        json={"points": 250, "reason": "once"},
        headers={**headers, "Idempotency-Key": "same-key"}))
    assert [a.status_code for a in answers] == [201] * 8
    assert len({a.json()["transaction_id"] for a in answers}) == 1
    assert sum(not a.json()["replayed"] for a in answers) == 1

    points = httpx.get(f"{base}/customers/N0040/points", headers=headers).json()
    assert points["balance"] == 100
    assert httpx.get(f"{base}/customers/{referrer}/points", headers=headers
                     ).json()["balance"] == 750
    check_ledger(db)
