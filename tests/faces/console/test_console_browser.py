"""The console in a real browser (Debian's chromium driven by Playwright): every page
for every role, in each language, with no console error, no request off loopback, the
withheld fields absent from the page and its requests, a cross-site form post refused,
and axe-core finding no serious or critical violation. Screenshots of every page in
Russian go to build/screenshots/ for a reviewer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from clientlens.services.workspace import jobs
from tests.support.console import (
    AS_OF,
    CHROMIUM,
    PASSWORD,
    make_workspace,
    require_browser,
    serve,
)

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "build" / "screenshots"
AXE = (ROOT / "tests" / "support" / "vendor" / "axe-core" / "axe.min.js").read_text()
PAGES = {
    "overview": "/console/overview",
    "migrations": "/console/migrations",
    "customer": "/console/customers/C00000001",
    "search": "/console/customers",
    "lists": "/console/lists?kind=actions",
    "referrals": "/console/referrals",
    "dictionary": "/console/dictionary",
    "rule_changes": "/console/definitions",
}
#: Pages each role may open (the others answer 403 with a page saying so).
DENIED = {"viewer": {"lists", "referrals", "rule_changes"},
          "marketing": {"rule_changes"},
          "security_officer": {"lists", "referrals"}}
#: A word of each language's navigation, to see the page is in it.
NAV_WORD = {"en": "Overview", "ru": "Обзор", "bg": "Преглед"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    require_browser()
    from clientlens.services.profiling.customers import personal_data

    root = make_workspace(tmp_path_factory.mktemp("browser") / "bank", customers=800)
    jobs.publish_referral_programmes(root)
    with jobs.Workspace(root).engine(read_only=True) as engine:
        personal = personal_data(engine, "C00000001")
        security = engine.fetch_all(
            "select security_grade, security_score from profiles "
            "where customer_id = 'C00000001' and as_of = ?", [AS_OF])[0]
    _day, rows = jobs.summary(root)
    with serve(root) as base:
        yield {"base": base, "personal": personal, "security": security,
               "segments": {r.segment: r.customers for r in rows if r.customers}}


@pytest.fixture(scope="module")
def browser(site: dict) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Watched:
    """A signed-in page that records console errors, failed scripts and every
    request, and refuses any request that leaves loopback."""

    def __init__(self, browser, base: str, role: str, lang: str) -> None:  # noqa: ANN001
        self.context = browser.new_context(locale={"en": "en-GB", "ru": "ru-RU",
                                                   "bg": "bg-BG"}[lang])
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.off_loopback: list[str] = []
        self.bodies: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" and "status of 403" not in m.text else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", self._keep)

        def route(r) -> None:  # noqa: ANN001
            url = r.request.url
            if url.startswith(("http://127.0.0.1", "data:")):
                r.continue_()
            else:
                self.off_loopback.append(url)
                r.abort()

        self.context.route("**/*", route)
        self.page.goto(f"{base}/console/login?lang={lang}")
        self.page.fill("#username", role)
        self.page.fill("#password", PASSWORD)
        self.page.click("form.login button")
        self.page.wait_for_url(re.compile(r".*/console/overview"))

    def _keep(self, response) -> None:  # noqa: ANN001
        if "text/html" in (response.headers.get("content-type") or ""):
            try:
                self.bodies.append(response.text())
            except Exception:  # noqa: BLE001 - a redirect has no body
                pass

    def close(self) -> None:
        self.context.close()


def axe(page) -> list[dict]:  # noqa: ANN001
    # evaluated through the DevTools protocol: the page's own CSP (scripts from the
    # service only) would refuse it as an inline script, rightly
    page.evaluate("(source) => { (0, eval)(source); }", AXE)
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: "
                          "['violations']})).violations.map(v => ({id: v.id, impact: "
                          "v.impact, nodes: v.nodes.length}))")
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("lang", ["en", "ru", "bg"])
def test_every_page_in_each_language(site: dict, browser, lang: str) -> None:  # noqa: ANN001
    w = Watched(browser, site["base"], "admin", lang)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for name, path in PAGES.items():
            answer = w.page.goto(site["base"] + path)
            w.page.wait_for_load_state("networkidle")
            assert answer.status == 200, (name, answer.status)
            assert NAV_WORD[lang] in w.page.inner_text("nav"), name
            if lang != "en":
                assert re.search("[А-Яа-я]", w.page.inner_text("main")), name
            if lang == "ru":
                w.page.screenshot(path=str(SHOTS / f"{name}-ru.png"), full_page=True)
                bad = axe(w.page)
                assert not bad, (name, bad)
            # charts are drawn (ECharts put an SVG in each chart box)
            for plot in w.page.query_selector_all("[data-chart]"):
                assert plot.query_selector("svg") is not None, (name, plot.get_attribute("id"))
        assert not w.errors, w.errors
        assert not w.off_loopback, w.off_loopback
    finally:
        w.close()


def test_overview_counts_in_the_browser_equal_the_cli(site: dict, browser) -> None:  # noqa: ANN001
    w = Watched(browser, site["base"], "analyst", "en")
    try:
        w.page.goto(site["base"] + "/console/overview")
        shown = {}
        for row in w.page.query_selector_all("#segments tbody tr"):
            shown[row.get_attribute("data-value")] = int(
                row.query_selector_all("td")[0].inner_text().replace(",", ""))
        assert shown == site["segments"]
    finally:
        w.close()


@pytest.mark.parametrize("role", ["viewer", "analyst", "marketing", "security_officer"])
def test_each_role_sees_what_it_may(site: dict, browser, role: str) -> None:  # noqa: ANN001
    w = Watched(browser, site["base"], role, "ru")
    try:
        for name, path in PAGES.items():
            answer = w.page.goto(site["base"] + path)
            w.page.wait_for_load_state("networkidle")
            assert answer.status == (403 if name in DENIED.get(role, ()) else 200), name
        everything = "\n".join(w.bodies)
        personal = site["personal"]
        sees_personal = role == "analyst"
        for field in ("full_name", "phone", "document_id"):
            if personal[field]:
                assert (str(personal[field]) in everything) == sees_personal, field
        sees_security = role == "security_officer"
        assert ("group-security_grade" in everything) == sees_security
        assert not w.errors, w.errors
        assert not w.off_loopback, w.off_loopback
    finally:
        w.close()


def test_a_form_posted_from_another_site_is_refused(site: dict, browser) -> None:  # noqa: ANN001
    """A page on another site posts the re-evaluate form to the console while the
    analyst is signed in: the browser withholds the SameSite=Strict session cookie, so
    the post reaches the console signed out and nothing is re-evaluated."""
    w = Watched(browser, site["base"], "analyst", "en")
    try:
        w.context.unroute("**/*")
        page = f"""<html><body><form id="f" method="post"
            action="{site['base']}/console/customers/C00000001/reevaluate">
            <input name="csrf" value="guessed"></form></body></html>"""
        w.context.route("http://evil.test/**", lambda r: r.fulfill(
            body=page, content_type="text/html"))
        w.page.goto("http://evil.test/")
        posted = []
        w.page.on("response", lambda r: posted.append((r.request.method, r.url, r.status))
                  if "reevaluate" in r.url else None)
        with w.page.expect_navigation():
            w.page.evaluate("document.getElementById('f').submit()")
        w.page.wait_for_load_state("networkidle")
        assert posted and posted[0][0] == "POST" and posted[0][2] in (303, 403), posted
        assert "/console/login" in w.page.url or "anti-forgery" in w.page.content()
        assert 'id="reevaluated"' not in w.page.content()
    finally:
        w.close()
