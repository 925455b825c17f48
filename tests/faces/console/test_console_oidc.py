"""Console sign-in through an OpenID Connect provider (a small real one, served on
its own port): the code flow with PKCE, the role from the provider's claims, and a
forged or mismatched ID token, a replayed state or an unmapped role refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clientlens.services.workspace import jobs
from tests.support.console import CHROMIUM, require_browser, serve, serve_app
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, str]]:
    provider = Provider()
    # the provider on "localhost", the console on 127.0.0.1: two sites, as in a bank
    with serve_app(provider.app, host="localhost") as issuer:
        provider.issuer = issuer
        root = Path(tmp_path_factory.mktemp("oidc")) / "bank"
        jobs.init(root)
        with (root / "clientlens.yaml").open("a") as f:
            f.write(f"oidc_issuer: {issuer}\noidc_client_id: {CLIENT_ID}\n"
                    f"oidc_client_secret: {CLIENT_SECRET}\n"
                    "oidc_roles: {crm-analysts: analyst, marketing-team: marketing, "
                    "crm-admins: admin}\n")
        with serve(root) as base:
            yield provider, base


def flow(base: str, client: httpx.Client) -> httpx.Response:
    """Start at the console, follow the provider back; the callback's answer."""
    start = client.get(f"{base}/console/oidc/start")
    assert start.status_code == 303
    authorize = client.get(start.headers["location"])
    assert authorize.status_code == 302
    return client.get(authorize.headers["location"])


def test_sign_in_through_the_provider_gives_the_mapped_role(setup: tuple) -> None:
    provider, base = setup
    provider.misbehave = None
    provider.user = {"sub": "u-1", "preferred_username": "petrova",
                     "roles": ["staff", "crm-analysts"]}
    with httpx.Client() as c:
        done = flow(base, c)
        assert done.status_code == 200, done.text[:300]
        cookie = next(h for h in done.headers.get_list("set-cookie")
                      if h.startswith("clientlens_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = c.get(f"{base}/console/overview")
    assert page.status_code == 200
    assert re.search(r"<b>petrova</b> \(analyst\)", page.text)


def test_the_login_page_offers_the_provider(setup: tuple) -> None:
    _provider, base = setup
    assert 'id="sso"' in httpx.get(f"{base}/console/login").text


@pytest.mark.parametrize("fault", ["nonce", "audience", "signature"])
def test_a_bad_id_token_is_refused(setup: tuple, fault: str) -> None:
    provider, base = setup
    provider.misbehave = fault
    try:
        with httpx.Client() as c:
            done = flow(base, c)
            assert done.status_code == 401, (fault, done.status_code)
            assert "clientlens_session=" not in "".join(done.headers.get_list("set-cookie"))
            assert c.get(f"{base}/console/overview").status_code == 303
    finally:
        provider.misbehave = None


def test_a_user_without_a_mapped_role_is_refused(setup: tuple) -> None:
    provider, base = setup
    provider.user = {"sub": "u-2", "preferred_username": "guest", "roles": ["visitors"]}
    with httpx.Client() as c:
        done = flow(base, c)
    assert done.status_code == 403 and "crm-analysts" in done.text


def test_a_state_is_used_once(setup: tuple) -> None:
    provider, base = setup
    provider.user = {"sub": "u-3", "preferred_username": "ivanov", "roles": ["crm-admins"]}
    with httpx.Client() as c:
        start = c.get(f"{base}/console/oidc/start")
        back = c.get(start.headers["location"]).headers["location"]
        assert c.get(back).status_code == 200
        again = c.get(back)
    assert again.status_code == 400
    forged = httpx.get(f"{base}/console/oidc/callback", params={"state": "x", "code": "y"})
    assert forged.status_code == 400


def test_sign_in_through_the_provider_in_a_real_browser(setup: tuple) -> None:
    """The provider is another site: the SameSite=Strict session cookie must still
    reach the console once the browser comes back."""
    require_browser()
    from playwright.sync_api import sync_playwright

    provider, base = setup
    provider.user = {"sub": "u-4", "preferred_username": "sidorova",
                     "roles": ["marketing-team"]}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = b.new_page()
            page.goto(f"{base}/console/login")
            page.click("#sso")
            page.wait_for_url(re.compile(r".*/console/overview"))
            assert "sidorova" in page.inner_text("header")
        finally:
            b.close()
