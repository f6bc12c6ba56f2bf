"""The policy layers around one call of a target, each on its own."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from sluicegate.canonical import ChatRequest, ErrorKind, GatewayError, Message, TextPart
from sluicegate.pipeline import Request, Stream
from sluicegate.resilience.backoff import BackoffPolicy
from sluicegate.resilience.breaker import BreakerPolicy
from sluicegate.resilience.budget import RetryBudget
from sluicegate.resilience.health import TargetHealth
from sluicegate.upstream.call import Call, NotCalled
from sluicegate.upstream.layers import BreakerLayer, HealthLayer, RetryLayer


class FakeTarget:
    label = "p/m"
    capacity = None


def call(number: int = 1) -> Call:
    request = Request.of(ChatRequest(model="m", messages=[
        Message(role="user", content=[TextPart(text="hi")])]))
    return Call(request, cast(Any, None), cast(Any, FakeTarget()), number)


async def answer(c: Call) -> Stream:
    async def events():  # type: ignore[no-untyped-def]
        return
        yield

    return Stream(events(), c.request.outcome)


async def refused_before_the_provider(c: Call) -> Stream:
    raise GatewayError(ErrorKind.UNAVAILABLE, "shed", code="overloaded", retryable=True)


async def test_an_open_breaker_passes_the_target_over_without_calling_it() -> None:
    health = TargetHealth(BreakerPolicy(consecutive_failures=1, open_s=60))
    health.state("p/m").breaker.record_failure()
    with pytest.raises(NotCalled) as skipped:
        await BreakerLayer(health)(call(), answer)
    assert skipped.value.result == "breaker_open" and not skipped.value.stop


async def test_a_probe_that_never_reached_the_provider_is_given_back() -> None:
    health = TargetHealth(BreakerPolicy(consecutive_failures=1, open_s=0.01))
    breaker = health.state("p/m").breaker
    breaker.record_failure()
    await asyncio.sleep(0.02)
    with pytest.raises(GatewayError):
        await BreakerLayer(health)(call(), refused_before_the_provider)
    assert breaker.allow(), "the half-open probe slot is free again"


async def test_a_call_refused_by_the_provider_is_never_left_in_flight() -> None:
    health = TargetHealth()

    async def provider_raises_at_once(c: Call) -> Stream:
        raise GatewayError.invalid("no embeddings here", code="embeddings_not_supported")

    with pytest.raises(GatewayError):
        await HealthLayer(health)(call(), provider_raises_at_once)
    state = health.state("p/m")
    assert state.in_flight == 0 and state.successes == 1, "a 400 says the target works"


async def test_a_retry_without_budget_ends_the_plan() -> None:
    budget = RetryBudget(percent=0.0, min_per_s=0.0, window_s=10)
    layer = RetryLayer(budget, BackoffPolicy(base_s=0, max_s=0, max_retry_after_s=0))
    with pytest.raises(NotCalled) as skipped:
        await layer(call(number=2), answer)
    assert skipped.value.result == "retry_budget_exhausted" and skipped.value.stop
