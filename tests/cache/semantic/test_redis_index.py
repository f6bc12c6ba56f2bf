"""The shared index against a real Redis: replicas see each other's entries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from sluicegate.cache.semantic import LocalEmbedder, RedisSemanticIndex

pytestmark = pytest.mark.redis

Replica = Callable[..., Awaitable[RedisSemanticIndex]]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def replica(redis_url: str, embedder: LocalEmbedder) -> AsyncIterator[Replica]:
    started: list[tuple[RedisSemanticIndex, aioredis.Redis]] = []

    async def start(url: str = redis_url, **options: object) -> RedisSemanticIndex:
        client = aioredis.from_url(url)
        index = RedisSemanticIndex(client, embedder, **options)  # type: ignore[arg-type]
        await index.start()
        started.append((index, client))
        return index

    yield start
    for index, client in started:
        await index.close()
        await client.aclose()


# A change reaches a following replica within one Redis round trip and an
# insert; the bound only ends a test whose change never arrives (a bug), so a
# busy machine cannot fail it.
NEVER_S = 30.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Seconds until ``check()`` holds."""
    began = time.perf_counter()
    while not await check():
        if time.perf_counter() - began > NEVER_S:
            pytest.fail(what)
        await asyncio.sleep(0.001)
    return time.perf_counter() - began


async def eventually_found(index: RedisSemanticIndex, scope: str, text: str) -> float:
    """Seconds until ``text`` is found in ``scope``."""

    async def found() -> bool:
        return await index.lookup(scope, text) is not None

    return await eventually(found, f"{text!r} never reached the other replica")


async def test_an_entry_stored_by_one_replica_is_found_by_another(replica: Replica) -> None:
    a, b = await replica(), await replica()
    await b.lookup("acme:smart:1", "warm the embedding cache")
    delays = []
    for i, (stored, asked) in enumerate([
        ("How do I reset my password?", "How can I reset my password?"),
        ("What is Docker used for?", "What is Docker for?"),
        ("Why is the sky blue?", "Why does the sky look blue?"),
    ]):
        await a.store("acme:smart:1", stored, f"answer-{i}", ttl_s=60)
        delays.append(await eventually_found(b, "acme:smart:1", asked))
        hit = await b.lookup("acme:smart:1", asked)
        assert hit is not None and hit.entry_key == f"answer-{i}"
    print(f"\nreplica-to-replica delay: max {max(delays) * 1000:.1f} ms "
          f"(includes embedding the query)")


async def test_a_replica_that_starts_later_loads_what_is_there(replica: Replica) -> None:
    clock = Clock(time.time())  # from now: Redis expires keys on its own clock
    a = await replica(clock=clock)
    await a.store("acme:smart:1", "What is inflation?", "answer-1", ttl_s=60)
    await a.store("acme:smart:1", "Give me a banana bread recipe", "gone", ttl_s=5)
    clock.now += 10
    late = await replica(clock=clock)
    hit = await late.lookup("acme:smart:1", "What's inflation?")
    assert hit is not None and hit.entry_key == "answer-1"
    assert len(late) == 1  # the expired one was not loaded


async def test_invalidation_reaches_every_replica(replica: Replica, redis_url: str) -> None:
    a, b = await replica(), await replica()
    await a.store("acme:smart:1", "What is inflation?", "x", ttl_s=60)
    await a.store("acme:cheap:1", "What is inflation?", "y", ttl_s=60)
    await a.store("globex:smart:1", "What is inflation?", "z", ttl_s=60)
    await eventually_found(b, "globex:smart:1", "What is inflation?")
    assert await a.invalidate("acme:") == 2

    async def forgotten() -> bool:
        return await b.lookup("acme:smart:1", "What is inflation?") is None

    await eventually(forgotten, "the invalidation never reached the other replica")
    assert await b.lookup("globex:smart:1", "What is inflation?") is not None
    assert len(await replica()) == 1  # Redis itself forgot them too


async def test_redis_keeps_at_most_the_cap_per_scope(replica: Replica, redis_url: str) -> None:
    a = await replica(max_entries_per_scope=2, prefix="capped:")
    for i, text in enumerate(["What is inflation?", "What is Docker?", "What is Kubernetes?"]):
        await a.store("s", text, f"k{i}", ttl_s=60 + i)
    client = aioredis.from_url(redis_url)
    assert await client.hlen("capped:e:s") == 2
    assert await client.zcard("capped:x:s") == 2
    assert 0 < await client.pttl("capped:e:s") <= 63_000
    await client.aclose()
    assert len(a) == 2


async def test_missed_changes_make_a_replica_reload(replica: Replica, redis_url: str) -> None:
    a, b = await replica(), await replica()
    await b.close()  # b stops following the log; its mirror stays
    await a.store("s", "What is inflation?", "lost", ttl_s=60)
    client = aioredis.from_url(redis_url)
    await client.xtrim("sg:sem:log", maxlen=0)  # the log was trimmed past b
    await client.aclose()
    await a.store("s", "Why is the sky blue?", "seen", ttl_s=60)
    # Follow again from where b stopped (start() would reload at once and prove nothing).
    b._task = asyncio.create_task(b._follow())
    await eventually_found(b, "s", "Why does the sky look blue?")
    await eventually_found(b, "s", "What's inflation?")  # only a reload can bring this back


async def test_without_redis_the_replica_still_serves_its_own_entries(replica: Replica) -> None:
    a = await replica("redis://127.0.0.1:1/0")
    await a.store("s", "What is inflation?", "k", ttl_s=60)
    hit = await a.lookup("s", "What's inflation?")
    assert hit is not None and hit.entry_key == "k"
