"""API tokens under concurrency: 30 `clientlens token add` processes at once, racing
revokes and the one-time import of a legacy tokens.yaml, on a fresh SQLite
application database and on PostgreSQL. With tokens in a YAML file rewritten whole,
24 of 30 parallel adds were kept and a revoke racing an add could be undone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from clientlens.appdb import ApiToken, AuditEntry, TokenImport
from clientlens.platform.tokens import import_legacy, token_hash
from clientlens.services.workspace import jobs
from clientlens.services.workspace.api_tokens import add_token, load_tokens, revoke_tokens
from clientlens.services.workspace.folder import Workspace

CLI = str(Path(sys.executable).with_name("clientlens"))
ADDS = 30


def _legacy(root: Path, holders: dict[str, tuple[str, str]]) -> None:
    """A tokens.yaml as clientlens wrote it before migration 0007."""
    (root / "tokens.yaml").write_text(yaml.safe_dump({"tokens": {
        token_hash(raw): {"user": user, "role": role, "created": "2026-11-01T10:00:00+00:00"}
        for raw, (user, role) in holders.items()}}), encoding="utf-8")


@pytest.fixture
def workspace(app_db_settings: str, tmp_path: Path) -> Path:
    """A fresh workspace whose application database does not exist yet (SQLite) or is
    an empty PostgreSQL schema, dropped afterwards."""
    root = tmp_path / "bank"
    jobs.init(root)
    with (root / "clientlens.yaml").open("a", encoding="utf-8") as f:
        f.write(app_db_settings)
    return root


def test_parallel_adds_racing_revokes_and_the_legacy_import(workspace: Path) -> None:
    # a tokens.yaml from an earlier version: two tokens of "gone", one of "old"
    legacy = {"cl_gone1" + "a" * 40: ("gone", "viewer"), "cl_gone2" + "b" * 40: ("gone", "admin"),
              "cl_old" + "c" * 40: ("old", "analyst")}
    _legacy(workspace, legacy)
    commands = [[CLI, "token", "add", f"keep{i}", "--role", "marketing", "-w", str(workspace)]
                for i in range(ADDS)]
    revokes = [[CLI, "token", "revoke", "gone", "-w", str(workspace)] for _ in range(3)]
    # revokes started in the middle of the adds
    commands[ADDS // 2:ADDS // 2] = revokes
    env = {**os.environ, "COLUMNS": "200"}
    running = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env) for c in commands]
    done = [(c, *p.communicate(timeout=600), p.returncode) for c, p in zip(commands, running,
                                                                            strict=True)]
    added = {}
    for cmd, out, err, rc in done:
        if cmd[2] == "add":
            assert rc == 0, err
            added[cmd[3]] = out.strip()
        else:  # the first revoke removes both, the others find none left
            assert rc == 0 or "no token for user or hash 'gone'" in err, err
    assert sum(rc == 0 for cmd, _, _, rc in done if cmd[2] == "revoke") >= 1
    assert all(raw.startswith("cl_") for raw in added.values())

    stored = load_tokens(workspace)
    assert len(stored) == ADDS + 1  # every add kept, "old" imported, "gone" revoked
    assert {token_hash(raw) for raw in added.values()} <= set(stored)
    assert {v["user"] for v in stored.values()} == {*added, "old"}
    assert not (workspace / "tokens.yaml").exists()
    assert (workspace / "tokens.yaml.imported").exists()
    with Workspace(workspace).app_db() as db, db.transaction() as s:
        assert s.scalars(select(TokenImport.source)).all() == ["tokens.yaml"]
        actions = s.scalars(select(AuditEntry.action)).all()
    assert actions.count("token.import") == 1 and actions.count("token.add") == ADDS
    assert actions.count("token.revoke") >= 1


def test_the_legacy_file_is_imported_once_and_a_revoked_token_stays_revoked(
        tmp_path: Path) -> None:
    root = tmp_path / "bank"
    jobs.init(root)
    raw = "cl_legacy" + "x" * 40
    _legacy(root, {raw: ("olga", "security_officer")})
    stale = (root / "tokens.yaml").read_text(encoding="utf-8")
    assert load_tokens(root)[token_hash(raw)]["user"] == "olga"
    assert revoke_tokens(root, "olga") == 1
    # a process that read the file before the import writes it back (or an operator
    # restores it): it is not read again, so the revoked token does not return
    (root / "tokens.yaml").write_text(stale, encoding="utf-8")
    with Workspace(root).app_db() as db:
        assert import_legacy(db, root) is None
        with db.transaction() as s:
            assert s.scalars(select(ApiToken)).all() == []
    assert not (root / "tokens.yaml").exists()
    assert load_tokens(root) == {}
    assert add_token(root, "anna", "viewer").startswith("cl_")
