"""The Redis idempotency store: one key, one first request, across replicas.

Runs against a real Redis (the ``redis_url`` fixture); every "replica" is a
store with its own client, as two gateway processes would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, get_args

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from fakes.stored import stored_answer
from fakes.timing import NEVER_S, eventually
from sluicegate.canonical import (
    ChatRequest,
    EmbeddingsResult,
    ErrorKind,
    Event,
    Finish,
    GatewayError,
    Message,
    Start,
    TextDelta,
    TextPart,
    ToolCallDelta,
    Usage,
)
from sluicegate.config import LimitsConfig
from sluicegate.idempotency import (
    RETRY,
    Conflict,
    Idempotency,
    InProgress,
    Replay,
    Scope,
    Started,
    StoredAnswer,
    Token,
    redis_store,
)
from sluicegate.idempotency.redis_store import RedisIdempotencyStore
from sluicegate.idempotency.wire import decode_answer, encode_answer
from sluicegate.pipeline import Events, Request, Stream
from sluicegate.state.directory import Tenant

SCOPE = Scope("acme", "order-42")
FP = "fingerprint-a"
OTHER_FP = "fingerprint-b"

Replica = Callable[..., RedisIdempotencyStore]

# A poll interval no test lives to see: a waiter on such a store is woken by a
# notification or by nobody, however long NEVER_S lets it wait.
NO_POLL_S = 3600.0


@pytest.fixture
def no_live_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiters re-read no more once a second while subscribed (the fallback for a key
    that vanishes silently): only a notification (or the lease) can wake them."""
    monkeypatch.setattr(redis_store, "_LIVE_POLL_S", NO_POLL_S)


@pytest.fixture
async def replica(redis_url: str) -> AsyncIterator[Replica]:
    """``replica(**store_options)``: a store with a client of its own, closed after the test."""
    made: list[tuple[RedisIdempotencyStore, aioredis.Redis]] = []

    def make(decode_responses: bool = False, **options: Any) -> RedisIdempotencyStore:
        client = aioredis.from_url(redis_url, decode_responses=decode_responses)
        store = RedisIdempotencyStore(client, **options)
        made.append((store, client))
        return store

    yield make
    for store, client in made:
        await store.aclose()
        await client.aclose()




async def start(store: RedisIdempotencyStore, scope: Scope = SCOPE, fp: str = FP) -> Token:
    begun = await store.begin(scope, fp)
    assert isinstance(begun, Started), begun
    return begun.token


async def waiting(store: RedisIdempotencyStore, scope: Scope = SCOPE) -> InProgress:
    begun = await store.begin(scope, FP)
    assert isinstance(begun, InProgress), begun
    return begun


# --- The stored answer on the wire ----------------------------------------------------

EVERY_EVENT: list[Event] = [
    Start(id="msg_013Zva2CMHLNnXjNJJKqJ2EF", model="claude-sonnet-4-20250514", created=1741569952),
    TextDelta(text='Caf\u00e9 \u2615 "quoted"\n', index=1),
    ToolCallDelta(call_index=0, id="call_abc123", name="get_weather", arguments='{"loc'),
    ToolCallDelta(call_index=0, arguments='ation": "Paris"}'),
    Finish(reason="tool_calls"),
    Finish(reason="stop", stop_sequence="\n\nHuman:"),
    Usage(
        input_tokens=2095,
        output_tokens=503,
        cached_tokens=1024,
        cache_write_tokens=64,
        reasoning_tokens=128,
        estimated=True,
    ),
    EmbeddingsResult(
        model="text-embedding-3-small", vectors=[[0.0023064255, -0.009327292, 1e-300], [1.5]]
    ),
    EmbeddingsResult(model="text-embedding-3-small", vectors=["AAAAAAAA8D8="]),
]


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
def test_every_event_type_survives_the_round_trip(event: Event) -> None:
    stored = StoredAnswer(
        events=(event,),
        target=None,
        alias=None,
        request_id="rec-7",
        attempts=3,
        first_event_s=None,
    )

    back = decode_answer(encode_answer(stored))

    assert back == stored
    assert type(back.events[0]) is type(event)


def test_a_whole_answer_survives_the_round_trip_in_order() -> None:
    stored = StoredAnswer(
        events=tuple(EVERY_EVENT),
        target="main/gpt-4o",
        alias="smart",
        request_id="rec-1",
        attempts=2,
        first_event_s=0.123456789,
    )

    assert decode_answer(encode_answer(stored)) == stored
    assert decode_answer(encode_answer(stored).decode()) == stored  # a decoding client
    assert {type(e) for e in EVERY_EVENT} == set(get_args(Event))  # every type is covered


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"v": 2, "events": [], "target": null, "alias": null, "request_id": "r",'
        b' "attempts": 1, "first_event_s": null}',
        b'{"v": 1, "events": [["smoke_signal", {}]], "target": null, "alias": null,'
        b' "request_id": "r", "attempts": 1, "first_event_s": null}',
        b'{"v": 1, "events": [["text", {"txt": "x"}]], "target": null, "alias": null,'
        b' "request_id": "r", "attempts": 1, "first_event_s": null}',
    ],
    ids=["not-json", "future-format", "unknown-event", "event-missing-a-field"],
)
def test_an_unreadable_answer_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_answer(data)


# --- Claims and answers ---------------------------------------------------------------


@pytest.mark.parametrize("decode_responses", [False, True], ids=["bytes", "decoded"])
async def test_first_begin_claims_and_a_completed_answer_is_replayed(
    replica: Replica, decode_responses: bool
) -> None:
    store = replica(decode_responses=decode_responses)
    token = await start(store)
    await store.complete(token, stored_answer())

    again = await store.begin(SCOPE, FP)

    assert again == Replay(stored_answer())
    assert again.answer.usage == Usage(input_tokens=9, output_tokens=1)


@pytest.mark.parametrize("completed", [True, False], ids=["completed", "running"])
async def test_another_fingerprint_for_the_key_conflicts(replica: Replica, completed: bool) -> None:
    store = replica()
    token = await start(store)
    if completed:
        await store.complete(token, stored_answer())

    assert await store.begin(SCOPE, OTHER_FP) == Conflict()


async def test_the_same_request_while_the_first_runs_is_in_progress(replica: Replica) -> None:
    store = replica()
    await start(store)

    assert isinstance(await store.begin(SCOPE, FP), InProgress)


async def test_abandon_lets_the_next_caller_be_first(replica: Replica) -> None:
    store = replica()
    token = await start(store)

    await store.abandon(token)
    await store.abandon(token)  # idempotent
    await store.complete(token, stored_answer())  # a released token stores nothing

    second = await start(store)
    assert second.claim != token.claim


async def test_a_stale_token_cannot_complete_or_abandon_the_next_claim(replica: Replica) -> None:
    store = replica(lease_s=0.2)
    stale = await start(store)
    await asyncio.sleep(0.25)  # its lease runs out
    fresh = await start(store)

    await store.complete(stale, stored_answer("stale"))
    await store.abandon(stale)
    assert isinstance(await store.begin(SCOPE, FP), InProgress)  # still fresh's claim

    await store.complete(fresh, stored_answer("fresh"))
    assert await store.begin(SCOPE, FP) == Replay(stored_answer("fresh"))


async def test_an_answer_expires_after_the_ttl(replica: Replica, redis_url: str) -> None:
    # A TTL long enough that no pause of this machine ends it between the calls.
    store = replica(ttl_s=30, lease_s=60)
    await store.complete(await start(store), stored_answer())
    ttl_ms = await store.client.pttl(store.key(SCOPE))
    assert 0 < ttl_ms <= 30_000  # the TTL of the answer, not the lease
    assert isinstance(await store.begin(SCOPE, FP), Replay)

    # A short one runs out (when Redis says) and the key is free again.
    short = replica(ttl_s=0.3, lease_s=60)
    scope = Scope("acme", "order-43")
    await short.complete(await start(short, scope), stored_answer())

    async def expired() -> bool:
        return isinstance(await short.begin(scope, FP), Started)

    await eventually(expired, "the answer was still replayed")


async def test_an_answer_over_max_entry_bytes_is_not_kept_and_its_key_is_released(
    replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    one, two = replica(max_entry_bytes=10_000, poll_s=30), replica(poll_s=30)
    token = await start(one)
    waiter = asyncio.ensure_future((await waiting(two)).waiter)
    await asyncio.sleep(0.1)

    await one.complete(token, stored_answer("x" * 10_000))

    # The waiter on the other replica reruns.
    assert await asyncio.wait_for(waiter, NEVER_S) is RETRY
    assert await one.client.exists(one.key(SCOPE)) == 0
    assert isinstance(await one.begin(SCOPE, FP), Started)
    assert "over max_entry_bytes (10000)" in caplog.text


async def test_an_answer_of_max_entry_bytes_is_kept(replica: Replica) -> None:
    fits = stored_answer("x" * 5_000)
    store = replica(max_entry_bytes=len(encode_answer(fits)))

    await store.complete(await start(store), fits)

    assert await store.begin(SCOPE, FP) == Replay(fits)


async def test_keys_are_per_tenant_and_tenants_cannot_spell_each_others_keys(
    replica: Replica,
) -> None:
    store = replica()
    await store.complete(await start(store, Scope("acme", "k")), stored_answer())
    await start(store, Scope("a:b", "c"))

    assert isinstance(await store.begin(Scope("globex", "k"), OTHER_FP), Started)
    assert isinstance(await store.begin(Scope("acme", "k2"), OTHER_FP), Started)
    assert isinstance(await store.begin(Scope("a", "b:c"), OTHER_FP), Started)
    assert await store.begin(Scope("acme", "k"), FP) == Replay(stored_answer())


# --- Waiters ----------------------------------------------------------------------------


async def test_waiters_on_both_replicas_get_the_answer_when_the_first_completes(
    replica: Replica,
) -> None:
    one, two = replica(), replica()
    token = await start(one)
    begun = [await waiting(store) for store in (one, two, two)]
    waiters = [asyncio.ensure_future(b.waiter) for b in begun]
    await asyncio.sleep(0.1)
    assert not any(w.done() for w in waiters)

    await one.complete(token, stored_answer())

    assert await asyncio.gather(*waiters) == [Replay(stored_answer())] * 3


@pytest.mark.usefixtures("no_live_poll")
async def test_a_notification_wakes_waiters_long_before_the_next_poll(replica: Replica) -> None:
    one, two = replica(poll_s=NO_POLL_S), replica(poll_s=NO_POLL_S)
    token = await start(one)
    waiter = asyncio.ensure_future((await waiting(two)).waiter)
    # Subscribed: from here on nothing but the notification can wake the waiter.
    await eventually(lambda: two._live, "the waiter's replica never subscribed")

    await one.complete(token, stored_answer())
    # Woken within NEVER_S, with its next poll an hour away: by the notification.
    assert await asyncio.wait_for(waiter, NEVER_S) == Replay(stored_answer())


async def test_an_answer_stored_before_the_subscription_is_confirmed_is_not_missed(
    replica: Replica,
) -> None:
    one, two = replica(poll_s=NO_POLL_S), replica(poll_s=NO_POLL_S)
    subscribed = asyncio.Event()
    pubsub_of = two.client.pubsub

    def late_pubsub(**options: Any) -> Any:
        # The subscription only reaches Redis after the answer was published.
        pubsub: Any = pubsub_of(**options)
        subscribe = pubsub.subscribe

        async def subscribe_late(*channels: Any) -> None:
            await subscribed.wait()
            await subscribe(*channels)

        pubsub.subscribe = subscribe_late
        return pubsub

    two.client.pubsub = late_pubsub  # type: ignore[method-assign]
    token = await start(one)
    waiter = asyncio.ensure_future((await waiting(two)).waiter)
    await asyncio.sleep(0.05)
    await one.complete(token, stored_answer())  # published to no one
    subscribed.set()

    # Not by a poll (an hour away): by the re-read the confirmed subscription makes.
    assert await asyncio.wait_for(waiter, NEVER_S) == Replay(stored_answer())


async def test_waiters_retry_when_the_first_abandons_and_one_becomes_first(
    replica: Replica,
) -> None:
    one, two = replica(poll_s=NO_POLL_S), replica(poll_s=NO_POLL_S)
    token = await start(one)
    waiter = asyncio.ensure_future((await waiting(two)).waiter)
    await asyncio.sleep(0.1)

    await one.abandon(token)

    assert await asyncio.wait_for(waiter, NEVER_S) is RETRY
    await start(two)
    assert isinstance(await one.begin(SCOPE, FP), InProgress)


async def test_an_expired_lease_sends_waiters_to_retry(replica: Replica) -> None:
    # The holder's replica died: nobody publishes, the lease ends the claim.
    one, two = replica(lease_s=0.2, poll_s=NO_POLL_S), replica(lease_s=0.2, poll_s=NO_POLL_S)
    await start(one)
    waiter = (await waiting(two)).waiter

    assert await asyncio.wait_for(waiter, NEVER_S) is RETRY
    await start(two)


async def test_one_waiter_giving_up_does_not_disturb_the_others(replica: Replica) -> None:
    store = replica()
    token = await start(store)
    impatient = asyncio.ensure_future((await waiting(store)).waiter)
    patient = asyncio.ensure_future((await waiting(store)).waiter)
    await asyncio.sleep(0.05)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient

    await store.complete(token, stored_answer())

    assert await patient == Replay(stored_answer())


# --- Redis unreachable ------------------------------------------------------------------


async def test_without_redis_begin_refuses_and_release_does_not_raise() -> None:
    client = aioredis.Redis(port=1, retry=Retry(NoBackoff(), 0), socket_connect_timeout=0.5)
    store = RedisIdempotencyStore(client)
    try:
        with pytest.raises(GatewayError) as caught:
            await store.begin(SCOPE, FP)
        token = Token(SCOPE, FP, "claim-1")
        await store.complete(token, stored_answer())
        await store.abandon(token)
    finally:
        await store.aclose()
        await client.aclose()

    err = caught.value
    assert (err.kind, err.status, err.code) == (
        ErrorKind.UNAVAILABLE,
        503,
        "idempotency_store_unavailable",
    )


async def test_an_answer_this_release_cannot_read_is_an_internal_error(replica: Replica) -> None:
    store = replica()
    await store.complete(await start(store), stored_answer())
    await store.client.hset(store.key(SCOPE), "answer", b'{"v": 99}')

    with pytest.raises(GatewayError) as caught:
        await store.begin(SCOPE, FP)

    assert (caught.value.status, caught.value.code) == (500, "idempotency_answer_unreadable")


# --- The Idempotency stage on two replicas ----------------------------------------------

ACME = Tenant(id="ten_acme", name="acme", models=None, limits=LimitsConfig())
GLOBEX = Tenant(id="ten_globex", name="globex", models=None, limits=LimitsConfig())
EVENTS: list[Event] = list(stored_answer().events)


def context(text: str = "Hello", *, tenant: Tenant = ACME) -> Request:
    request = ChatRequest(
        model="smart", messages=[Message(role="user", content=[TextPart(text=text)])]
    )
    return Request.of(request, tenant=tenant, headers={"Idempotency-Key": "order-42"})


class Upstream:
    """The rest of the chain: counts calls; fails the first ``failures`` of them."""

    def __init__(self, *, delay: float = 0.0, failures: int = 0) -> None:
        self.delay = delay
        self.failures = failures
        self.calls = 0

    async def __call__(self, ctx: Request) -> Events:
        self.calls += 1
        ctx.outcome.calls += 1
        await asyncio.sleep(self.delay)
        if self.calls <= self.failures:
            raise GatewayError(ErrorKind.UNAVAILABLE, "upstream down", code="upstream_unavailable")
        return Stream(self._answer(), ctx.outcome)

    async def _answer(self) -> AsyncIterator[Event]:
        for event in EVENTS:
            yield event
            await asyncio.sleep(self.delay)


async def run(stage: Idempotency, ctx: Request, upstream: Upstream) -> list[Event]:
    events = await stage(ctx, upstream)
    try:
        return [event async for event in events]
    finally:
        await events.aclose()


async def test_100_concurrent_duplicates_on_two_replicas_make_one_upstream_call(
    replica: Replica,
) -> None:
    stages = [Idempotency(replica()), Idempotency(replica())]
    upstream = Upstream(delay=0.02)

    answers = await asyncio.gather(*(run(stages[i % 2], context(), upstream) for i in range(100)))

    assert upstream.calls == 1
    assert answers == [EVENTS] * 100


async def test_a_waiter_on_the_other_replica_takes_over_when_the_first_fails(
    replica: Replica,
) -> None:
    one, two = Idempotency(replica()), Idempotency(replica())
    upstream = Upstream(delay=0.05, failures=1)
    first = asyncio.ensure_future(run(one, context(), upstream))
    # The first holds the key (it calls upstream only once it does) before the others come.
    await eventually(lambda: upstream.calls == 1, "the first request never called upstream")

    waiters = await asyncio.gather(*(run(two, context(), upstream) for _ in range(5)))

    with pytest.raises(GatewayError):
        await first
    assert waiters == [EVENTS] * 5
    assert upstream.calls == 2


async def test_replicas_keep_tenants_apart_and_refuse_a_reused_key(replica: Replica) -> None:
    one, two = Idempotency(replica()), Idempotency(replica())
    upstream = Upstream()

    await run(one, context(tenant=ACME), upstream)
    await run(two, context("Other", tenant=GLOBEX), upstream)
    await run(one, context("Other", tenant=GLOBEX), upstream)
    assert upstream.calls == 2

    with pytest.raises(GatewayError) as caught:
        await run(two, context("Other", tenant=ACME), upstream)
    assert (caught.value.status, caught.value.code) == (409, "idempotency_key_reused")
