"""``sluicegate check`` and ``sluicegate --version`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

SLUICEGATE = [sys.executable, "-m", "sluicegate.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SLUICEGATE, *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_version_prints_the_installed_version() -> None:
    res = run("--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"sluicegate {metadata.version('sluicegate')}"
