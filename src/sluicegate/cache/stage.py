"""Stage: answer a repeated question from the response cache, and keep fresh answers.

For a request the policy admits (:mod:`sluicegate.cache.policy`), the exact key
(:mod:`sluicegate.cache.key`) is looked up; a hit replays the stored canonical
events, which egress encodes for the client like a fresh answer: a stream for a
streaming client, one body for the others, in either protocol, whoever stored
it. A miss goes upstream and its events are collected as they pass (nothing is
held back from the client); once the answer has ended complete and successful
it is stored. An error, a stream cut short or a client that went away stores
nothing, nor does an answer from another alias (a fallback or a degraded
stand-in): the key names this alias's deployments, and their answer is what it
promises.

A hit costs no upstream call: the access log records it with zero tokens and cost, the
cache outcome and ``saved_usd`` (the stored call's usage at today's prices),
and the tenant's token and budget reservations settle at zero.

Semantic lookup slots in after an exact miss: given a ``semantic`` index, an
alias with ``cache.semantic`` set asks it for a stored paraphrase of the last
user turn in the request's semantic scope, and fresh answers are added to it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import Metric

from sluicegate.cache.entry import CachedAnswer, complete
from sluicegate.cache.key import cache_key, semantic_scope, semantic_text
from sluicegate.cache.policy import Decision, decide
from sluicegate.cache.store import CacheStore, MemoryCache
from sluicegate.canonical import ChatRequest, Event
from sluicegate.canonical.recording import Recording
from sluicegate.observability.metrics import counter
from sluicegate.pipeline import Events, Next, Observer, Request, Stream
from sluicegate.runtime.aliases import Alias

log = logging.getLogger("sluicegate.cache")


class SemanticHit(Protocol):
    @property
    def entry_key(self) -> str: ...


class SemanticIndex(Protocol):
    """What the stage needs of a semantic index (``sluicegate.cache.semantic``)."""

    async def lookup(
        self, scope: str, text: str, *, threshold: float | None = None
    ) -> SemanticHit | None: ...

    async def store(self, scope: str, text: str, entry_key: str, ttl_s: float) -> None: ...


class Cache:
    def __init__(
        self, store: CacheStore | None = None, *, semantic: SemanticIndex | None = None
    ) -> None:
        # ``semantic``: None unless some alias sets cache.semantic (the model costs memory).
        self.store: CacheStore = store if store is not None else MemoryCache()
        self.semantic = semantic
        # Requests the cache answered ("hit") or sent upstream ("miss"), by alias: the
        # hit rate on /metrics (the ledger has it per request, but not for a dashboard).
        self.lookups: Counter[tuple[str, str]] = Counter()

    def metrics(self) -> Iterator[Metric]:
        yield counter(
            "sluicegate_cache_lookups",
            "Requests the response cache was consulted for, by alias and result (hit, miss).",
            ["alias", "result"],
            self.lookups.items(),
        )

    async def __call__(self, request: Request, call_next: Next) -> Events:
        decision = decide(request)
        if decision is None:
            return await call_next(request)
        alias = request.alias
        assert alias is not None
        key = cache_key(
            request.decoded,
            scope=decision.scope,
            alias=alias.name,
            targets=_labels(alias),
            prompt_version=request.prompt,
        )
        if decision.lookup:
            answer = await self.store.get(key)
            if answer is None and self._semantic_for(request) is not None:
                answer = await self._semantic_lookup(request, decision)
            if answer is not None and _fresh_enough(answer, decision):
                self.lookups[alias.name, "hit"] += 1
                return _hit(request, answer)
        request.outcome.cache = "miss"
        self.lookups[alias.name, "miss"] += 1
        stream = await call_next(request)
        if not decision.store:
            return stream
        return stream.watch(_Keeper(self, request, key, decision))

    async def _store(
        self, request: Request, key: str, decision: Decision, events: list[Event]
    ) -> None:
        target = request.outcome.target
        answer = CachedAnswer(
            events=tuple(events),
            stored_at=time.time(),
            target=target.label if target is not None else None,
            alias=request.alias.name if request.alias is not None else None,
            tags=request.tags,
        )
        try:
            stored = await self.store.put(key, answer, decision.ttl_s)
            semantic = self._semantic_for(request)
            if stored and semantic is not None:
                text = semantic_text(request.decoded)  # type: ignore[arg-type]
                if text is not None:
                    scope = _semantic_scope(request, decision)
                    await semantic.store(scope, text, key, decision.ttl_s)
        except Exception:  # the answer has been served; never fail it for the cache
            log.exception("could not store an answer in the response cache")

    def _semantic_for(self, request: Request) -> SemanticIndex | None:
        alias = request.alias
        if self.semantic is None or alias is None or alias.config.cache.semantic is None:
            return None
        return self.semantic if isinstance(request.body, ChatRequest) else None

    async def _semantic_lookup(
        self, request: Request, decision: Decision
    ) -> CachedAnswer | None:
        assert self.semantic is not None and isinstance(request.body, ChatRequest)
        text = semantic_text(request.body)
        if text is None:
            return None
        assert request.alias is not None and request.alias.config.cache.semantic is not None
        threshold = request.alias.config.cache.semantic.threshold
        try:
            found = await self.semantic.lookup(
                _semantic_scope(request, decision), text, threshold=threshold
            )
        except Exception:
            log.exception("semantic cache lookup failed; treated as a miss")
            return None
        return None if found is None else await self.store.get(found.entry_key)


class _Keeper(Observer):
    """Collects a fresh answer as it passes (nothing is held back from the client)
    and stores it once it has ended complete: before the stream's end reaches the
    client, so that its next request finds the answer (one Redis round trip at most)."""

    __slots__ = ("_cache", "_decision", "_key", "_recording", "_request")

    def __init__(self, cache: Cache, request: Request, key: str, decision: Decision) -> None:
        self._cache, self._request, self._key, self._decision = cache, request, key, decision
        self._recording = Recording(cache.store.max_entry_bytes)

    def on_event(self, event: Event) -> None:
        self._recording.add(event)

    async def on_end(self, stream: Stream) -> None:
        events = self._recording.events  # None: too large to keep
        if events is not None and stream.completed and _storable(self._request, events):
            await self._cache._store(self._request, self._key, self._decision, events)


def _labels(alias: Alias) -> tuple[str, ...]:
    return tuple(t.label for t in alias.targets)


def _semantic_scope(request: Request, decision: Decision) -> str:
    assert isinstance(request.body, ChatRequest) and request.alias is not None
    return semantic_scope(
        request.body,
        scope=decision.scope,
        alias=request.alias.name,
        targets=_labels(request.alias),
        prompt_version=request.prompt,
    )


def _fresh_enough(answer: CachedAnswer, decision: Decision) -> bool:
    return decision.max_age_s is None or time.time() - answer.stored_at <= decision.max_age_s


def _storable(request: Request, events: list[Event]) -> bool:
    outcome = request.outcome
    served_by = outcome.serving_alias
    own = served_by is None or served_by is request.alias
    # An answer that broke its output contract (handed on with on_violation: pass) is
    # not one to give again.
    checked = outcome.contract != "invalid"
    return (
        own and checked and outcome.degraded is None and not outcome.replayed
        and complete(events)
    )


def _hit(request: Request, answer: CachedAnswer) -> Events:
    request.outcome.cache = "hit"
    request.outcome.cache_age_s = max(0.0, time.time() - answer.stored_at)
    request.outcome.replayed_target = answer.target
    request.outcome.saved_usd = _saved(request, answer)
    return Stream.replay(answer.events, request.outcome)


def _saved(request: Request, answer: CachedAnswer) -> float:
    """What the stored call would cost today (at the producing alias's current prices)."""
    usage = answer.usage
    alias = request.runtime.aliases.get(answer.alias or "") or request.alias
    if usage is None or alias is None:
        return 0.0
    return alias.cost_usd(
        usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.cache_write_tokens
    )
