"""The console over HTTP, as a browser without JavaScript sees it: sign-in, sessions,
the anti-forgery checks, the field policy on pages and exports, the figures against
the CLI's services, and bad input as 4xx pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clientlens.services.workspace import jobs
from tests.support.console import (
    AS_OF,
    EARLIER,
    PASSWORD,
    csrf_of,
    make_workspace,
    serve,
    sign_in,
)

PAGES = ("/console/overview", "/console/migrations", "/console/customers/C00000001",
         "/console/lists", "/console/referrals")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, str]]:
    """The served workspace and, read through the services before the service holds
    the warehouse (DuckDB allows one process), what the pages must show."""
    from clientlens.services.analytics.matrices import migration_matrix
    from clientlens.services.profiling.customers import personal_data

    root = make_workspace(tmp_path_factory.mktemp("console") / "bank")
    jobs.publish_referral_programmes(root)
    day, rows = jobs.summary(root)
    with jobs.Workspace(root).engine(read_only=True) as engine:
        expected = {
            "root": root, "summary_day": day,
            "segments": {r.segment: r.customers for r in rows if r.customers},
            "personal": personal_data(engine, "C00000001"),
            "matrix": migration_matrix(engine, EARLIER, AS_OF, "segment"),
        }
    expected["leads"] = jobs.customer_list(root, "leads", AS_OF, limit=0).total
    with serve(root) as base:
        yield expected, base


def reevaluations_of(root: Path, customer_id: str) -> int:
    from sqlalchemy import func, select

    from clientlens.appdb.schema import Reevaluation

    with jobs.Workspace(root).app_db() as db, db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Reevaluation).where(
            Reevaluation.customer_id == customer_id)))


def client_for(base: str, role: str) -> httpx.Client:
    client = httpx.Client(follow_redirects=False, timeout=60)
    answer = sign_in(client, base, role)
    assert answer.status_code == 303, answer.text[:300]
    return client


def test_pages_need_a_session_and_the_api_still_needs_its_token(site: tuple) -> None:
    _root, base = site
    with httpx.Client() as anonymous:
        for path in PAGES:
            answer = anonymous.get(base + path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/console/login?next=")
        # a console session is not an API token
        c = client_for(base, "admin")
        assert c.get(f"{base}/customers/C00000001/profile").status_code == 401


def test_wrong_password_is_refused_the_same_way_as_an_unknown_user(site: tuple) -> None:
    _root, base = site
    with httpx.Client() as c:
        wrong = sign_in(c, base, "analyst", "not the password at all")
        unknown = sign_in(c, base, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "session" not in "".join(wrong.headers.get_list("set-cookie"))
    message = re.search(r'role="alert">([^<]+)<', wrong.text).group(1)
    assert message == re.search(r'role="alert">([^<]+)<', unknown.text).group(1)


def test_five_wrong_passwords_lock_the_user(site: tuple) -> None:
    expected, base = site
    from clientlens.services.workspace import staff_users

    staff_users.add_user(expected["root"], "locked.user", "viewer", PASSWORD)
    with httpx.Client() as c:
        for _ in range(5):
            assert sign_in(c, base, "locked.user", "wrong password, long").status_code == 401
        # now even the right password is refused until the lock expires
        assert sign_in(c, base, "locked.user", PASSWORD).status_code == 401


def test_session_cookie_is_httponly_and_samesite_strict(site: tuple) -> None:
    _root, base = site
    with httpx.Client() as c:
        answer = sign_in(c, base, "viewer")
    cookie = next(h for h in answer.headers.get_list("set-cookie")
                  if h.startswith("clientlens_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_sign_in_form_posted_from_elsewhere_is_refused(site: tuple) -> None:
    _root, base = site
    with httpx.Client() as c:
        form = c.get(f"{base}/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
        evil = c.post(f"{base}/console/login", headers={"Origin": "http://evil.example"},
                      data={"username": "admin", "password": PASSWORD,
                            "login_token": token})
        no_token = c.post(f"{base}/console/login", data={
            "username": "admin", "password": PASSWORD, "login_token": "guess"})
    assert evil.status_code == 403 and no_token.status_code == 403


def test_a_write_without_the_session_token_or_from_another_origin_is_refused(
        site: tuple) -> None:
    root, base = site
    c = client_for(base, "analyst")
    page = c.get(f"{base}/console/customers/C00000001")
    token = csrf_of(page.text)
    url = f"{base}/console/customers/C00000001/reevaluate"
    assert c.post(url, data={}).status_code == 403
    assert c.post(url, data={"csrf": "x" * 43}).status_code == 403
    assert c.post(url, data={"csrf": token},
                  headers={"Origin": "http://evil.example"}).status_code == 403
    before = reevaluations_of(root["root"], "C00000001")
    done = c.post(url, data={"csrf": token}, headers={"Origin": base})
    assert done.status_code == 200, done.text[:500]
    assert reevaluations_of(root["root"], "C00000001") == before + 1


def test_a_role_without_the_permission_cannot_reevaluate(site: tuple) -> None:
    _root, base = site
    c = client_for(base, "marketing")
    page = c.get(f"{base}/console/customers/C00000001")
    assert 'id="reevaluate"' not in page.text
    refused = c.post(f"{base}/console/customers/C00000001/reevaluate",
                     data={"csrf": csrf_of(page.text)}, headers={"Origin": base})
    assert refused.status_code == 403


def test_next_after_sign_in_never_leaves_the_console(site: tuple) -> None:
    _root, base = site
    for target in ("https://evil.example/", "//evil.example/x", "/console\\@evil"):
        with httpx.Client() as c:
            form = c.get(f"{base}/console/login")
            token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
            answer = c.post(f"{base}/console/login", headers={"Origin": base}, data={
                "username": "viewer", "password": PASSWORD, "login_token": token,
                "next": target})
            assert answer.headers["location"] == "/console/overview"


def test_sign_out_ends_the_session(site: tuple) -> None:
    _root, base = site
    c = client_for(base, "viewer")
    page = c.get(f"{base}/console/overview")
    assert page.status_code == 200
    out = c.post(f"{base}/console/logout", data={"csrf": csrf_of(page.text)},
                 headers={"Origin": base})
    assert out.status_code == 303
    assert c.get(f"{base}/console/overview").status_code == 303


def test_overview_counts_equal_the_cli_summary(site: tuple) -> None:
    root, base = site
    c = client_for(base, "admin")
    page = c.get(f"{base}/console/overview").text
    assert root["summary_day"] == AS_OF
    table = page.split('id="segments"')[1].split("</table>")[0]
    shown = {m[0]: int(m[1].replace(",", ""))
             for m in re.findall(r'data-value="([^"]+)"><th scope="row">[^<]*</th>'
                                 r'<td class="n">([\d,]+)</td>', table)}
    assert shown == root["segments"]


def test_marketing_never_sees_security_or_personal_data(site: tuple) -> None:
    root, base = site
    c = client_for(base, "marketing")
    overview = c.get(f"{base}/console/overview").text
    assert "group-security_grade" not in overview and "group-solvency_grade" not in overview
    customer = c.get(f"{base}/console/customers/C00000001").text
    personal = root["personal"]
    for field in ("full_name", "phone", "document_id"):
        value = personal[field]
        if value:
            assert str(value) not in customer
    assert 'id="withheld"' in customer
    # the name search is not offered: an id that does not exist is simply unknown
    assert c.get(f"{base}/console/customers", params={"q": "ова"}).status_code == 404
    admin = client_for(base, "admin")
    assert personal["full_name"] in admin.get(f"{base}/console/customers/C00000001").text


def test_exports_follow_the_page_and_the_policy(site: tuple) -> None:
    root, base = site
    c = client_for(base, "marketing")
    page = c.get(f"{base}/console/lists", params={"kind": "leads"})
    total = int(re.search(r'id="list-total">([\d,]+)<', page.text).group(1).replace(",", ""))
    exported = c.get(f"{base}/console/lists/export.csv", params={"kind": "leads"})
    assert exported.status_code == 200
    text = exported.content.decode("utf-8-sig")
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    assert len(rows) == total
    assert root["leads"] == total
    w_hidden = {"security_grade", "solvency_grade"}
    assert not w_hidden & set(rows[0] if rows else ())
    xlsx = c.get(f"{base}/console/lists/export.xlsx", params={"kind": "leads"})
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet.max_row == total + 1


def test_viewer_may_not_open_work_lists(site: tuple) -> None:
    _root, base = site
    c = client_for(base, "viewer")
    assert c.get(f"{base}/console/lists").status_code == 403
    assert c.get(f"{base}/console/lists/export.csv").status_code == 403


@pytest.mark.parametrize("path, status", [
    ("/console/customers/NOBODY-9", 404),
    ("/console/customers/" + "x" * 80, 400),
    ("/console/overview?as_of=2026-02-30", 400),
    ("/console/overview?as_of=3000-01-01", 400),
    ("/console/overview?as_of=2001-01-01", 404),
    ("/console/migrations?by=balance_total", 400),
    ("/console/migrations?from=2026-10-31&to=2026-09-30", 400),
    ("/console/lists?kind=everyone", 400),
    ("/console/lists?page=-1", 400),
    ("/console/lists?page=abc", 400),
    ("/console/lists/export.exe", 404),
    ("/console/referrals?programme=%3Cscript%3E", 400),
    ("/console/imports/nope/reasons", 404),
    ("/console/no-such-page", 404),
])
def test_bad_input_gives_a_page_with_a_message_and_a_4xx(site: tuple, path: str,
                                                         status: int) -> None:
    _root, base = site
    c = client_for(base, "admin")
    answer = c.get(base + path)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in answer.text and "Traceback" not in answer.text
    assert "<script>" not in answer.text.split("</head>")[1]


def test_migration_drill_down_lists_the_customers_of_the_cell(site: tuple) -> None:
    root, base = site
    c = client_for(base, "admin")
    m = root["matrix"]
    i, j = next((i, j) for i in range(len(m.rows)) for j in range(len(m.columns))
                if i != j and m.counts[i][j] and m.rows[i] != "(absent)")
    answer = c.get(f"{base}/console/migrations/moved", params={
        "by": "segment", "from": str(EARLIER), "to": str(AS_OF), "a": m.rows[i],
        "b": m.columns[j]})
    assert answer.status_code == 200
    shown = int(re.search(r'id="moved-total">([\d,]+)<', answer.text).group(1)
                .replace(",", ""))
    assert shown == m.counts[i][j]


def test_every_page_sets_a_strict_content_security_policy(site: tuple) -> None:
    _root, base = site
    c = client_for(base, "admin")
    for path in PAGES:
        answer = c.get(base + path)
        assert answer.status_code == 200, path
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        # no inline script: every <script> either has a src or holds JSON data
        for tag in re.findall(r"<script[^>]*>", answer.text):
            assert "src=" in tag or 'type="application/json"' in tag, tag


def test_the_vendored_javascript_matches_its_pins() -> None:
    import hashlib

    root = Path(__file__).resolve().parents[3]
    lines = (root / "vendor.sha256").read_text().splitlines()
    assert any("echarts.min.js" in x for x in lines) and any("htmx.min.js" in x
                                                              for x in lines)
    for line in lines:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name


def test_dates_are_shown_from_the_stored_runs(site: tuple) -> None:
    _root, base = site
    c = client_for(base, "admin")
    page = c.get(f"{base}/console/overview", params={"as_of": str(EARLIER)})
    assert page.status_code == 200 and f"· {EARLIER}" in page.text
    assert dt.date(2026, 9, 30) == EARLIER
