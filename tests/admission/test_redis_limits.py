"""RedisLimiter against a real Redis: two "replicas" (separate clients and
limiters) share one database and must behave like one exact limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import hiredis
import msgspec
import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection

from fakes.limits_cases import CASES, T0, Case
from fakes.timing import eventually
from sluicegate.admission.limiter import Ask, LimiterUnavailable, Rule
from sluicegate.admission.memory_limiter import MemoryLimiter
from sluicegate.admission.redis_limits import RedisLimiter

pytestmark = pytest.mark.redis


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[aioredis.Redis]]:
    made = [aioredis.from_url(redis_url), aioredis.from_url(redis_url, decode_responses=True)]
    yield made
    for c in made:
        await c.aclose()


@pytest.fixture
def replicas(clients: list[aioredis.Redis]) -> list[RedisLimiter]:
    return [RedisLimiter(c) for c in clients]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the commands every connection writes from now on (the
    limiter writes some on a connection of its own, past the client's methods)."""
    names: list[str] = []
    send = AbstractConnection.send_packed_command

    async def recording(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        reader = hiredis.Reader()
        chunks = [command] if isinstance(command, bytes | str) else command
        for chunk in chunks:
            reader.feed(chunk.encode() if isinstance(chunk, str) else chunk)
        while (request := reader.gets()) is not False:
            names.append(request[0].decode().upper())
        await send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recording)
    return names


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_redis_limiter(case: Case, replicas: list[RedisLimiter]) -> None:
    await case(replicas)


async def test_admission_and_settlement_are_one_round_trip_each(
    replicas: list[RedisLimiter], sent: list[str]
) -> None:
    limiter = replicas[0]
    await limiter.load()
    sent.clear()
    rules = [Rule("acme", rpm=10, tpm=1_000, max_concurrency=3, budget_usd=5.0),
             Rule("acme/ci", rpm=5), Rule("acme|smart", tpm=500)]
    decision = await limiter.admit(rules, Ask(100, 0.01, T0))
    assert decision.admitted and decision.ticket is not None
    assert sent == ["EVALSHA"]
    await limiter.settle(decision.ticket, tokens=80, cost_usd=0.008, now=T0 + 1)
    assert sent == ["EVALSHA", "EVALSHA"]
    assert await replicas[1].spent("acme", "month", T0) == pytest.approx(0.008)


async def test_keys_are_prefixed_and_expire(
    replicas: list[RedisLimiter], clients: list[aioredis.Redis]
) -> None:
    rules = [Rule("acme", rpm=10, tpm=1_000, max_concurrency=3, budget_usd=5.0,
                  budget_period="day")]
    assert (await replicas[0].admit(rules, Ask(100, 0.01, T0))).admitted
    keys = sorted(await clients[1].keys("*"))
    assert keys == [
        "sluicegate:limit:budget:acme:day:2024-05-08",
        "sluicegate:limit:conc:acme",
        "sluicegate:limit:rpm:acme",
        "sluicegate:limit:tpm:acme",
    ]
    for key in keys:
        assert await clients[1].ttl(key) > 0
    assert await clients[1].get(keys[0]) == "10000"  # micro-dollars


async def test_unreachable_redis_raises_limiter_unavailable() -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        with pytest.raises(LimiterUnavailable):
            await RedisLimiter(client).admit([Rule("acme", rpm=1)], Ask(1, 0.0, T0))
    finally:
        await client.aclose()


async def test_a_deferred_settlement_rides_with_the_next_admission(
    replicas: list[RedisLimiter], sent: list[str]
) -> None:
    limiter, other = replicas
    await limiter.load()
    rule = Rule("acme", tpm=1_000, max_concurrency=1)
    first = await limiter.admit([rule], Ask(tokens=600, cost_usd=0.0, now=T0))
    assert first.ticket is not None
    await limiter.settle_later(first.ticket, tokens=100, cost_usd=0.0, now=T0)
    # Not sent yet: another replica still sees the slot and the 600 reserved tokens.
    refused = await other.admit([rule], Ask(tokens=500, cost_usd=0.0, now=T0))
    assert not refused.admitted
    sent.clear()
    # The same replica's next admission settles first, in the same round trip.
    second = await limiter.admit([rule], Ask(tokens=500, cost_usd=0.0, now=T0))
    assert second.admitted and second.remaining["tokens"] == 400
    assert sent == ["EVALSHA"]


async def test_deferred_settlements_are_sent_by_themselves_soon(
    replicas: list[RedisLimiter],
) -> None:
    limiter, other = replicas
    rule = Rule("acme", max_concurrency=1)
    first = await limiter.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0))
    assert first.ticket is not None
    await limiter.settle_later(first.ticket, tokens=1, cost_usd=0.0, now=T0)

    # Nothing more happens on ``limiter``: its timer sends the settlement (after
    # SETTLE_DELAY_S, or later on a busy machine) and the slot is free elsewhere.
    async def admitted_elsewhere() -> bool:
        return (await other.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0))).admitted

    await eventually(admitted_elsewhere, "the deferred settlement was never sent")


async def test_windows_in_redis_count_their_buckets_and_drop_old_ones(
    replicas: list[RedisLimiter],
) -> None:
    limiter = replicas[0]
    second = int(T0)
    # Buckets another replica wrote earlier.
    await limiter.client.hset(
        limiter.prefix + "rpm:acme", mapping={str(second - 10): 3, str(second - 5): 2}
    )
    rule = Rule("acme", rpm=6)
    first = await limiter.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0))
    assert first.admitted and first.remaining["requests"] == 0
    assert not (await limiter.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0))).admitted
    # 51 s on, the bucket from 10 s before T0 has left the window; the others stay.
    later = T0 + 51
    again = await limiter.admit([rule], Ask(tokens=1, cost_usd=0.0, now=later))
    assert again.admitted and again.remaining["requests"] == 6 - (2 + 1 + 1)


async def test_a_replica_a_second_behind_leaves_the_window_exact(
    replicas: list[RedisLimiter],
) -> None:
    ahead, behind = replicas
    rule = Rule("acme", rpm=3)
    assert (await ahead.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0 + 1))).admitted
    assert (await behind.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0))).admitted
    # Both buckets leave in their own time: at T0 + 60 only the later one counts.
    at = await ahead.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0 + 60))
    assert at.admitted and at.remaining["requests"] == 3 - 2


async def test_window_totals_match_their_buckets(
    replicas: list[RedisLimiter], clients: list[aioredis.Redis]
) -> None:
    """The running total (-1), newest (-2) and oldest (-3) fields agree with the
    buckets through admissions, settlements, refusals and pruning."""
    a, b = replicas
    rule = Rule("acme", rpm=50, tpm=5_000)
    for step in range(150):
        now = T0 + step * 0.7
        d = await (a if step % 2 else b).admit([rule], Ask(tokens=60, cost_usd=0.0, now=now))
        if d.ticket is not None and step % 3:
            await (b if step % 2 else a).settle_later(d.ticket, tokens=20, cost_usd=0.0, now=now)
        elif d.ticket is not None:
            await a.release(d.ticket)
    await a.flush()
    await b.flush()
    oldest = int(T0 + 149 * 0.7) - 59
    for key in ("rpm", "tpm"):
        stored = await clients[1].hgetall(f"{a.prefix}{key}:acme")
        fields = {int(k): int(v) for k, v in stored.items()}
        buckets = {s: v for s, v in fields.items() if s >= 0}
        assert min(buckets) >= oldest
        assert fields[-1] == sum(buckets.values())
        assert fields[-2] == max(buckets)
        assert fields[-3] <= min(buckets)


async def test_one_rule_decides_as_the_memory_limiter(replicas: list[RedisLimiter]) -> None:
    """The one-rule path builds its Decision itself: it must be decide()'s."""
    memory = MemoryLimiter()
    rule = Rule("acme", rpm=4, tpm=1_000, max_concurrency=3, budget_usd=0.05, budget_period="day")
    for step, (tokens, cost) in enumerate([(100, 0.01), (300, 0.01), (700, 0.01), (200, 0.02),
                                           (100, 0.01), (100, 0.01), (100, 0.001)]):
        ask = Ask(tokens, cost, T0 + step * 0.4)
        got, want = await replicas[step % 2].admit([rule], ask), await memory.admit([rule], ask)
        assert (got.admitted, got.rule, got.subject) == (want.admitted, want.rule, want.subject)
        # Redis reports waits in whole milliseconds, rounded up.
        assert got.retry_after_s == pytest.approx(want.retry_after_s, abs=0.002)
        assert (got.remaining, got.limit) == (want.remaining, want.limit)
        assert got.reset_s == pytest.approx(want.reset_s, abs=0.002)
        assert (got.ticket is None) == (want.ticket is None)
        if got.ticket is not None and want.ticket is not None:
            # Ids differ (each limiter makes its own); the rest is the same ticket.
            assert msgspec.structs.asdict(got.ticket) | {"id": ""} == (
                msgspec.structs.asdict(want.ticket) | {"id": ""})
            if step == 1:
                await replicas[0].release(got.ticket)
                await memory.release(want.ticket)


async def test_a_connection_redis_closed_is_replaced_without_losing_the_call(
    redis_url: str, clients: list[aioredis.Redis]
) -> None:
    client = aioredis.from_url(redis_url, client_name="limiter-under-test")
    limiter = RedisLimiter(client)
    rule = Rule("acme", rpm=10)
    try:
        assert (await limiter.admit([rule], Ask(1, 0.0, T0))).admitted
        # As a Redis restart would: every connection of the limiter's is closed.
        for info in await clients[1].client_list():
            if info["name"] == "limiter-under-test":
                await clients[1].client_kill_filter(_id=info["id"])
        # Its kept connection is dead: the call goes over the pool instead, once.
        again = await limiter.admit([rule], Ask(1, 0.0, T0))
        assert again.admitted and again.remaining["requests"] == 8
        third = await limiter.admit([rule], Ask(1, 0.0, T0))
        assert third.admitted and third.remaining["requests"] == 7
    finally:
        await client.aclose()


async def test_scripts_lost_by_redis_are_loaded_again(
    replicas: list[RedisLimiter], sent: list[str]
) -> None:
    limiter = replicas[0]
    rule = Rule("acme", rpm=10)
    await limiter.load()
    assert (await limiter.admit([rule], Ask(1, 0.0, T0))).admitted
    await limiter.client.script_flush()
    sent.clear()
    again = await limiter.admit([rule], Ask(1, 0.0, T0))
    assert again.admitted and again.remaining["requests"] == 8
    assert sent == ["EVALSHA", "SCRIPT", "EVALSHA"]
    sent.clear()
    assert (await limiter.admit([rule], Ask(1, 0.0, T0))).remaining["requests"] == 7
    assert sent == ["EVALSHA"]


async def test_a_redis_that_stops_answering_is_unavailable_after_the_socket_timeout() -> None:
    """A server that accepts and acknowledges the connection's set-up, then never
    answers a script: the limiter gives up after socket_timeout, once."""
    scripts = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal scripts
        parser = hiredis.Reader()
        while data := await reader.read(65536):
            parser.feed(data)
            while (request := parser.gets()) is not False:
                if request[0].upper() == b"EVALSHA":
                    scripts += 1
                else:
                    writer.write(b"+OK\r\n")

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2, protocol=2)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(LimiterUnavailable):
            await RedisLimiter(client).admit([Rule("acme", rpm=1)], Ask(1, 0.0, T0))
        assert loop.time() - started < 1.0
        assert scripts == 1
    finally:
        await client.aclose()
        server.close()


async def test_concurrent_admissions_use_the_pool_beside_the_kept_connection(
    replicas: list[RedisLimiter],
) -> None:
    limiter = replicas[0]
    rule = Rule("acme", rpm=30)
    decisions = await asyncio.gather(
        *(limiter.admit([rule], Ask(1, 0.0, T0)) for _ in range(40))
    )
    assert sum(d.admitted for d in decisions) == 30
    assert limiter.round_trips == 40
