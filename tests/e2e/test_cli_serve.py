"""``sluicegate serve`` and ``sluicegate check`` as a user runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from sluicegate.config.defaults import DEV_API_KEY

SLUICEGATE = [sys.executable, "-m", "sluicegate.cli"]


async def _start(args: list[str], cwd: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        *SLUICEGATE,
        "serve",
        "--port",
        "0",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        if not line:
            break
        if "ready on http://" in line:
            return proc, line.split("ready on ", 1)[1].split()[0]
    proc.kill()
    raise AssertionError("gateway did not print its ready line")


async def _stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 30)


async def test_serve_without_config_answers_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    proc, url = await _start([], tmp_path)
    try:
        async with aiohttp.ClientSession() as http, http.post(
            f"{url}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "hi there"}]},
            headers={"Authorization": f"Bearer {DEV_API_KEY}"},
        ) as resp:
            body = await resp.json()
        assert resp.status == 200, body
        assert body["choices"][0]["message"]["content"] == "hi there"
        assert time.monotonic() - started < 60
        assert (tmp_path / "sluicegate.db").exists(), "SQLite lives in the working directory"
    finally:
        assert await _stop(proc) == 0
    _assert_ignored_by_the_repository(tmp_path)


def _assert_ignored_by_the_repository(workdir: Path) -> None:
    """`make serve` runs in the checkout: nothing it leaves behind may show as untracked."""
    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    left = sorted(p.name + ("/" if p.is_dir() else "") for p in workdir.iterdir())
    assert "sluicegate.db.spool/" in left
    res = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        input="\n".join(left), capture_output=True, text=True, cwd=repo,
    )
    assert sorted(res.stdout.split()) == left, f"not ignored: {set(left) - set(res.stdout.split())}"


async def test_sigterm_drains_a_stream_in_flight(tmp_path: Path) -> None:
    words = " ".join(f"w{i}" for i in range(400))
    proc, url = await _start([], tmp_path)
    try:
        async with aiohttp.ClientSession() as http, http.post(
            f"{url}/v1/chat/completions",
            json={
                "model": "echo",
                "stream": True,
                "messages": [{"role": "user", "content": words}],
            },
            headers={"Authorization": f"Bearer {DEV_API_KEY}"},
        ) as resp:
            first = await resp.content.readline()
            assert first.startswith(b"data: ")
            proc.send_signal(signal.SIGTERM)
            rest = await resp.content.read()
        assert rest.rstrip().endswith(b"data: [DONE]")
    finally:
        assert await _stop(proc) == 0


@pytest.mark.parametrize("workers", [2])
async def test_serve_with_workers_shares_one_port(tmp_path: Path, workers: int) -> None:
    proc, url = await _start(["--workers", str(workers)], tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(4):
                async with http.get(f"{url}/healthz") as resp:
                    assert resp.status == 200
    finally:
        assert await _stop(proc) == 0


def test_check_accepts_a_good_config_and_names_the_line_of_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "providers:\n  - {name: e, type: echo}\nmodels:\n"
        "  - name: m\n    targets: [{provider: e, model: x}]\n"
    )
    ok = subprocess.run(
        [*SLUICEGATE, "check", "--config", str(good)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "providers:\n  - name: e\n    type: opneai\nmodels:\n"
        "  - name: m\n    targets: [{provider: e, model: x}]\n"
    )
    res = subprocess.run(
        [*SLUICEGATE, "check", "--config", str(bad)], capture_output=True, text=True
    )
    assert res.returncode != 0
    assert f"{bad}:3: providers[0].type:" in res.stderr


CONFIG = """\
storage: {{url: "sqlite:///{db}"}}
providers:
  - {{name: e, type: echo}}
models:
{models}
tenants:
  - name: t
    keys: [{{name: k, key: sk-reload-test-key}}]
"""


def _config(db: Path, aliases: list[str]) -> str:
    models = "\n".join(f"  - {{name: {a}, targets: [{{provider: e, model: x}}]}}" for a in aliases)
    return CONFIG.format(db=db, models=models)


async def _status(http: aiohttp.ClientSession, url: str, model: str) -> int:
    async with http.post(
        f"{url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": "Bearer sk-reload-test-key"},
    ) as resp:
        return resp.status


async def test_sighup_reloads_the_config_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(_config(tmp_path / "gw.db", ["first"]))
    proc, url = await _start(["--config", str(path)], tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            assert await _status(http, url, "second") == 404
            path.write_text(_config(tmp_path / "gw.db", ["first", "second"]))
            proc.send_signal(signal.SIGHUP)
            for _ in range(50):
                if await _status(http, url, "second") == 200:
                    break
                await asyncio.sleep(0.1)
            assert await _status(http, url, "second") == 200

            path.write_text("providers: [\n")  # broken YAML
            proc.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            assert await _status(http, url, "second") == 200, "the running config keeps serving"
    finally:
        assert await _stop(proc) == 0


async def test_the_cli_manages_tenants_keys_and_reads_usage(tmp_path: Path) -> None:
    from sluicegate.config.defaults import DEV_ADMIN_KEY

    proc, url = await _start([], tmp_path)

    async def cli(*args: str) -> str:
        done = await asyncio.create_subprocess_exec(
            *SLUICEGATE, *args, "--url", url, "--admin-key", DEV_ADMIN_KEY,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await done.communicate()
        assert done.returncode == 0, err.decode()
        return out.decode()

    try:
        await cli("tenant-create", "team-search", "--models", "echo")
        created = await cli("key-create", "team-search", "ci")
        key = created.split(": ", 1)[1].splitlines()[0]
        key_id = created.split()[1]
        assert await _status_with_key(url, key) == 200
        usage = await cli("usage", "--group-by", "tenant")
        assert "team-search" in usage and "requests" in usage
        assert "team-search" in await cli("tenants")
        await cli("tenant-limits", "team-search", "--rpm", "2")
        statuses = [await _status_with_key(url, key) for _ in range(3)]
        assert 429 in statuses, "the new limit holds at once"
        await cli("tenant-limits", "team-search", "--clear", "rpm")
        shown = await cli("tenant-limits", "team-search", "--key", "ci", "--rpm", "1")
        assert "team-search/ci" in shown
        assert [await _status_with_key(url, key) for _ in range(2)] == [200, 429]
        shown = await cli("tenant-limits", "team-search", "--weight", "3", "--priority", "batch")
        assert shown.splitlines()[-1].split()[-3:] == ["3", "batch", "False"]
        assert await _status_with_key(url, key) == 429, "the key's limit stays"
        await cli("tenant-limits", "team-search", "--key", "ci", "--clear", "rpm")
        assert await _status_with_key(url, key) == 200
        await cli("key-revoke", key_id)
        assert await _status_with_key(url, key) == 401
    finally:
        assert await _stop(proc) == 0


async def _status_with_key(url: str, key: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(
        f"{url}/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
    ) as resp:
        return resp.status


async def test_metrics_on_a_port_of_their_own_leave_the_api_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        metrics_port = free.getsockname()[1]
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"server: {{metrics_port: {metrics_port}}}\n"
        "providers: [{name: e, type: echo}]\n"
        "models: [{name: echo, targets: [{provider: e, model: x}]}]\n"
    )
    proc, url = await _start(["--config", str(config)], tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                assert resp.status == 200 and "sluicegate_requests" in await resp.text()
            async with http.get(f"{url}/metrics") as resp:
                assert resp.status == 404
    finally:
        assert await _stop(proc) == 0
