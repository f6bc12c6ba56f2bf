"""The Idempotency stage, driven directly with a fake rest of the chain."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any, Literal, cast

import pytest

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
from sluicegate.canonical.collect import ResponseCollector
from sluicegate.config import LimitsConfig
from sluicegate.idempotency import Idempotency, MemoryIdempotencyStore, StoredAnswer, fingerprint
from sluicegate.pipeline import Events, Request, Stream
from sluicegate.state.directory import Tenant

ACME = Tenant(id="ten_acme", name="acme", models=None, limits=LimitsConfig())
GLOBEX = Tenant(id="ten_globex", name="globex", models=None, limits=LimitsConfig())
TARGET = SimpleNamespace(label="main/gpt-4o")

ANSWER: list[Event] = [
    Start(
        id="chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", model="gpt-4o-2024-08-06", created=1741569952
    ),
    TextDelta(text="Hello!"),
    TextDelta(text=" How can I help?"),
    Finish(reason="stop"),
    Usage(input_tokens=19, output_tokens=10),
]

_ids = itertools.count(1)


def chat(text: str = "Hello", **fields: Any) -> ChatRequest:
    return ChatRequest(
        model="smart", messages=[Message(role="user", content=[TextPart(text=text)])], **fields
    )


def context(
    request: ChatRequest,
    key: str | None = "order-42",
    *,
    tenant: Tenant = ACME,
    protocol: Literal["openai", "anthropic"] = "openai",
    header: str = "Idempotency-Key",
) -> Request:
    headers = {} if key is None else {header: key}
    return Request.of(request, tenant=tenant, protocol=protocol, headers=headers)


class Upstream:
    """The rest of the chain: counts calls and plays ``events``, one plan step per call.

    Plan steps: ``"ok"``, ``"fail"`` (error before the first event), ``"cut"``
    (error after two events). Calls beyond the plan answer ``"ok"``. ``gate``, when
    given, holds every call until it is set.
    """

    def __init__(
        self,
        plan: tuple[str, ...] = (),
        *,
        events: list[Event] = ANSWER,
        delay: float = 0.0,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.plan = list(plan)
        self.events = events
        self.delay = delay
        self.gate = gate
        self.calls = 0
        self.closed = 0  # answers closed before their end
        self.last: Events | None = None

    async def __call__(self, ctx: Request) -> Events:
        step = self.plan[self.calls] if self.calls < len(self.plan) else "ok"
        self.calls += 1
        ctx.outcome.calls += 1
        ctx.outcome.target = cast(Any, TARGET)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        if step == "fail":
            raise GatewayError(ErrorKind.UNAVAILABLE, "upstream down", code="upstream_unavailable")
        ctx.outcome.first_event_at = time.perf_counter()
        self.last = Stream(self._answer(step), ctx.outcome)
        return self.last

    async def _answer(self, step: str) -> AsyncIterator[Event]:
        finished = False
        try:
            for i, event in enumerate(self.events):
                if step == "cut" and i == 2:
                    raise GatewayError(ErrorKind.UPSTREAM, "cut", code="upstream_bad_response")
                yield event
                await asyncio.sleep(self.delay)
            finished = True
        finally:
            if not finished:
                self.closed += 1


async def answer(stage: Idempotency, ctx: Request, upstream: Upstream) -> list[Event]:
    events = await stage(ctx, upstream)
    try:
        return [event async for event in events]
    finally:
        await events.aclose()


async def refusal(stage: Idempotency, ctx: Request, upstream: Upstream) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await answer(stage, ctx, upstream)
    return caught.value


async def test_a_request_without_the_header_passes_through_untouched() -> None:
    stage, upstream = Idempotency(), Upstream()

    events = await stage(context(chat(), key=None), upstream)

    assert events is upstream.last
    assert [e async for e in events] == ANSWER
    assert await answer(stage, context(chat(), key=None), upstream) == ANSWER
    assert upstream.calls == 2


async def test_a_repeat_gets_the_first_answer_without_an_upstream_call() -> None:
    replays: list[tuple[Request, StoredAnswer]] = []
    stage = Idempotency(on_replay=lambda ctx, stored: replays.append((ctx, stored)))
    upstream = Upstream()
    first = context(chat(), header="Idempotency-Key")
    repeat = context(chat(), header="idempotency-key")

    assert await answer(stage, first, upstream) == ANSWER
    assert await answer(stage, repeat, upstream) == ANSWER

    assert upstream.calls == 1
    [(ctx, stored)] = replays
    assert ctx is repeat
    assert (stored.target, stored.request_id, stored.attempts) == ("main/gpt-4o", first.id, 1)
    assert stored.usage == Usage(input_tokens=19, output_tokens=10)
    assert stored.first_event_s is not None and stored.first_event_s >= 0


async def test_the_order_of_json_keys_does_not_make_a_different_request() -> None:
    stage, upstream = Idempotency(), Upstream()
    schema_ab = {"type": "json_schema", "json_schema": {"name": "x", "strict": True}}
    schema_ba = {"json_schema": {"strict": True, "name": "x"}, "type": "json_schema"}

    await answer(stage, context(chat(response_format=schema_ab)), upstream)
    await answer(stage, context(chat(response_format=schema_ba)), upstream)

    assert upstream.calls == 1


@pytest.mark.parametrize(
    "repeat",
    [
        pytest.param(lambda: context(chat("Goodbye")), id="other-text"),
        pytest.param(lambda: context(chat(temperature=0.2)), id="other-temperature"),
        pytest.param(lambda: context(chat(), protocol="anthropic"), id="other-protocol"),
    ],
)
async def test_the_same_key_with_a_different_request_is_a_conflict(
    repeat: Callable[[], Request],
) -> None:
    stage, upstream = Idempotency(), Upstream()
    await answer(stage, context(chat()), upstream)

    err = await refusal(stage, repeat(), upstream)

    assert (err.status, err.code, err.param) == (409, "idempotency_key_reused", "Idempotency-Key")
    assert upstream.calls == 1


async def test_a_different_request_conflicts_while_the_first_is_running() -> None:
    gate = asyncio.Event()
    stage, upstream = Idempotency(), Upstream(gate=gate)
    first = asyncio.ensure_future(answer(stage, context(chat()), upstream))
    await asyncio.sleep(0.01)

    err = await refusal(stage, context(chat("Goodbye")), upstream)

    assert err.code == "idempotency_key_reused"
    gate.set()
    assert await first == ANSWER
    assert upstream.calls == 1


async def test_keys_are_per_tenant() -> None:
    stage, upstream = Idempotency(), Upstream()

    await answer(stage, context(chat(), tenant=ACME), upstream)
    await answer(stage, context(chat("Other"), tenant=GLOBEX), upstream)
    await answer(stage, context(chat("Other"), tenant=GLOBEX), upstream)

    assert upstream.calls == 2


async def test_a_tenant_recreated_under_a_deleted_ones_name_gets_no_replay() -> None:
    """Keys are kept by tenant id: the same name is another tenant once re-created."""
    stage, upstream = Idempotency(), Upstream()
    recreated = Tenant(id="ten_recreated", name=ACME.name, models=None, limits=LimitsConfig())

    await answer(stage, context(chat(), tenant=ACME), upstream)
    await answer(stage, context(chat(), tenant=recreated), upstream)

    assert upstream.calls == 2, "the same key and request, but not the same tenant"


async def test_100_concurrent_duplicates_make_one_upstream_call() -> None:
    stage, upstream = Idempotency(), Upstream(delay=0.005)

    answers = await asyncio.gather(*(answer(stage, context(chat()), upstream) for _ in range(100)))

    assert upstream.calls == 1
    assert answers == [ANSWER] * 100


@pytest.mark.parametrize("failure", ["fail", "cut"], ids=["before-first-event", "mid-stream"])
async def test_a_failed_answer_is_not_stored_and_a_retry_runs_again(failure: str) -> None:
    stage, upstream = Idempotency(), Upstream(plan=(failure,))

    err = await refusal(stage, context(chat()), upstream)
    assert err.status in (502, 503)

    assert await answer(stage, context(chat()), upstream) == ANSWER
    assert await answer(stage, context(chat()), upstream) == ANSWER
    assert upstream.calls == 2


async def test_waiters_take_over_when_the_first_fails() -> None:
    stage, upstream = Idempotency(), Upstream(plan=("fail",), delay=0.01)
    first = asyncio.ensure_future(answer(stage, context(chat()), upstream))
    await asyncio.sleep(0)

    waiters = await asyncio.gather(*(answer(stage, context(chat()), upstream) for _ in range(10)))

    with pytest.raises(GatewayError):
        await first
    assert waiters == [ANSWER] * 10
    assert upstream.calls == 2


async def test_an_answer_with_an_error_finish_is_not_stored() -> None:
    failed: list[Event] = [*ANSWER[:2], Finish(reason="error")]
    stage, upstream = Idempotency(), Upstream(events=failed)

    await answer(stage, context(chat()), upstream)
    await answer(stage, context(chat()), upstream)

    assert upstream.calls == 2


async def test_a_client_leaving_mid_stream_frees_the_key() -> None:
    stage, upstream = Idempotency(), Upstream()
    events = await stage(context(chat(stream=True)), upstream)
    assert await anext(events) == ANSWER[0]

    await events.aclose()

    assert upstream.closed == 1  # the upstream call was closed with it
    assert await answer(stage, context(chat(stream=True)), upstream) == ANSWER
    assert upstream.calls == 2


async def test_a_waiter_becomes_first_when_the_first_client_leaves() -> None:
    stage, upstream = Idempotency(), Upstream(delay=0.005)
    events = await stage(context(chat(stream=True)), upstream)
    await anext(events)
    waiter = asyncio.ensure_future(answer(stage, context(chat(stream=True)), upstream))
    await asyncio.sleep(0.01)

    await events.aclose()

    assert await waiter == ANSWER
    assert upstream.calls == 2


async def test_an_answer_closed_unread_frees_the_key() -> None:
    # Egress ends every answer it is given, even one it never read a byte of
    # (tests/server/test_egress.py); that is all the stage relies on.
    stage, upstream = Idempotency(), Upstream()
    events = await stage(context(chat()), upstream)

    await events.aclose()

    repeat = await asyncio.wait_for(answer(stage, context(chat()), upstream), timeout=1)
    assert repeat == ANSWER
    assert upstream.calls == 2


async def test_a_waiter_gives_up_after_the_wait_timeout() -> None:
    gate = asyncio.Event()
    stage, upstream = Idempotency(wait_timeout_s=0.05), Upstream(gate=gate)
    first = asyncio.ensure_future(answer(stage, context(chat()), upstream))
    await asyncio.sleep(0)

    err = await refusal(stage, context(chat()), upstream)

    assert (err.status, err.code, err.param) == (
        409,
        "idempotency_key_in_progress",
        "Idempotency-Key",
    )
    gate.set()
    assert await first == ANSWER
    assert await answer(stage, context(chat()), upstream) == ANSWER
    assert upstream.calls == 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_stored_answer_expires_after_the_ttl() -> None:
    clock = Clock()
    stage = Idempotency(MemoryIdempotencyStore(ttl_s=3600, clock=clock))
    upstream = Upstream()

    await answer(stage, context(chat()), upstream)
    clock.now += 3599
    await answer(stage, context(chat()), upstream)
    assert upstream.calls == 1

    clock.now += 1
    await answer(stage, context(chat()), upstream)
    assert upstream.calls == 2


async def test_the_store_keeps_a_bounded_number_of_answers() -> None:
    stage, upstream = Idempotency(MemoryIdempotencyStore(max_entries=2)), Upstream()
    for key in ("a", "b", "c"):
        await answer(stage, context(chat(), key), upstream)
    assert upstream.calls == 3

    await answer(stage, context(chat(), "c"), upstream)
    assert upstream.calls == 3
    await answer(stage, context(chat(), "a"), upstream)  # evicted: runs again
    assert upstream.calls == 4


async def test_an_answer_too_large_to_keep_is_served_and_a_retry_runs_again() -> None:
    large = [ANSWER[0], TextDelta(text="x" * 5_000), *ANSWER[3:]]
    stage = Idempotency(MemoryIdempotencyStore(max_entry_bytes=1_000))
    upstream = Upstream(events=large)

    assert await answer(stage, context(chat()), upstream) == large
    assert await answer(stage, context(chat()), upstream) == large
    assert upstream.calls == 2


async def test_an_answer_past_the_bound_is_given_up_as_it_streams_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    large = [ANSWER[0], *(TextDelta(text="x" * 600) for _ in range(20)), *ANSWER[3:]]
    stage = Idempotency(MemoryIdempotencyStore(max_entry_bytes=1_000))
    upstream = Upstream(events=large)

    with caplog.at_level(logging.DEBUG, logger="sluicegate"):
        assert await answer(stage, context(chat()), upstream) == large
        assert await answer(stage, context(chat()), upstream) == large

    assert upstream.calls == 2
    notes = [r for r in caplog.records if "over max_entry_bytes (1000)" in r.getMessage()]
    assert [r.levelno for r in notes] == [logging.WARNING, logging.DEBUG]


@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "caf\u00e9", "tab\there", "new\nline"],
    ids=["empty", "too-long", "non-ascii", "tab", "newline"],
)
async def test_an_invalid_key_is_a_bad_request(key: str) -> None:
    stage, upstream = Idempotency(), Upstream()

    err = await refusal(stage, context(chat(), key), upstream)

    assert (err.status, err.code, err.param) == (400, "invalid_idempotency_key", "Idempotency-Key")
    assert upstream.calls == 0


@pytest.mark.parametrize("key", ["k", "k" * 255, "3f1c0e5a-7d2b 4e8f:/+="])
async def test_valid_keys(key: str) -> None:
    stage, upstream = Idempotency(), Upstream()

    await answer(stage, context(chat(), key), upstream)
    await answer(stage, context(chat(), key), upstream)

    assert upstream.calls == 1


@pytest.mark.parametrize(
    ("first", "repeat"),
    [
        ({"stream": True}, {"stream": False}),
        ({"stream": False}, {"stream": True, "include_usage": True}),
        ({"stream": True, "include_usage": True}, {"stream": True}),
    ],
    ids=["stream-then-json", "json-then-stream", "usage-option-differs"],
)
async def test_a_streamed_answer_serves_a_non_streamed_repeat_and_back(
    first: dict[str, Any], repeat: dict[str, Any]
) -> None:
    stage, upstream = Idempotency(), Upstream()

    original = await answer(stage, context(chat(**first)), upstream)
    replayed = await answer(stage, context(chat(**repeat)), upstream)

    assert upstream.calls == 1
    assert replayed == original == ANSWER
    collected = ResponseCollector()
    for event in replayed:
        collected.add(event)
    body = collected.response()
    assert (body.id, body.choices[0].message.text()) == (
        "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "Hello! How can I help?",
    )


def test_the_fingerprint_ignores_only_what_does_not_change_the_answer() -> None:
    base = fingerprint(context(chat()))

    assert fingerprint(context(chat(stream=True, include_usage=True))) == base
    assert fingerprint(context(chat(), tenant=GLOBEX)) == base  # the scope separates tenants
    assert fingerprint(context(chat(max_tokens=5))) != base
    assert fingerprint(context(chat(), protocol="anthropic")) != base
