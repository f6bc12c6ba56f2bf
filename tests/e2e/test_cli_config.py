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


def test_check_refuses_a_base_url_without_a_scheme(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "providers:\n"
        "  - name: local\n"
        "    type: openai\n"
        "    base_url: 127.0.0.1:8000/v1\n"
        "models:\n"
        "  - {name: m, targets: [{provider: local, model: x}]}\n"
    )
    res = run("check", "--config", str(config))
    assert res.returncode == 1
    assert res.stderr.startswith(
        f"{config}:4: providers[0].base_url: must start with http:// or https://,"
        " write http://127.0.0.1:8000/v1"
    )
