"""A PostgreSQL outage under load: requests are served, the spool grows, nothing is lost.

The gateway reaches PostgreSQL through a TCP proxy the test cuts and restores
(the machine's PostgreSQL itself is never touched). ``SLUICEGATE_OUTAGE_S``
sets the outage (default 3 s; e.g. 60 for the long run), and the figures are
printed with ``-s``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

from fakes.ledger_load import (
    Received,
    TcpProxy,
    check_ledger,
    echo_config,
    env_int,
    load,
    wait_for_ledger,
    with_port,
)
from fakes.stack import gateway_url
from sluicegate.gateway import GATEWAY


async def test_requests_are_served_through_an_outage_and_the_ledger_catches_up(
    start_gateway, postgres_url: str, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    outage_s = env_int("SLUICEGATE_OUTAGE_S", 3)
    pg = urlsplit(postgres_url)
    async with TcpProxy(pg.hostname or "127.0.0.1", pg.port or 5432) as proxy:
        proxied = with_port(postgres_url, proxy.port)
        storage = {"url": proxied, "spool_dir": str(tmp_path / "spool")}
        client = await start_gateway(echo_config(storage))
        gateway = client.app[GATEWAY]
        url = gateway_url(client)

        before = await load([url], 200, concurrency=8)
        proxy.cut()
        cut_at = time.monotonic()
        during = Received()
        stop = asyncio.Event()
        traffic = asyncio.ensure_future(
            load([url], 10_000_000, concurrency=8, got=during, stop=stop)
        )
        await asyncio.sleep(outage_s)
        stop.set()
        await traffic
        backlog = gateway.ledger.backlog
        spool_bytes = sum(p.stat().st_size for p in (tmp_path / "spool").glob("*.spool"))
        ready = await client.get("/readyz")
        readiness = (ready.status, (await ready.json()).get("checks", {}).get("storage", ""))
        proxy.restore()
        restored_at = time.monotonic()

        total = len(before.complete) + len(during.complete)
        rows = await wait_for_ledger(postgres_url, total, timeout_s=60)
        caught_up = time.monotonic() - restored_at
        merged = Received({**before.complete, **during.complete}, before.failed + during.failed)
        figures = check_ledger(rows, merged)
    print(
        f"\nPostgreSQL cut for {restored_at - cut_at:.1f}s under load: {len(during.complete)} "
        f"requests served during it ({during.failed} failed), {backlog} records waiting and "
        f"{spool_bytes} bytes in the spool at the end of it, /readyz {readiness}; ledger "
        f"complete {caught_up:.2f}s after recovery: {figures}"
    )
    assert during.failed == 0 and len(during.complete) > 0, "an outage does not fail requests"
    assert backlog >= len(during.complete) or spool_bytes > 0
    assert readiness[0] == 503
    assert figures["missing"] == 0 and figures["twice"] == 0
    assert figures["ledger_rows"] == total
