"""A demo workspace with a user of every role, served by a real uvicorn in a thread,
for the console's tests (HTTP and browser)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from clientlens.platform.access import ROLES

PASSWORD = "correct horse battery"
AS_OF = dt.date(2026, 10, 31)
EARLIER = dt.date(2026, 9, 30)
CHROMIUM = "/usr/bin/chromium"


def make_workspace(root: Path, customers: int = 1500) -> Path:
    """A demo bank segmented on two dates, a user per role (named after the role), a
    published referral programme."""
    from clientlens.services.workspace import jobs, staff_users

    jobs.demo(root, customers=customers, seed=7, as_of=AS_OF, earlier=EARLIER)
    for role in ROLES:
        staff_users.add_user(root, role, role, PASSWORD)
    return root


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """The service over ``root`` on a free loopback port: its base URL."""
    from clientlens.faces.http.app import create_app

    with serve_app(create_app(root)) as base:
        yield base


@contextmanager
def serve_app(app: object, host: str = "127.0.0.1") -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread on a free port: its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sign_in(client: httpx.Client, base: str, user: str, password: str = PASSWORD
            ) -> httpx.Response:
    form = client.get(f"{base}/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    return client.post(f"{base}/console/login", data={
        "username": user, "password": password, "login_token": token},
        headers={"Origin": base})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def require_browser() -> None:
    """Skip without chromium, unless CLIENTLENS_REQUIRE_BROWSER is set (scripts/test):
    then fail."""
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        message = f"no chromium at {CHROMIUM}: run scripts/browser"
        if os.environ.get("CLIENTLENS_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
