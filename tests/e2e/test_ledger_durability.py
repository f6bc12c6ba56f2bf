"""The ledger under a crash and across replicas: every complete answer once, nothing else.

Real gateway processes on the built-in echo provider. Figures are printed
(run with ``-s``); ``SLUICEGATE_REPLICA_REQUESTS`` (default 2000) sets how
many requests the two-replica test sends (the issue's figure is 10000).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakes.ledger_load import (
    ADMIN_KEY,
    GatewayProcess,
    Received,
    ask,
    check_ledger,
    echo_config,
    env_int,
    ledger_rows,
    load,
    wait_for_ledger,
)

BACKENDS = ["sqlite", "postgres"]


def storage_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "sqlite":
        return {"url": f"sqlite:///{tmp_path}/ledger.db"}
    return {"url": request.getfixturevalue("postgres_url")}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_kill_9_under_load_loses_no_complete_answer(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage = {**storage_for(backend, tmp_path, request), "spool_dir": str(tmp_path / "spool")}
    gateway = GatewayProcess(echo_config(storage), tmp_path)
    url = await gateway.start()
    got, stop = Received(), asyncio.Event()
    traffic = asyncio.ensure_future(
        load([url], 100_000, concurrency=16, got=got, deadline_s=20, stop=stop)
    )
    # Kill well into the load: some batches shipped, later records only in the spool.
    deadline = time.monotonic() + 20
    try:
        while len(got.complete) < 400 or not await ledger_rows(storage["url"]):
            assert time.monotonic() < deadline, f"no load went through:\n{gateway.log()}"
            await asyncio.sleep(0.02)
    finally:
        await gateway.kill()
        stop.set()
    killed_after = len(got.complete)
    await traffic
    assert gateway.proc is not None and gateway.proc.returncode == -9
    shipped_before_kill = len(await ledger_rows(storage["url"]))
    spooled = sum(p.stat().st_size for p in (tmp_path / "spool").glob("*.spool"))

    restarted = GatewayProcess(echo_config(storage), tmp_path, "restarted")
    try:
        await restarted.start()
        rows = await wait_for_ledger(storage["url"], len(got.complete))
    finally:
        await restarted.stop()
    figures = check_ledger(rows, got)
    print(f"\n[{backend}] kill -9 after {killed_after} complete answers, {shipped_before_kill} "
          f"of them shipped; {spooled} spool bytes left behind; after restart: {figures}")
    assert figures["missing"] == 0, "every answer a client received is in the ledger"
    assert figures["twice"] == 0, "and none is counted twice"
    assert figures["token_mismatches"] == 0
    # Requests cut off by the kill may or may not have a row; nothing else does.
    assert figures["ledger_rows"] <= figures["complete"] + 16


async def test_two_replicas_share_one_postgres_exactly(
    postgres_url: str, tmp_path: Path
) -> None:
    requests = env_int("SLUICEGATE_REPLICA_REQUESTS", 2000)
    replicas = [
        GatewayProcess(
            echo_config({"url": postgres_url, "spool_dir": str(tmp_path / f"spool{i}")}),
            tmp_path / f"r{i}",
        )
        for i in range(2)
    ]
    try:
        await _serve_two_replicas(replicas, requests, postgres_url)
    finally:
        for r in replicas:
            await r.kill()


async def _serve_two_replicas(
    replicas: list[GatewayProcess], requests: int, postgres_url: str
) -> None:
    urls = [await r.start() for r in replicas]
    started = time.monotonic()
    got = await load(urls, requests, concurrency=32)
    elapsed = time.monotonic() - started
    rows = await wait_for_ledger(postgres_url, requests)
    figures = check_ledger(rows, got)
    ledger_in = sum(r[1] for r in rows)
    ledger_out = sum(r[2] for r in rows)

    # A key created on one replica authenticates on the other within seconds.
    async with aiohttp.ClientSession() as http:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with http.post(f"{urls[0]}/admin/tenants", json={"name": "late"},
                             headers=admin) as resp:
            assert resp.status == 201
        async with http.post(f"{urls[0]}/admin/tenants/late/keys", json={"name": "k"},
                             headers=admin) as resp:
            key = (await resp.json())["key"]
        created = time.monotonic()
        other = Received()
        while not other.complete and time.monotonic() - created < 10:
            await ask(http, urls[1], 1, other, key=key)
            if not other.complete:
                await asyncio.sleep(0.1)
        propagation = time.monotonic() - created
    for r in replicas:
        assert await r.stop() == 0

    print(f"\n2 replicas, {requests} requests in {elapsed:.1f}s ({requests / elapsed:.0f}/s): "
          f"{figures}; tokens in/out received {got.input_tokens}/{got.output_tokens}, "
          f"in the ledger {ledger_in}/{ledger_out}; a new key reached the other replica "
          f"in {propagation:.2f}s")
    assert figures == {"complete": requests, "failed": 0, "ledger_rows": requests,
                       "missing": 0, "twice": 0, "token_mismatches": 0}
    assert (ledger_in, ledger_out) == (got.input_tokens, got.output_tokens)
    assert other.complete, "the other replica never accepted the new key"
    assert propagation < 5.0
