"""Fair share of a saturated deployment, through the gateway: two tenants, one
upstream of fixed capacity (``max_concurrency``), fake upstream answering after
a fixed delay. The long-run figures (10 s windows) come from bench/fairness.py."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp

from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import gateway_url

A_KEY = "sk-test-tenant-a-000000"
B_KEY = "sk-test-tenant-b-000000"
SERVICE_S = 0.02  # the upstream's time per answer
SLOTS = 4  # the deployment's capacity: 200 answers a second


def fair_config(url: str, **queue: Any) -> dict[str, Any]:
    return {
        "providers": [{"name": "up", "type": "openai", "base_url": url, "api_key": "k"}],
        "models": [{"name": "m", "targets": [
            {"provider": "up", "model": "x", "max_concurrency": SLOTS}]}],
        "tenants": [
            {"name": "a", "keys": [{"name": "bulk", "key": A_KEY}],
             "limits": {"keys": {"bulk": {"priority": "batch"}}} if queue.pop("a_batch", False)
             else {}},
            {"name": "b", "keys": [{"name": "chat", "key": B_KEY}]},
        ],
        "admission": {"queue": queue} if queue else {},
    }


async def ask(http: aiohttp.ClientSession, url: str, key: str,
              headers: dict[str, str] | None = None) -> tuple[int, float, dict[str, Any]]:
    started = time.perf_counter()
    async with http.post(f"{url}/v1/chat/completions",
                         headers={"Authorization": f"Bearer {key}", **(headers or {})},
                         json={"model": "m", "max_tokens": 16,
                               "messages": [{"role": "user", "content": "hi"}]}) as r:
        body = await r.json()
        return r.status, time.perf_counter() - started, {**body, "_headers": dict(r.headers)}


async def closed_loop(http: aiohttp.ClientSession, url: str, key: str, clients: int,
                      stop: asyncio.Event, served: list[float]) -> None:
    async def one() -> None:
        while not stop.is_set():
            status, latency, _ = await ask(http, url, key)
            if status == 200:
                served.append(latency)
    await asyncio.gather(*(one() for _ in range(clients)))


async def test_a_flooding_tenant_gets_no_more_than_its_share(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.delay_first_byte(SERVICE_S)
        gw = await start_gateway(fair_config(up.url))
        url = gateway_url(gw)
        stop = asyncio.Event()
        a: list[float] = []
        b: list[float] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            # Both backlogged (each alone saturates the 4 slots); A offers 10x B's load.
            runs = [asyncio.create_task(closed_loop(http, url, A_KEY, 40, stop, a)),
                    asyncio.create_task(closed_loop(http, url, B_KEY, 4, stop, b))]
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.gather(*runs)
    share_b = len(b) / (len(a) + len(b))
    print(f"\nA offers 10x B's load on 4 slots for 2 s: A {len(a)}, B {len(b)} answers,"
          f" B's share {share_b:.1%}")
    assert share_b >= 0.45


async def test_a_light_tenant_keeps_its_latency_while_another_floods(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.delay_first_byte(SERVICE_S)
        gw = await start_gateway(fair_config(up.url))
        url = gateway_url(gw)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            alone = [(await ask(http, url, B_KEY))[1] for _ in range(20)]
            stop = asyncio.Event()
            a: list[float] = []
            flood = asyncio.create_task(closed_loop(http, url, A_KEY, 40, stop, a))
            await asyncio.sleep(0.3)
            shared = [(await ask(http, url, B_KEY))[1] for _ in range(20)]
            stop.set()
            await flood
    ratio = statistics.median(shared) / statistics.median(alone)
    print(f"\nB's p50 alone {statistics.median(alone) * 1000:.1f} ms, with A flooding"
          f" {statistics.median(shared) * 1000:.1f} ms ({ratio:.2f}x); A served {len(a)}")
    assert ratio <= 1.5


async def test_batch_work_waits_for_interactive_work(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.delay_first_byte(0.1)
        gw = await start_gateway(fair_config(up.url, a_batch=True))
        url = gateway_url(gw)
        finished: list[str] = []

        async def one(name: str, key: str, headers: dict[str, str] | None = None) -> None:
            status, _, _ = await ask(http, url, key, headers)
            assert status == 200
            finished.append(name)

        async with aiohttp.ClientSession() as http:
            # Fill the four slots, then queue batch work (by key, and by header), then chat.
            fill = [asyncio.create_task(one("fill", B_KEY)) for _ in range(SLOTS)]
            await asyncio.sleep(0.03)
            queued = [asyncio.create_task(one("batch", A_KEY)) for _ in range(4)]
            queued.append(asyncio.create_task(
                one("batch", B_KEY, {"x-sluicegate-priority": "batch"})))
            await asyncio.sleep(0.03)
            queued += [asyncio.create_task(one("chat", B_KEY)) for _ in range(2)]
            await asyncio.gather(*fill, *queued)
    served_after_fill = [name for name in finished if name != "fill"]
    assert served_after_fill[:2] == ["chat", "chat"], finished


async def test_a_full_queue_sheds_with_503_and_retry_after(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.delay_first_byte(0.2)
        gw = await start_gateway(fair_config(up.url, max_waiting=2))
        url = gateway_url(gw)
        async with aiohttp.ClientSession() as http:
            answers = await asyncio.gather(*(ask(http, url, B_KEY) for _ in range(SLOTS + 4)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] * (SLOTS + 2) + [503] * 2
    shed = next(body for status, _, body in answers if status == 503)
    assert shed["error"]["code"] == "overloaded"
    assert int(shed["_headers"]["Retry-After"]) >= 1
    assert len(up.requests) == SLOTS + 2, "a shed request never reaches the upstream"
