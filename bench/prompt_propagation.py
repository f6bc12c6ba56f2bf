"""How long a label move takes to reach another replica: two gateways on one PostgreSQL.

    .venv/bin/python bench/prompt_propagation.py [--moves 30] [--postgres URL]

Starts two ``sluicegate serve`` processes on a fresh database of the given
server (default postgresql://postgres@127.0.0.1:5432/test, used only to create
and drop the database), stores two versions of a prompt through replica A, then
moves its ``production`` label back and forth through A's admin API. After each
move it asks replica B (every 5 ms, a request naming the prompt) until B serves
the new version, and prints the delays: from A's answer to the move until B's
first answer with the new version. It also counts answers from B with the old
version more than 1 s after a move (there must be none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import yaml

ADMIN = {"Authorization": "Bearer sk-admin-prop"}
KEY = "sk-prop-tenant"
PORTS = (18095, 18096)
PROMPT = {
    "name": "propagation",
    "model": "echo",
    "messages": [{"role": "system", "content": "Version {{ n }}."}],
    "variables": {"type": "object", "properties": {"n": {"type": "string", "default": "x"}}},
}


def config(url: str, port: int) -> dict[str, object]:
    return {
        "server": {"host": "127.0.0.1", "port": port, "admin_key": ADMIN["Authorization"][7:]},
        "storage": {"url": url},
        "providers": [{"name": "echo", "type": "echo"}],
        "models": [{"name": "echo", "targets": [{"provider": "echo", "model": "echo-1"}]}],
        "tenants": [{"name": "acme", "keys": [{"name": "k", "key": KEY}]}],
    }


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moves", type=int, default=30)
    p.add_argument("--postgres", default=os.environ.get(
        "SLUICEGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    name = f"sluicegate_propagation_{os.getpid()}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(args.postgres)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    exe = str(Path(sys.executable).parent / "sluicegate")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([exe, "migrate", "--url", url], check=True, capture_output=True)  # noqa: ASYNC221 - before any replica runs
        with tempfile.TemporaryDirectory() as tmp:
            for port in PORTS:
                path = Path(tmp) / f"{port}.yaml"
                path.write_text(yaml.safe_dump(config(url, port)))
                procs.append(subprocess.Popen(  # noqa: ASYNC220 - a tool, not the gateway
                    [exe, "serve", "--config", str(path)], cwd=tmp,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                ))
            async with aiohttp.ClientSession() as http:
                await asyncio.gather(*(_ready(http, port) for port in PORTS))
                return await _measure(http, args.moves)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()


async def _measure(http: aiohttp.ClientSession, moves: int) -> int:
    a, b = (f"http://127.0.0.1:{port}" for port in PORTS)
    for text in ("Version {{ n }}.", "Version {{ n }}!"):
        document = {**PROMPT, "messages": [{"role": "system", "content": text}]}
        async with http.post(f"{a}/admin/prompts/propagation/versions", json=document,
                             headers=ADMIN) as resp:
            assert resp.status in (200, 201), await resp.text()
    delays: list[float] = []
    stale_late = 0
    for n in range(moves):
        target = 1 + n % 2
        async with http.put(f"{a}/admin/prompts/propagation/labels/production",
                            json={"version": target}, headers=ADMIN) as resp:
            assert resp.status == 200, await resp.text()
        moved = time.monotonic()
        while True:
            served = await _served(http, b)
            elapsed = time.monotonic() - moved
            if served == f"propagation@{target}":
                delays.append(elapsed)
                break
            if elapsed > 1.0:
                stale_late += 1
            if elapsed > 10:
                raise SystemExit(f"replica B still serves {served} 10 s after the move")
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
    delays.sort()
    print(f"label moves: {moves}, through replica A; replica B polled every 5 ms")
    print(f"delay until replica B serves the new version: median "
          f"{statistics.median(delays) * 1000:.0f} ms, p95 "
          f"{delays[int(0.95 * (len(delays) - 1))] * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")
    print(f"answers with the old version later than 1 s after a move: {stale_late}")
    return 0 if delays[-1] <= 1.0 and stale_late == 0 else 1


async def _served(http: aiohttp.ClientSession, base: str) -> str | None:
    async with http.post(
        f"{base}/v1/chat/completions",
        json={"model": "prompt:propagation", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {KEY}"},
    ) as resp:
        await resp.read()
        return resp.headers.get("x-sluicegate-prompt")


async def _ready(http: aiohttp.ClientSession, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"the replica on port {port} did not start")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
