"""Rule changes on the console: a submitted version's changes and impact are shown to
readers, a second person with definitions:approve decides, and the maker or a role
without the permission cannot, whatever they post."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clientlens.services.workspace import governance_jobs as gov
from tests.support.console import csrf_of, make_workspace, serve, sign_in


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, int]]:
    root = make_workspace(tmp_path_factory.mktemp("gov") / "bank", customers=600)
    rulebook = root / "definitions" / "rulebook.yaml"
    text = rulebook.read_text()
    found = re.search(r"(status_min_balance:\s*\n\s*value:\s*)([\d_]+)", text)
    assert found, "the rulebook's status threshold moved: update this test"
    rulebook.write_text(text[:found.start(2)] + "750000" + text[found.end(2):])
    version = gov.submit(root, by="analyst", role="analyst", reason="status from 750k",
                         via="console").version_id
    with serve(root) as base:
        yield root, base, version


def signed(base: str, user: str) -> httpx.Client:
    c = httpx.Client(follow_redirects=False, timeout=120)
    assert sign_in(c, base, user).status_code == 303
    return c


def test_readers_see_the_change_in_words_and_its_impact(site: tuple) -> None:
    _root, base, v = site
    page = signed(base, "analyst").get(f"{base}/console/definitions/{v}")
    assert page.status_code == 200, page.text[:500]
    changes = page.text.split('id="changes"')[1].split("</ul>")[0]
    assert "status_min_balance" in changes and "750,000" in changes
    assert 'id="impact-matrix"' in page.text
    assert 'id="approve"' not in page.text  # the maker, and without the permission
    listing = signed(base, "viewer").get(f"{base}/console/definitions")
    assert listing.status_code == 403  # definitions:read is not the viewer's


def test_the_maker_cannot_approve_and_a_second_person_can(site: tuple) -> None:
    root, base, v = site
    analyst = signed(base, "analyst")
    page = analyst.get(f"{base}/console/definitions/{v}")
    refused = analyst.post(f"{base}/console/definitions/{v}/approve",
                           data={"csrf": csrf_of(page.text), "reason": "mine"},
                           headers={"Origin": base})
    assert refused.status_code == 403
    officer = signed(base, "security_officer")
    page = officer.get(f"{base}/console/definitions/{v}")
    assert 'id="approve"' in page.text
    forged = officer.post(f"{base}/console/definitions/{v}/approve",
                          data={"reason": "ok"}, headers={"Origin": base})
    assert forged.status_code == 403
    done = officer.post(f"{base}/console/definitions/{v}/approve",
                        data={"csrf": csrf_of(page.text), "reason": "checked the impact"},
                        headers={"Origin": base})
    assert done.status_code == 303, done.text[:500]
    record = gov.version(root, v)
    assert record.decided_by == "security_officer" and record.status in (
        "approved", "scheduled", "active")
    again = officer.post(f"{base}/console/definitions/{v}/reject",
                         data={"csrf": csrf_of(page.text), "reason": "changed my mind"},
                         headers={"Origin": base})
    assert again.status_code == 409  # decided already: one decision per version
