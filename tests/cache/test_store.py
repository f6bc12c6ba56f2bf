"""The in-process store (LRU under a byte cap, TTL, invalidation) and the stored bytes."""

from __future__ import annotations

import pytest

from sluicegate.cache.entry import CachedAnswer, complete, decode, encode
from sluicegate.cache.key import SHARED_SCOPE, namespace, tenant_scope
from sluicegate.cache.store import MemoryCache, Selector
from sluicegate.canonical import (
    EmbeddingsResult,
    Finish,
    Start,
    TextDelta,
    ToolCallDelta,
    Usage,
)

ANSWER = CachedAnswer(
    events=(
        Start(id="chatcmpl-1", model="gpt-4o-2024-08-06", created=1741569952),
        TextDelta(text="Rome."),
        ToolCallDelta(call_index=0, id="call_1", name="lookup", arguments='{"q": "Rome"}'),
        Finish(reason="tool_calls"),
        Usage(input_tokens=20, output_tokens=5, cached_tokens=8),
    ),
    stored_at=1_700_000_000.5,
    target="oai/gpt-4o-2024-08-06",
    alias="smart",
    tags=("kb:v1",),
)


def key(tenant: str | None, alias: str, n: int) -> str:
    scope = tenant_scope(tenant) if tenant is not None else SHARED_SCOPE
    return f"{namespace(scope, alias)}:{n:032x}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_survives_its_bytes() -> None:
    assert decode(encode(ANSWER)) == ANSWER
    assert ANSWER.usage == Usage(input_tokens=20, output_tokens=5, cached_tokens=8)
    with pytest.raises(ValueError, match="unreadable"):
        decode(b'{"v": 1, "events": "nope"}')
    with pytest.raises(ValueError, match="format 9"):
        decode(encode(ANSWER).replace(b'"v":1', b'"v":9'))


def test_only_complete_successful_answers_are_worth_keeping() -> None:
    assert complete([Start(id="a", model="m"), TextDelta(text="x"), Finish(reason="stop")])
    assert complete([EmbeddingsResult(model="e", vectors=[[0.1]]), Usage(input_tokens=1)])
    assert not complete([Start(id="a", model="m"), TextDelta(text="x")]), "never finished"
    assert not complete([Start(id="a", model="m"), Finish(reason="error")])


async def test_entries_expire_with_their_ttl() -> None:
    clock = Clock()
    cache = MemoryCache(clock=clock)
    assert await cache.put(key("acme", "smart", 1), ANSWER, ttl_s=60)
    clock.now += 59
    assert await cache.get(key("acme", "smart", 1)) == ANSWER
    clock.now += 2
    assert await cache.get(key("acme", "smart", 1)) is None
    assert len(cache) == 0 and cache.bytes == 0


async def test_the_least_recently_used_go_first_past_the_byte_cap() -> None:
    size = len(key("acme", "smart", 0)) + len(encode(ANSWER))
    cache = MemoryCache(max_bytes=3 * size)
    for n in range(3):
        await cache.put(key("acme", "smart", n), ANSWER, ttl_s=60)
    assert await cache.get(key("acme", "smart", 0)) is not None  # now the most recent
    await cache.put(key("acme", "smart", 3), ANSWER, ttl_s=60)
    assert await cache.get(key("acme", "smart", 1)) is None, "the least recently used went"
    assert all([await cache.get(key("acme", "smart", n)) for n in (0, 2, 3)])
    assert cache.bytes == 3 * size


async def test_an_answer_larger_than_the_entry_cap_is_not_kept() -> None:
    cache = MemoryCache(max_entry_bytes=100)
    assert not await cache.put(key("acme", "smart", 1), ANSWER, ttl_s=60)
    assert len(cache) == 0


async def test_invalidation_by_tenant_alias_tag_and_shared_scope() -> None:
    cache = MemoryCache()
    untagged = CachedAnswer(events=ANSWER.events, stored_at=0, target=None, alias="smart")
    entries = {
        key("acme", "smart", 1): ANSWER,
        key("acme", "cheap", 2): untagged,
        key("globex", "smart", 3): untagged,
        key(None, "smart", 4): ANSWER,
    }
    for k, answer in entries.items():
        await cache.put(k, answer, ttl_s=60)

    assert await cache.invalidate(Selector(scope=tenant_scope("acme"), tag="kb:v1")) == 1
    assert await cache.get(key(None, "smart", 4)) is not None, "the shared one had the tag too"
    assert await cache.invalidate(Selector(alias="smart")) == 2
    assert await cache.invalidate(Selector(scope=SHARED_SCOPE)) == 0
    assert list(cache._entries) == [key("acme", "cheap", 2)]
    assert await cache.invalidate(Selector()) == 1
    assert len(cache) == 0
