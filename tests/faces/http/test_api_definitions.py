"""Rule governance over HTTP: the token's holder acts, four eyes hold, refusals have
their status, and the impact answers on the latest snapshot."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fastapi.testclient import TestClient

from clientlens.faces.http.app import create_app
from clientlens.services.workspace import jobs

TOKENS = {"cl_maker" + "m" * 40: {"user": "petrova", "role": "analyst"},
          "cl_check" + "c" * 40: {"user": "ivanov", "role": "security_officer"},
          "cl_admin" + "a" * 40: {"user": "sidorov", "role": "admin"},
          "cl_viewr" + "v" * 40: {"user": "guest", "role": "viewer"}}
MAKER, CHECKER, ADMIN, VIEWER = ({"Authorization": f"Bearer {t}"} for t in TOKENS)


def test_submit_diff_impact_and_four_eyes_over_http(tmp_path: Path) -> None:
    root = tmp_path / "bank"
    jobs.demo(root, customers=300, as_of=dt.date(2026, 10, 31))
    rulebook = root / "definitions" / "rulebook.yaml"
    rulebook.write_text(re.sub(r"(status_min_balance:\n    value: )\d+", r"\g<1>800000",
                               rulebook.read_text(encoding="utf-8")), encoding="utf-8")
    with TestClient(create_app(root, tokens=TOKENS)) as c:
        assert c.get("/definitions/versions", headers=VIEWER).status_code == 403
        d = c.get("/definitions/diff", headers=CHECKER).json()
        assert "parameter status_min_balance: 1,500,000 -> 800,000 RUB" in [
            x["text"] for x in d["changes"]]
        im = c.get("/definitions/impact", params={"sample": 1}, headers=CHECKER).json()
        assert im["reused_terms"] and im["moved"] > 0 and len(im["sample"]) == 1
        assert c.post("/definitions/versions", json={"reason": "x"},
                      headers=VIEWER).json()["error"] == "not_permitted"
        v = c.post("/definitions/versions", json={"reason": "status from 800k"},
                   headers=ADMIN)
        assert v.status_code == 201, v.text
        vid = v.json()["version_id"]
        own = c.post(f"/definitions/versions/{vid}/approve", json={"reason": "mine"},
                     headers=ADMIN)
        assert (own.status_code, own.json()["error"]) == (403, "four_eyes")
        ok = c.post(f"/definitions/versions/{vid}/approve",
                    json={"reason": "agreed", "effective_from": "2026-01-01"}, headers=CHECKER)
        assert ok.status_code == 200 and ok.json()["status"] == "scheduled"
        again = c.post(f"/definitions/versions/{vid}/reject", json={"reason": "late"},
                       headers=CHECKER)
        assert (again.status_code, again.json()["error"]) == (409, "wrong_state")
        listed = c.get("/definitions/versions", headers=CHECKER).json()
        assert listed["governed"] and listed["in_force"] == vid
        bad = c.post("/definitions/versions", headers=MAKER, json={
            "reason": "typo", "files": {"glossary.yaml": "terms: {}\n",
                                        "rulebook.yaml": "segments: []\n"}})
        assert bad.status_code == 422 and "rulebook.yaml" in bad.json()["message"]
