"""The store shared by replicas, against a real Redis (skipped when none is reachable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from sluicegate.cache.entry import CachedAnswer, encode
from sluicegate.cache.key import SHARED_SCOPE, namespace, tenant_scope
from sluicegate.cache.redis_store import RedisCache
from sluicegate.cache.store import Selector
from sluicegate.canonical import Finish, Start, TextDelta, Usage
from sluicegate.state.redis import connect_redis

ANSWER = CachedAnswer(
    events=(Start(id="c1", model="m"), TextDelta(text="Rome."), Finish(reason="stop"),
            Usage(input_tokens=9, output_tokens=2)),
    stored_at=1_700_000_000.0,
    target="oai/m",
    alias="smart",
    tags=("kb:v1", "team:search"),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(tenant: str | None, alias: str, n: int) -> str:
    scope = tenant_scope(tenant) if tenant is not None else SHARED_SCOPE
    return f"{namespace(scope, alias)}:{n:032x}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


async def test_an_answer_is_stored_with_its_ttl_and_read_back(redis: aioredis.Redis) -> None:
    cache = RedisCache(redis)
    began = time.monotonic()
    assert await cache.put(key("acme", "smart", 1), ANSWER, ttl_s=30)
    assert await cache.get(key("acme", "smart", 1)) == ANSWER
    assert await cache.get(key("acme", "smart", 2)) is None
    ttl_ms = await redis.pttl(cache.entry_key(key("acme", "smart", 1)))
    tag_ttl = await redis.pttl(cache._tag_key("kb:v1"))
    # Redis counts down in real time: what is left is 30 s less what this took.
    since_put_ms = (time.monotonic() - began) * 1000
    assert 30_000 - since_put_ms - 1 <= ttl_ms <= 30_000
    assert 30_000 - since_put_ms - 1 <= tag_ttl <= 30_000
    # A longer-lived entry extends its tags' sets; a shorter one never shortens them.
    await cache.put(key("acme", "smart", 3), ANSWER, ttl_s=300)
    await cache.put(key("acme", "smart", 4), ANSWER, ttl_s=5)
    assert await redis.pttl(cache._tag_key("kb:v1")) > 290_000


async def test_an_entry_expires(redis: aioredis.Redis) -> None:
    cache = RedisCache(redis)
    await cache.put(key("acme", "smart", 1), ANSWER, ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert await cache.get(key("acme", "smart", 1)) is None


async def test_oversized_and_unreadable_entries(redis: aioredis.Redis) -> None:
    cache = RedisCache(redis, max_entry_bytes=len(encode(ANSWER)) - 1)
    assert not await cache.put(key("acme", "smart", 1), ANSWER, ttl_s=30)
    await redis.set(cache.entry_key(key("acme", "smart", 2)), b"not an answer")
    assert await cache.get(key("acme", "smart", 2)) is None


async def test_invalidation_by_tenant_alias_and_tag(redis: aioredis.Redis) -> None:
    cache = RedisCache(redis)
    untagged = CachedAnswer(events=ANSWER.events, stored_at=0, target=None, alias="smart")
    await cache.put(key("acme", "smart", 1), ANSWER, ttl_s=60)
    await cache.put(key("acme", "cheap", 2), untagged, ttl_s=60)
    await cache.put(key("globex", "smart", 3), ANSWER, ttl_s=60)
    await cache.put(key(None, "smart", 4), untagged, ttl_s=60)

    assert await cache.invalidate(Selector(scope=tenant_scope("globex"), tag="kb:v1")) == 1
    assert await cache.get(key("acme", "smart", 1)) is not None, "acme's has the tag too"
    assert await cache.invalidate(Selector(alias="smart")) == 2
    assert await cache.invalidate(Selector(tag="team:search")) == 0, "both gone already"
    assert await cache.get(key("acme", "cheap", 2)) is not None
    assert await cache.invalidate(Selector()) == 1
    assert await redis.keys(f"{cache.prefix}e:*") == []


async def test_an_unreachable_redis_is_a_miss_a_skipped_store_and_then_bypassed() -> None:
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    clock = Clock()
    cache = RedisCache(unreachable, bypass_s=5, clock=clock)
    calls = 0
    original = unreachable.get

    async def counted(name: str) -> bytes | None:
        nonlocal calls
        calls += 1
        return await original(name)

    unreachable.get = counted  # type: ignore[method-assign]
    try:
        assert await cache.get(key("acme", "smart", 1)) is None
        assert not await cache.put(key("acme", "smart", 1), ANSWER, ttl_s=30)
        assert await cache.get(key("acme", "smart", 1)) is None
        clock.now += 4.9
        assert await cache.get(key("acme", "smart", 1)) is None
        assert calls == 1, "bypassed for a while after a failure"
        clock.now += 0.2
        assert await cache.get(key("acme", "smart", 1)) is None
        assert calls == 2, "tried again once the bypass ran out"
    finally:
        await unreachable.aclose()
