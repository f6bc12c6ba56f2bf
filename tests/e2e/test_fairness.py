"""Fair share of a saturated deployment, through the gateway: two tenants, one
deployment of fixed capacity (``max_concurrency``), a fake upstream whose
answers take 50 ms ± 50% (as answers of varying length do). The long-run
figures (10 s windows, separate processes) come from bench/fairness.py."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

import aiohttp

from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import gateway_url
from fakes.timing import eventually
from sluicegate.gateway import GATEWAY

A_KEY = "sk-test-tenant-a-000000"
B_KEY = "sk-test-tenant-b-000000"
SERVICE_S = 0.05  # the upstream's mean time per answer
JITTER = 0.5
SLOTS = 4  # the deployment's capacity: 80 answers a second


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
            if status == 200 and not stop.is_set():  # answers drained after the end don't count
                served.append(latency)
    await asyncio.gather(*(one() for _ in range(clients)))


async def test_a_flooding_tenant_gets_no_more_than_its_share(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.delay_first_byte(SERVICE_S, jitter=JITTER)
        gw = await start_gateway(fair_config(up.url))
        url = gateway_url(gw)
        stop = asyncio.Event()
        a: list[float] = []
        b: list[float] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            # Both backlogged (each alone saturates the 4 slots); A offers 10x B's load.
            runs = [asyncio.create_task(closed_loop(http, url, A_KEY, 80, stop, a)),
                    asyncio.create_task(closed_loop(http, url, B_KEY, 8, stop, b))]
            await asyncio.sleep(2.5)
            stop.set()
            await asyncio.gather(*runs)
    share_b = len(b) / (len(a) + len(b))
    print(f"\nA offers 10x B's load on 4 slots for 2.5 s: A {len(a)}, B {len(b)} answers,"
          f" B's share {share_b:.1%}")
    assert share_b >= 0.45


async def test_a_light_tenant_keeps_its_latency_while_another_floods(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.delay_first_byte(SERVICE_S, jitter=JITTER)
        gw = await start_gateway(fair_config(up.url))
        url = gateway_url(gw)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            alone = await light_load(http, url, B_KEY, requests=30)
            stop = asyncio.Event()
            a: list[float] = []
            # A alone keeps all four slots busy and eight requests queued.
            flood = asyncio.create_task(closed_loop(http, url, A_KEY, 12, stop, a))
            await asyncio.sleep(0.3)
            shared = await light_load(http, url, B_KEY, requests=30)
            stop.set()
            await flood
    ratio = statistics.median(shared) / statistics.median(alone)
    print(f"\nB's p50 alone {statistics.median(alone) * 1000:.1f} ms, with A flooding"
          f" {statistics.median(shared) * 1000:.1f} ms ({ratio:.2f}x); A served {len(a)}")
    # In one process the clients, gateway and upstream share a CPU and an event loop;
    # bench/fairness.py measures the 1.5x goal in separate processes. FIFO queuing
    # would put B behind all eight of A's waiting requests here: about 3x.
    assert ratio <= 2.0


def waiting(client: Any) -> float:
    """Requests waiting at the gateway's deployment gates (its queue_waiting gauge)."""
    gates = client.app[GATEWAY].services.gates
    [gauge] = [m for m in gates.metrics() if m.name == "sluicegate_queue_waiting"]
    return sum(sample.value for sample in gauge.samples)


async def light_load(http: aiohttp.ClientSession, url: str, key: str, *,
                     requests: int) -> list[float]:
    """Open-loop arrivals, 10 a second on average (an eighth of the capacity)."""
    rng = random.Random(11)
    latencies: list[float] = []

    async def one() -> None:
        status, latency, _ = await ask(http, url, key)
        assert status == 200
        latencies.append(latency)

    sent = []
    for _ in range(requests):
        sent.append(asyncio.create_task(one()))
        await asyncio.sleep(rng.expovariate(10.0))
    await asyncio.gather(*sent)
    return latencies


async def test_batch_work_waits_for_interactive_work(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        release = up.hold_answers()
        gw = await start_gateway(fair_config(up.url, a_batch=True))
        url = gateway_url(gw)
        finished: list[str] = []

        async def one(name: str, key: str, headers: dict[str, str] | None = None) -> None:
            status, _, _ = await ask(http, url, key, headers)
            assert status == 200
            finished.append(name)

        async with aiohttp.ClientSession() as http:
            # Fill the four slots, then queue batch work (by key, and by header), then chat.
            # Each step waits until the previous one holds (slots, queue places), and
            # no answer comes until all are queued: the order is the test's, not timing's.
            fill = [asyncio.create_task(one("fill", B_KEY)) for _ in range(SLOTS)]
            await eventually(lambda: len(up.requests) == SLOTS, "the slots were never filled")
            queued = [asyncio.create_task(one("batch", A_KEY)) for _ in range(4)]
            queued.append(asyncio.create_task(
                one("batch", B_KEY, {"x-sluicegate-priority": "batch"})))
            await eventually(lambda: waiting(gw) == 5, "the batch work never queued")
            queued += [asyncio.create_task(one("chat", B_KEY)) for _ in range(2)]
            await eventually(lambda: waiting(gw) == 7, "the chat work never queued")
            release.set()
            await asyncio.gather(*fill, *queued)
    served_after_fill = [name for name in finished if name != "fill"]
    assert served_after_fill[:2] == ["chat", "chat"], finished


async def test_a_full_queue_sheds_with_503_and_retry_after(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        release = up.hold_answers()
        gw = await start_gateway(fair_config(up.url, max_waiting=2))
        url = gateway_url(gw)
        async with aiohttp.ClientSession() as http:
            asking = [asyncio.create_task(ask(http, url, B_KEY)) for _ in range(SLOTS + 4)]
            # No slot frees before every request has come: held, queued or shed.
            await eventually(lambda: sum(a.done() for a in asking) == 2, "none was shed")
            release.set()
            answers = await asyncio.gather(*asking)
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] * (SLOTS + 2) + [503] * 2
    shed = next(body for status, _, body in answers if status == 503)
    assert shed["error"]["code"] == "overloaded"
    assert int(shed["_headers"]["Retry-After"]) >= 1
    assert len(up.requests) == SLOTS + 2, "a shed request never reaches the upstream"
