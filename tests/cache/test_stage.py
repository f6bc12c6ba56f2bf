"""The Cache stage, driven directly with a fake rest of the chain."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest

from sluicegate.cache import Cache, CachedAnswer, MemoryCache
from sluicegate.cache.key import cache_key, semantic_scope, tenant_scope
from sluicegate.canonical import (
    ChatRequest,
    ErrorKind,
    Event,
    Finish,
    GatewayError,
    Message,
    Start,
    TextDelta,
    TextPart,
    Usage,
)
from sluicegate.config import ModelConfig
from sluicegate.config.schema import CacheConfig
from sluicegate.pipeline import Events, Request, Stream
from sluicegate.runtime.aliases import Alias
from sluicegate.state.directory import Tenant

ANSWER: list[Event] = [
    Start(id="chatcmpl-1", model="gpt-4o-2024-08-06", created=1741569952),
    TextDelta(text="Rome"),
    TextDelta(text=" is the capital."),
    Finish(reason="stop"),
    Usage(input_tokens=1000, output_tokens=100),
]


def alias(name: str = "smart", *, semantic: bool = False, input_price: float = 2.0) -> Alias:
    config = ModelConfig.model_validate({
        "name": name,
        "targets": [{"provider": "oai", "model": "gpt-4o-2024-08-06"}],
        "pricing": {"input_per_mtok": input_price, "output_per_mtok": 10.0},
        "cache": {"semantic": {"threshold": 0.9}} if semantic else {},
    })
    target = SimpleNamespace(label="oai/gpt-4o-2024-08-06")
    return Alias(name=name, targets=(cast(Any, target),), fallbacks=(),
                 pricing=config.pricing, config=config)


def context(question: str = "What is the capital of Italy?", *, serving: Alias | None = None,
            aliases: dict[str, Alias] | None = None,
            headers: dict[str, str] | None = None) -> Request:
    smart = serving or alias()
    runtime = SimpleNamespace(aliases=aliases or {smart.name: smart},
                              config=SimpleNamespace(cache=CacheConfig()))
    body = ChatRequest(model="smart", temperature=0, messages=[
        Message(role="user", content=[TextPart(text=question)])])
    tenant = Tenant(id="ten_acme", name="acme", models=None, limits=cast(Any, SimpleNamespace()))
    return Request.of(body, tenant=tenant, alias=smart, runtime=cast(Any, runtime),
                      headers=headers)


class Upstream:
    """The rest of the chain: counts calls; plays ``events``, or fails after ``fail_after``."""

    def __init__(self, events: list[Event] = ANSWER, *, fail_after: int | None = None,
                 fallback: Alias | None = None) -> None:
        self.events = events
        self.fail_after = fail_after
        self.fallback = fallback
        self.calls = 0

    async def __call__(self, request: Request) -> Events:
        self.calls += 1
        request.outcome.target = cast(Any, SimpleNamespace(label="oai/gpt-4o-2024-08-06"))
        request.outcome.serving_alias = self.fallback or request.alias
        return Stream(self._answer(), request.outcome)

    async def _answer(self) -> AsyncIterator[Event]:
        for n, event in enumerate(self.events):
            if n == self.fail_after:
                raise GatewayError(ErrorKind.UPSTREAM, "cut", code="upstream_error")
            yield event


async def run(stage: Cache, request: Request, upstream: Upstream) -> list[Event]:
    events = await stage(request, upstream)
    try:
        return [e async for e in events]
    finally:
        await events.aclose()


async def test_a_miss_is_stored_and_the_next_one_is_a_hit_priced_at_todays_rates() -> None:
    store = MemoryCache()
    stage, upstream = Cache(store), Upstream()
    first = context()
    assert await run(stage, first, upstream) == ANSWER
    assert (first.outcome.cache, first.outcome.saved_usd) == ("miss", 0.0)

    cheaper = alias(input_price=1.0)
    second = context(serving=cheaper)
    assert await run(stage, second, upstream) == ANSWER
    assert upstream.calls == 1
    assert second.outcome.cache == "hit"
    assert second.outcome.replayed_target == "oai/gpt-4o-2024-08-06"
    assert 0 <= second.outcome.cache_age_s < 1
    assert second.outcome.saved_usd == pytest.approx((1000 * 1.0 + 100 * 10.0) / 1e6)


async def test_a_client_that_goes_away_stores_nothing() -> None:
    store = MemoryCache()
    stage = Cache(store)
    events = await stage(context(), Upstream())
    assert await anext(events) == ANSWER[0]
    await events.aclose()  # egress closes the stream when the client disconnects
    assert len(store) == 0


async def test_an_answer_that_fails_midway_stores_nothing() -> None:
    store = MemoryCache()
    with pytest.raises(GatewayError):
        await run(Cache(store), context(), Upstream(fail_after=2))
    assert len(store) == 0


async def test_a_fallbacks_or_degraded_answer_is_not_kept_under_this_alias() -> None:
    store = MemoryCache()
    await run(Cache(store), context(), Upstream(fallback=alias("cheap")))
    assert len(store) == 0
    degraded = context()
    degraded.outcome.degraded = "emergency"
    await run(Cache(store), degraded, Upstream())
    assert len(store) == 0


async def test_a_failing_store_never_fails_the_answer() -> None:
    class Broken(MemoryCache):
        async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> bool:
            raise ConnectionError("gone")

    assert await run(Cache(Broken()), context(), Upstream()) == ANSWER


@dataclass
class Hit:
    entry_key: str
    similarity: float


class Index:
    """A semantic index that takes every text in a scope for the same question."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str]] = {}
        self.thresholds: list[float | None] = []

    async def lookup(
        self, scope: str, text: str, *, threshold: float | None = None
    ) -> Hit | None:
        self.thresholds.append(threshold)
        found = self.entries.get(scope)
        return Hit(found[1], 0.97) if found is not None else None

    async def store(self, scope: str, text: str, entry_key: str, ttl_s: float) -> None:
        self.entries[scope] = (text, entry_key)


async def test_a_semantic_index_is_asked_after_an_exact_miss() -> None:
    store, index = MemoryCache(), Index()
    stage, upstream = Cache(store, semantic=index), Upstream()
    smart = alias(semantic=True)
    first = context("What is the capital of Italy?", serving=smart)
    await run(stage, first, upstream)
    request = first.decoded
    assert isinstance(request, ChatRequest)
    targets = ("oai/gpt-4o-2024-08-06",)
    scope = semantic_scope(request, scope=tenant_scope("ten_acme"), alias="smart", targets=targets)
    exact = cache_key(request, scope=tenant_scope("ten_acme"), alias="smart", targets=targets)
    assert index.entries == {scope: ("What is the capital of Italy?", exact)}

    paraphrase = context("Which city is Italy's capital?", serving=smart)
    assert await run(stage, paraphrase, upstream) == ANSWER
    assert (paraphrase.outcome.cache, upstream.calls) == ("hit", 1)
    assert index.thresholds[-1] == 0.9, "the alias's threshold goes with the lookup"
    # An alias without cache.semantic never asks the index.
    await run(stage, context("Which city is Italy's capital?"), upstream)
    assert upstream.calls == 2


async def test_max_age_refuses_an_older_answer() -> None:
    store = MemoryCache()
    stage, upstream = Cache(store), Upstream()
    await run(stage, context(), upstream)
    ctx = context(headers={"Cache-Control": "max-age=0"})
    time.sleep(0.01)
    await run(stage, ctx, upstream)
    assert (ctx.outcome.cache, upstream.calls) == ("miss", 2)
