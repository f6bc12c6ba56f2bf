"""RedisLimiter against a real Redis: two "replicas" (separate clients and
limiters) share one database and must behave like one exact limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from fakes.limits_cases import CASES, T0, Case
from sluicegate.admission.limits import Ask, LimiterUnavailable, Rule
from sluicegate.admission.redis_limits import SETTLE_DELAY_S, RedisLimiter

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


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_redis_limiter(case: Case, replicas: list[RedisLimiter]) -> None:
    await case(replicas)


async def test_admission_and_settlement_are_one_round_trip_each(
    replicas: list[RedisLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = replicas[0]
    await limiter.load()
    sent: list[str] = []
    execute = limiter.client.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return await execute(*args, **options)

    monkeypatch.setattr(limiter.client, "execute_command", counting)
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
    replicas: list[RedisLimiter], monkeypatch: pytest.MonkeyPatch
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
    sent: list[str] = []
    execute = limiter.client.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return await execute(*args, **options)

    monkeypatch.setattr(limiter.client, "execute_command", counting)
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
    await asyncio.sleep(SETTLE_DELAY_S * 3)
    assert (await other.admit([rule], Ask(tokens=1, cost_usd=0.0, now=T0))).admitted


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
