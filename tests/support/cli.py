"""The ``clientlens`` command as a user runs it: a real process, a wide terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def cli(*args: str, check: bool = True, cwd: Path | None = None
        ) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "clientlens.faces.cli", *args],
                          capture_output=True, text=True, cwd=cwd,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc
