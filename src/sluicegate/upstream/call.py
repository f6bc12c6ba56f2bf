"""Terminal stage: call the routed targets until one answers, without amplifying an outage.

The plan comes from routing: the alias's targets in balancer order, then its
fallback aliases'. For each attempt:

- a target whose circuit breaker is open is passed over at no cost;
- every attempt after the first needs a token from the gateway-wide retry
  budget, so a broad outage adds at most a fixed share of extra upstream calls;
- a retry waits the upstream's ``Retry-After`` (when short) or a jittered
  exponential backoff;
- "prompt too long" and "content policy" failures switch the plan to the
  alias's configured stand-in;
- when no target of the alias could even be tried, its ``degraded`` alias serves;
- a deployment with a configured capacity is entered through its gate
  (:mod:`sluicegate.fairness`): at once while it has room, by fair queuing
  when it is saturated, or not at all (503 ``overloaded``, so the next target
  is tried) when its queue is full or the wait runs out.

Once the first event has arrived the answer is committed to that target:
nothing is retried after a byte may have reached the client. A failure after
that ends the stream with an error, which egress renders in the client's
protocol.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator, Sequence

from sluicegate.canonical import (
    ChatRequest,
    ErrorKind,
    Event,
    GatewayError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from sluicegate.fairness import OVERLOADED, Gates, Slot, flow_of
from sluicegate.pipeline import Events, Observer, Outcome, Request, Stream
from sluicegate.pipeline.outcome import BREAKER_OPEN, BUDGET_EXHAUSTED, SERVED
from sluicegate.resilience.backoff import BackoffPolicy, retry_delay
from sluicegate.resilience.budget import RetryBudget
from sluicegate.resilience.health import TargetHealth, TargetState
from sluicegate.routing.aliases import Alias, Target
from sluicegate.routing.route import Planner
from sluicegate.upstream.stall import StallWatch


class CallUpstream:
    def __init__(
        self,
        planner: Planner,
        health: TargetHealth,
        budget: RetryBudget,
        backoff: BackoffPolicy,
        gates: Gates,
        rng: random.Random | None = None,
    ) -> None:
        self.gates = gates
        self.planner = planner
        self.health = health
        self.budget = budget
        self.backoff = backoff
        self._rng = rng or random.Random()

    async def __call__(self, request: Request) -> Events:
        assert request.alias is not None
        self.budget.deposit()
        events = await self._attempt_plan(request, request.alias, request.plan)
        if events is not None:
            return events
        degraded = request.alias.config.degraded
        aliases = request.runtime.aliases
        if request.outcome.calls == 0 and degraded is not None and degraded in aliases:
            # Every target of the alias is down: serve from its stand-in, and say so.
            request.outcome.degraded = degraded
            stand_in = request.runtime.aliases[degraded]
            plan = self.planner.plan(stand_in, request.runtime.aliases)
            events = await self._attempt_plan(request, stand_in, plan)
            if events is not None:
                return events
        raise self._exhausted(request)

    async def _attempt_plan(
        self, request: Request, alias: Alias, plan: Sequence[tuple[Alias, Target]]
    ) -> Events | None:
        """Try ``plan`` (cycling through it while attempts remain); the events of the
        first target that answers, or None when none did."""
        max_attempts = alias.config.max_attempts
        pending = _cycle(plan)
        shed: set[str] = set()  # deployments that turned this request away: not again
        for owner, target in pending:
            if request.outcome.calls >= max_attempts:
                break
            if target.label in shed:
                if pending.exhausted_without_calls():
                    break
                continue
            state = self.health.state(target.label)
            # Another replica's opening first, so that a skip costs no probe slot.
            if not self.health.available(target.label) or not state.breaker.allow():
                request.outcome.attempts.append((target.label, BREAKER_OPEN))
                if pending.exhausted_without_calls():
                    break
                continue
            if request.outcome.calls > 0:
                if not self.budget.try_withdraw():
                    state.breaker.release()  # allow() may have given us a probe slot
                    request.outcome.attempts.append((target.label, BUDGET_EXHAUSTED))
                    break
                await self._wait_before_retry(request)
            pending.called()
            request.outcome.calls += 1
            try:
                return await self._call(request, owner, target, state)
            except GatewayError as err:
                request.outcome.error = err
                request.outcome.attempts.append((target.label, err.code or err.kind.name.lower()))
                if err.code == OVERLOADED:
                    shed.add(target.label)
                stand_in = _stand_in_for(err, owner)
                if stand_in is not None and stand_in in request.runtime.aliases:
                    # The prompt cannot succeed on this alias anywhere: switch plans.
                    other = request.runtime.aliases[stand_in]
                    pending.replace(self.planner.plan(other, request.runtime.aliases))
                    continue
                if not err.retryable:
                    raise
        return None

    async def _call(
        self, request: Request, alias: Alias, target: Target, state: TargetState
    ) -> Events:
        gate = self.gates.get(target.label, target.capacity)
        if gate is None:
            return await self._call_through(request, alias, target, state)
        try:
            slot = await gate.acquire(flow_of(request))
        except BaseException:
            state.breaker.release()  # allow() may have given us a probe slot
            raise
        try:
            stream = await self._call_through(request, alias, target, state)
        except BaseException:
            # The upstream was asked (or not at all): count the request, no answer.
            await gate.release(slot, output_tokens=0, total_tokens=slot.flow.prompt_tokens)
            raise
        return stream.watch(_Holding(slot))

    async def _call_through(
        self, request: Request, alias: Alias, target: Target, state: TargetState
    ) -> Events:
        generation = state.started()
        started = time.perf_counter()
        limits = _Limits.of(alias, target, streaming=request.streaming)
        body = request.decoded
        upstream: AsyncIterator[Event] = (
            target.provider.chat(body, target.model)
            if isinstance(body, ChatRequest)
            else target.provider.embed(body, target.model)
        )
        try:
            first = await _first(upstream, limits, target)
        except StopAsyncIteration:
            state.finished(
                ok=False, latency_s=None, error="upstream_bad_response", generation=generation
            )
            raise GatewayError(
                ErrorKind.UPSTREAM,
                f"upstream {target.label!r} ended its answer without content",
                code="upstream_bad_response",
                retryable=True,
            ) from None
        except GatewayError as err:
            await close(upstream)
            # Only the upstream's own failures count against it; a request it
            # rightly refused (a 400) shows the target is working.
            state.finished(
                ok=not err.retryable, latency_s=None, error=err.code, generation=generation
            )
            raise
        except BaseException:
            await close(upstream)
            state.abandoned(generation=generation)
            raise
        outcome = request.outcome
        outcome.first_event_at = now = time.perf_counter()
        outcome.target, outcome.serving_alias = target, alias
        outcome.error = None
        outcome.attempts.append((target.label, SERVED))
        guard = None
        if limits.idle_s is not None or limits.deadline is not None:
            # A stream that stalls longer than the idle timeout, or outlasts the
            # alias's total, fails with a 504 error event.
            guard = StallWatch(
                asyncio.get_running_loop(),
                limits.idle_s,
                limits.deadline,
                expired=lambda: limits.error(target, limits.idle_s, what="next"),
            )
        stream = Stream(upstream, outcome, first=first, guard=guard)
        return stream.watch(_Committed(state, generation, now - started, outcome))

    async def _wait_before_retry(self, request: Request) -> None:
        err = request.outcome.error
        delay = retry_delay(
            err.retry_after if err is not None else None,
            request.outcome.calls - 1,
            self.backoff,
            self._rng,
        )
        if delay:  # None: the upstream asked for longer than we wait; fail over at once
            await asyncio.sleep(delay)

    def _exhausted(self, request: Request) -> GatewayError:
        if request.outcome.error is not None:
            return request.outcome.error
        if any(result == BREAKER_OPEN for _, result in request.outcome.attempts):
            return GatewayError(
                ErrorKind.UNAVAILABLE,
                "no healthy target for this model: every target's circuit breaker is open",
                code="no_healthy_target",
                retry_after=self._earliest_probe(request),
            )
        return GatewayError(
            ErrorKind.UNAVAILABLE, "no healthy target for this model", code="no_healthy_target"
        )

    def _earliest_probe(self, request: Request) -> float | None:
        waits = [
            float(wait)
            for label, result in request.outcome.attempts
            if result == BREAKER_OPEN
            and isinstance(wait := self.health.state(label).breaker.snapshot()["retry_in_s"], float)
        ]
        return min(waits) if waits else None


class _Limits:
    """The deadlines an alias sets on one attempt, beyond its provider's own.

    ``first_s``: for the first event; ``idle_s``: between two events of a stream;
    ``deadline``: loop time by which the whole answer must be in. Each costs a
    timer only where configured.
    """

    __slots__ = ("deadline", "first_s", "idle_s", "total_s")

    def __init__(self, first_s: float | None, idle_s: float | None, total_s: float | None) -> None:
        self.first_s, self.idle_s, self.total_s = first_s, idle_s, total_s
        self.deadline = None if total_s is None else asyncio.get_running_loop().time() + total_s

    @classmethod
    def of(cls, alias: Alias, target: Target, *, streaming: bool) -> _Limits:
        timeouts = alias.config.timeouts
        idle = alias.idle_timeout_s(target) if streaming else None
        return cls(timeouts.first_token_s, idle, timeouts.total_s)

    def wait_s(self, step_s: float | None) -> float | None:
        """How long the next wait may take: the step's own limit or what is left."""
        if self.deadline is None:
            return step_s
        left = max(0.0, self.deadline - asyncio.get_running_loop().time())
        return left if step_s is None else min(step_s, left)

    def error(self, target: Target, step_s: float | None, *, what: str) -> GatewayError:
        if self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline:
            return GatewayError(
                ErrorKind.TIMEOUT,
                f"upstream {target.label!r} did not finish within {self.total_s:g}s",
                code="upstream_timeout",
                retryable=what == "first",
            )
        if what == "first":
            return GatewayError(
                ErrorKind.TIMEOUT,
                f"upstream {target.label!r} sent nothing within {step_s:g}s",
                code="upstream_timeout",
                retryable=True,
            )
        return GatewayError(
            ErrorKind.TIMEOUT,
            f"upstream {target.label!r} stalled for {step_s:g}s mid-stream",
            code="upstream_stream_stalled",
        )


async def _first(upstream: AsyncIterator[Event], limits: _Limits, target: Target) -> Event:
    """The first event. The provider keeps its own first-token deadline; an alias
    may set a shorter one of its own."""
    wait = limits.wait_s(limits.first_s)
    if wait is None:
        return await anext(upstream)
    try:
        async with asyncio.timeout(wait):
            return await anext(upstream)
    except TimeoutError:
        raise limits.error(target, limits.first_s, what="first") from None


class _cycle(Iterator[tuple[Alias, Target]]):
    """The plan, then the plan again while attempts remain; replaceable mid-way."""

    def __init__(self, plan: Sequence[tuple[Alias, Target]]) -> None:
        self._plan = plan
        self._index = 0
        self._calls_this_round = 0

    def __iter__(self) -> _cycle:
        return self

    def __next__(self) -> tuple[Alias, Target]:
        if not self._plan:
            raise StopIteration
        if self._index == len(self._plan):
            self._index, self._calls_this_round = 0, 0
        item = self._plan[self._index]
        self._index += 1
        return item

    def called(self) -> None:
        self._calls_this_round += 1

    def exhausted_without_calls(self) -> bool:
        """A whole round passed over every target (all breakers open): stop cycling."""
        return self._index == len(self._plan) and self._calls_this_round == 0

    def replace(self, plan: Sequence[tuple[Alias, Target]]) -> None:
        self._plan, self._index, self._calls_this_round = plan, 0, 0


def _stand_in_for(err: GatewayError, alias: Alias) -> str | None:
    if err.code == "context_length_exceeded":
        return alias.config.context_window_fallback
    if err.code == "content_policy_violation":
        return alias.config.content_policy_fallback
    return None


async def close(events: AsyncIterator[Event]) -> None:
    """Close a provider's event iterator (async generators hold the upstream connection)."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


class _Holding(Observer):
    """Holds a deployment's slot for the answer; frees it, charged with the answer's
    real usage, when the answer ends or is abandoned."""

    __slots__ = ("_slot",)

    def __init__(self, slot: Slot) -> None:
        self._slot = slot

    async def on_end(self, stream: Stream) -> None:
        slot, usage = self._slot, stream.outcome.usage
        output = usage.output_tokens if usage is not None else 0
        total = usage.total_tokens if usage is not None else slot.flow.prompt_tokens
        await slot.gate.release(slot, output_tokens=output, total_tokens=total)


class _Committed(Observer):
    """The answer of the target that served: counts what it produces, and gives the
    target its verdict (breaker, latency EWMA) when the answer ends."""

    __slots__ = ("_generation", "_outcome", "_state", "_ttft_s")

    def __init__(self, state: TargetState, generation: int, ttft_s: float, outcome: Outcome):
        self._state, self._generation, self._ttft_s = state, generation, ttft_s
        self._outcome = outcome

    def on_event(self, event: Event) -> None:
        kind = type(event)
        if kind is TextDelta:
            self._outcome.output_chars += len(event.text)  # type: ignore[union-attr]
        elif kind is ToolCallDelta:
            self._outcome.output_chars += len(event.arguments)  # type: ignore[union-attr]
        elif kind is Usage:
            self._outcome.usage = event  # type: ignore[assignment]

    def on_end(self, stream: Stream) -> None:
        err = stream.error
        if stream.completed:
            self._state.finished(ok=True, latency_s=self._ttft_s, generation=self._generation)
        elif err is None or err.kind is ErrorKind.INTERNAL:
            self._state.abandoned(generation=self._generation)  # no verdict on the target
        else:
            self._state.finished(ok=False, latency_s=None, generation=self._generation)
