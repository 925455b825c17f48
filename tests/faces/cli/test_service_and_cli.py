"""A real `clientlens serve` and the CLI on one DuckDB workspace.

DuckDB lets one process open a database file at a time (the service keeps its
connection open), so a CLI command cannot open the warehouse meanwhile. `run`,
`summary`, `explain`, `reevaluate`, `import` and the customer lists (`leads`, ...)
hand their work to the service (its service
file names its URL and a token of its own) and give the same answers; any other
command says in one line that the service holds the warehouse, naming its PID and
what to do, never DuckDB's raw "Could not set lock"; and works again once the
service stops.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from clientlens.services.workspace import jobs
from tests.support.cli import cli

pytest.importorskip("uvicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_cli_says_the_service_holds_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "bank"
    jobs.demo(root, customers=800, seed=5)
    port = free_port()
    service = subprocess.Popen([sys.executable, "-m", "clientlens.faces.cli", "serve", "-w",
                                str(root), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={"PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if service.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(service.stderr.read().decode()) from None
                time.sleep(0.3)
        for command in (["quarantine"], ["export", str(tmp_path / "p.csv")]):
            busy = cli(*command, "-w", str(root), check=False)
            assert busy.returncode == 1, (command, busy.stdout)
            assert busy.stderr.count("\n") == 1, busy.stderr
            assert busy.stderr.startswith(f"error: the warehouse {root / 'warehouse.duckdb'} "
                                          f"is held by `clientlens serve` (PID {service.pid})")
            assert "hand their work to" in busy.stderr
            assert "Could not set lock" not in busy.stderr
        # handed to the service: the same figures as without it
        leads = cli("leads", "--limit", "3", "-w", str(root), "-o", str(tmp_path / "l.csv"))
        assert "answered by `clientlens serve`" in leads.stdout
        assert (tmp_path / "l.csv").exists()
        summary = cli("summary", "-w", str(root))
        assert "Segments on 2026-10-31" in summary.stdout
        explained = cli("explain", "C00000001", "-w", str(root))
        assert f"PID {service.pid}" in explained.stdout
        assert "segment" in explained.stdout
        again = cli("reevaluate", "C00000001", "-w", str(root), "--reason", "product_opened")
        assert "recorded by `clientlens serve`" in again.stdout
        ran = cli("run", "-w", str(root), "--as-of", "2026-10-31")
        assert "customers segmented for 2026-10-31" in ran.stdout
        assert "by the service" in ran.stdout
        # an import, too: a new interaction and a bad row, quarantined as without it
        extra = tmp_path / "interactions_more.csv"
        extra.write_text("interaction_id;customer_id;ts;channel;kind\n"
                         "IX1;C00000001;2026-10-30 10:00;branch;visit\n"
                         "IX2;NOBODY;2026-10-30 10:00;branch;visit\n", encoding="utf-8")
        imported = cli("import", str(extra), "-w", str(root))
        assert "handed to it" in imported.stderr
        assert "quarantined in interactions_more.csv: 1 × unknown customer_id" in \
            imported.stdout
        # another API token, even an admin's, may not make the service read files
        token = cli("token", "add", "someone", "--role", "admin", "-w", str(root)).stdout
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/imports", method="POST",
            data=b'{"files": ["/etc/passwd"]}', headers={
                "Authorization": f"Bearer {token.strip()}",
                "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403
        assert (root / ".clientlens-service.json").exists()
    finally:
        service.terminate()
        service.wait(timeout=30)
    # the service file goes with the service; the CLI opens the warehouse itself again
    assert not (root / ".clientlens-service.json").exists()
    local = cli("summary", "-w", str(root)).stdout
    assert local == summary.stdout
    alone = cli("leads", "--limit", "3", "-w", str(root), "-o", str(tmp_path / "m.csv"))
    assert (tmp_path / "m.csv").read_bytes() == (tmp_path / "l.csv").read_bytes()
    first = [line for line in alone.stdout.splitlines() if "│" in line][:4]
    assert first == [line for line in leads.stdout.splitlines() if "│" in line][:4]
    history = jobs.reevaluations(root, "C00000001")
    assert history and history[0].via == "api"
    from clientlens.services.workspace.folder import Workspace

    with Workspace(root).engine(read_only=True) as engine:
        assert engine.fetch_all("select count(*) from interactions "
                                "where interaction_id = 'IX1'")[0][0] == 1


def test_a_stale_service_file_is_ignored(tmp_path: Path) -> None:
    """A service that died without removing its file: its PID is gone, so the command
    runs itself."""
    import json

    root = tmp_path / "bank"
    jobs.demo(root, customers=300, seed=5)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / ".clientlens-service.json").write_text(json.dumps(
        {"pid": dead.pid, "url": "http://127.0.0.1:9", "token": "cl_x"}))
    assert "Segments on" in cli("summary", "-w", str(root)).stdout
