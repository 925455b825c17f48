"""A real `clientlens serve` and the CLI on one DuckDB workspace.

DuckDB lets one process open a database file at a time (the service keeps its
connection open), so a CLI command cannot open the warehouse meanwhile. It must say
so in one line, naming the service and its PID and what to do, never DuckDB's raw
"Could not set lock"; and work again once the service stops.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
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
        for command in (["summary"], ["run"], ["leads", "--limit", "1"]):
            busy = cli(*command, "-w", str(root), check=False)
            assert busy.returncode == 1, (command, busy.stdout)
            assert busy.stderr.count("\n") == 1, busy.stderr
            assert busy.stderr.startswith(f"error: the warehouse {root / 'warehouse.duckdb'} "
                                          f"is held by `clientlens serve` (PID {service.pid})")
            assert "GET /segments" in busy.stderr and "Could not set lock" not in busy.stderr
    finally:
        service.terminate()
        service.wait(timeout=30)
    assert "Segments on" in cli("summary", "-w", str(root)).stdout
