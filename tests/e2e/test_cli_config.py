"""``sluicegate check`` and ``sluicegate --version`` as a user runs them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
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


UNPRICED_BUDGET = """\
storage: {{url: "sqlite:///{db}"}}
providers: [{{name: up, type: echo}}]
models:
  - name: local
    targets: [{{provider: up, model: small}}]
tenants:
  - name: acme
    limits:
      budget_usd: 50
"""


def test_check_warns_of_a_budget_an_unpriced_alias_can_spend_and_still_passes(
    tmp_path: Path,
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(UNPRICED_BUDGET.format(db=tmp_path / "gw.db"))
    res = run("check", "--config", str(config))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{config}: ok")
    assert res.stderr.startswith(
        f"{config}:9: tenants[0].limits.budget_usd: warning: this budget never counts requests"
        " served by alias 'local' (models[0])"
    )


def test_serve_logs_the_same_warning_at_start(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(UNPRICED_BUDGET.format(db=tmp_path / "gw.db"))
    proc = subprocess.Popen(
        [*SLUICEGATE, "serve", "--config", str(config), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("ready on" in line for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    warned = [line for line in lines if "WARNING sluicegate.config" in line]
    assert len(warned) == 1, lines
    assert f"{config}:9: tenants[0].limits.budget_usd: warning: this budget never" in warned[0]
    assert any("ready on" in line for line in lines), "a warning does not stop the gateway"
