"""The capacity gate of one deployment: straight through while it has room,
fair queuing once it is saturated.

Capacity is held through the limiter as a rule on the subject
``target:<provider>/<model>``, so with Redis it is one quota shared exactly
by every replica, and every check is one round trip. The queue itself is per
process: a slot freed here wakes the next waiter at once; a slot freed on
another replica is noticed by polling every ``POLL_S`` while anyone waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import Metric

from sluicegate.admission.limiter import Ask, Decision, Limiter, LimiterUnavailable, Rule, Ticket
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.config import QueueConfig
from sluicegate.fairness.counters import VirtualCounters
from sluicegate.fairness.flow import Flow
from sluicegate.fairness.queue import FairQueue, Waiter
from sluicegate.observability.metrics import counter, gauge
from sluicegate.runtime.aliases import Capacity

log = logging.getLogger("sluicegate.fairness")

OVERLOADED = ErrorCode.OVERLOADED
"""The error code of a shed request."""

POLL_S = 0.05
"""How often a blocked queue re-checks shared capacity (freed by other replicas)."""


@dataclass(slots=True)
class Slot:
    """Capacity held by one upstream call; give it back with ``CapacityGate.release``."""

    gate: CapacityGate
    flow: Flow
    ticket: Ticket | None  # None when the limiter could not be reached (fail-open)


class CapacityGate:
    def __init__(
        self, label: str, capacity: Capacity, limiter: Limiter, queue: QueueConfig
    ) -> None:
        self.label = label
        self.capacity = capacity
        self.limiter = limiter
        self.timeout_s = queue.timeout_s
        self.rule = Rule(
            subject=f"target:{label}",
            rpm=capacity.rpm,
            tpm=capacity.tpm,
            max_concurrency=capacity.max_concurrency,
        )
        self.counters = VirtualCounters()
        self.queue = FairQueue(self.counters, queue.max_waiting)
        self.shed = 0
        self._freed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    async def acquire(self, flow: Flow) -> Slot:
        """Hold capacity for one call, waiting fairly when there is none; raises a
        503 ``overloaded`` GatewayError when the request is shed."""
        if not self.queue:
            decision = await self._admit(flow)
            if decision is None or decision.admitted:
                return self._dispatched(flow, decision.ticket if decision else None)
        waiter = Waiter(flow, asyncio.get_running_loop().create_future())
        if not self.queue.push(waiter):
            raise self._shed("its queue is full")
        self._kick()
        try:
            async with asyncio.timeout(self.timeout_s):
                # Shielded: the pump, not a timeout, decides the future's outcome.
                await asyncio.shield(waiter.future)
        except BaseException as exc:
            if self.queue.remove(waiter):  # still waiting: give up its place
                waiter.future.cancel()
                if isinstance(exc, TimeoutError):
                    raise self._shed(
                        f"no capacity came free within {self.timeout_s:g}s"
                    ) from None
                raise
            if not isinstance(exc, TimeoutError):
                # Dispatched at the moment it went away: give the capacity back.
                await self._give_back(waiter.ticket)
                raise
            # Dispatched at the moment its wait ran out: go ahead.
        return Slot(self, flow, waiter.ticket)

    async def release(self, slot: Slot, *, output_tokens: int, total_tokens: int) -> None:
        """The call ended: charge its output to the tenant and free its capacity."""
        self.counters.charge(slot.flow.tenant, slot.flow.weight, output_tokens=output_tokens)
        if slot.ticket is not None:
            with contextlib.suppress(LimiterUnavailable):
                await self.limiter.settle(
                    slot.ticket, tokens=total_tokens, cost_usd=0.0, now=time.time()
                )
        self._freed.set()

    async def _give_back(self, ticket: Ticket | None) -> None:
        if ticket is not None:
            with contextlib.suppress(LimiterUnavailable):
                await self.limiter.release(ticket)
        self._freed.set()

    async def _admit(self, flow: Flow) -> Decision | None:
        """None when the limiter cannot be reached: the upstream's own limits then
        apply (fail-open), as queueing forever would fail every request."""
        try:
            return await self.limiter.admit(
                [self.rule], Ask(tokens=flow.reserve_tokens, cost_usd=0.0, now=time.time())
            )
        except LimiterUnavailable:
            return None

    def _dispatched(self, flow: Flow, ticket: Ticket | None) -> Slot:
        self.counters.charge(flow.tenant, flow.weight, prompt_tokens=flow.prompt_tokens)
        self.counters.served(flow.tenant)
        return Slot(self, flow, ticket)

    def _kick(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._serve_queue())
        else:
            self._freed.set()

    async def _serve_queue(self) -> None:
        """Hand capacity to waiters, fairest first, until the queue is empty."""
        while (waiter := self.queue.peek()) is not None:
            self._freed.clear()
            try:
                decision = await self._admit(waiter.flow)
            except Exception:  # a bug, not an outage: keep serving, say so
                log.exception("capacity check for %s failed; retrying", self.label)
                await asyncio.sleep(POLL_S)
                continue
            if decision is not None and not decision.admitted:
                wait = POLL_S
                if decision.rule in ("rpm", "tpm") and decision.retry_after_s:
                    wait = max(POLL_S, decision.retry_after_s)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._freed.wait()
                continue
            ticket = decision.ticket if decision is not None else None
            if not self.queue.remove(waiter):  # it gave up while we asked
                await self._give_back(ticket)
                continue
            self._dispatched(waiter.flow, ticket)
            waiter.ticket = ticket
            waiter.future.set_result(None)

    async def close(self) -> None:
        """Stop handing out capacity (at shutdown); waiters time out as usual."""
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    def _shed(self, why: str) -> GatewayError:
        self.shed += 1
        return GatewayError(
            ErrorKind.UNAVAILABLE,
            f"deployment {self.label!r} is at capacity and {why}; retry later",
            code=OVERLOADED,
            retry_after=1,
            retryable=True,
        )


class Gates:
    """One gate per deployment that has a capacity, made on first use. A gate is
    replaced when its capacity changes on reload; calls holding the old one
    finish with it."""

    def __init__(self, limiter: Limiter, queue: QueueConfig) -> None:
        self.limiter = limiter
        self.queue = queue
        self._gates: dict[str, CapacityGate] = {}

    def get(self, label: str, capacity: Capacity | None) -> CapacityGate | None:
        if capacity is None:
            return None
        gate = self._gates.get(label)
        if gate is None or gate.capacity != capacity:
            gate = self._gates[label] = CapacityGate(label, capacity, self.limiter, self.queue)
        return gate

    async def close(self) -> None:
        for gate in self._gates.values():
            await gate.close()

    def metrics(self) -> Iterator[Metric]:
        gates = self._gates.items()
        yield gauge(
            "sluicegate_queue_waiting",
            "Requests waiting for capacity at a deployment.",
            ["target"],
            (((label,), len(gate.queue)) for label, gate in gates),
        )
        yield counter(
            "sluicegate_queue_shed",
            "Requests shed (503) because a deployment's queue was full or the wait ran out.",
            ["target"],
            (((label,), gate.shed) for label, gate in gates),
        )
