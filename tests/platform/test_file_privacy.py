"""Files private to their owner (issue 16): a workspace holds the bank's customers.

Real ``clientlens`` processes started with a permissive umask (022, the usual
default) create a workspace, import, run, export, open a case, add a token, fit the
activity model, write a lake and start the HTTP service; the tree is then walked
(while the service is up, so the SQLite -wal/-shm and DuckDB files are open):
every folder is 0700 and every file 0600. A workspace made readable by others is
tightened when opened, and says so once.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from clientlens.demo.generator import generate_bank

AS_OF = "2026-10-31"


def cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "clientlens.faces.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=_env(),
                          preexec_fn=lambda: os.umask(0o022))
    if check and proc.returncode != 0:
        raise AssertionError(f"{args}: exit {proc.returncode}: {proc.stderr}")
    return proc


def _env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": os.environ.get("HOME", "/")}


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def loose(found: dict[str, int]) -> dict[str, str]:
    """Paths another local user could read, write or enter."""
    return {p: oct(m) for p, m in found.items() if m & 0o077}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bank") / "data"
    generate_bank(folder, customers=150, seed=11)
    return folder


def test_everything_a_demo_day_writes_is_private(data: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cli("init", str(ws), cwd=tmp_path)
    cli("import", "-w", str(ws), str(data), cwd=tmp_path)
    cli("run", "-w", str(ws), "--as-of", AS_OF, cwd=tmp_path)
    cli("fit-activity", "-w", str(ws), cwd=tmp_path)
    cli("export", "out/profiles.csv", "-w", str(ws), cwd=tmp_path)
    cli("leads", "-w", str(ws), "-o", "out/leads.xlsx", cwd=tmp_path)
    cli("glossary", "-w", str(ws), "-o", "out/dictionary.md", cwd=tmp_path)
    cli("cases", "open", "C00000001", "--category", "card_fee", "--owner", "ivanova",
        "-w", str(ws), cwd=tmp_path)
    cli("token", "add", "ivanova", "--role", "analyst", "-w", str(ws), cwd=tmp_path)
    cli("lake-export", "lake", "-w", str(ws), cwd=tmp_path)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "clientlens.faces.cli", "serve", "-w",
                               str(ws), "--port", str(port)], cwd=tmp_path, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              preexec_fn=lambda: os.umask(0o022))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not start: {server.stderr.read()}") \
                        from None
                time.sleep(0.3)
        while_serving = modes(ws)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for found in (while_serving, modes(ws), modes(tmp_path / "out"), modes(tmp_path / "lake")):
        assert not loose(found), loose(found)
    files = modes(ws)
    assert files["."] == 0o700
    for name in ("warehouse.duckdb", "clientlens-app.sqlite", "clientlens.yaml",
                 "definitions/glossary.yaml", "definitions/activity_model.yaml"):
        assert files[name] == 0o600, name
    assert any(name.endswith("-wal") or name.endswith("-shm") for name in while_serving), \
        sorted(while_serving)  # SQLite's files were there, and private
    out = modes(tmp_path / "out")
    assert out == {".": 0o700, "profiles.csv": 0o600, "leads.xlsx": 0o600,
                   "dictionary.md": 0o600}


def test_an_old_workspace_is_tightened_once_and_says_so(data: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cli("init", str(ws), cwd=tmp_path)
    cli("import", "-w", str(ws), str(data), cwd=tmp_path)
    (ws / "exports").mkdir()
    (ws / "exports" / "old-leads.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    mine = ws / "my-notes.txt"  # not clientlens's: left as the user made it
    mine.write_text("notes\n", encoding="utf-8")
    for path in [ws, *ws.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    first = cli("check", "-w", str(ws), cwd=tmp_path)
    assert "note:" in first.stderr and "made it private" in first.stderr
    assert first.stderr.count("note:") == 1
    found = modes(ws)
    assert loose({k: v for k, v in found.items() if k != "my-notes.txt"}) == {}
    assert found["my-notes.txt"] == 0o644 and found["exports/old-leads.csv"] == 0o600
    again = cli("check", "-w", str(ws), cwd=tmp_path)
    assert "note:" not in again.stderr


def test_the_python_api_keeps_the_workspace_private_under_any_umask(data: Path,
                                                                     tmp_path: Path) -> None:
    """Without the command line's umask: the folder is 0700 (nobody else can enter it)
    and the files clientlens writes itself are 0600."""
    script = (
        "import os, datetime as dt\n"
        "os.umask(0o022)\n"
        "from clientlens.services.workspace import jobs\n"
        f"jobs.init('ws')\n"
        f"jobs.import_files('ws', [{str(data)!r}])\n"
        f"jobs.run('ws', dt.date(2026, 10, 31))\n"
        "jobs.export('ws', 'profiles.xlsx')\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, env=_env())
    found = modes(tmp_path / "ws")
    assert found["."] == 0o700
    for name in ("warehouse.duckdb", "clientlens-app.sqlite", "clientlens.yaml",
                 "definitions/rulebook.yaml"):
        assert found[name] == 0o600, name
    assert stat.S_IMODE((tmp_path / "profiles.xlsx").stat().st_mode) == 0o600
