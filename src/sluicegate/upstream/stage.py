"""Terminal stage: call the planned targets until one answers, without amplifying an outage.

The routing plan (:mod:`sluicegate.routing.plan`) says which candidate comes
next; each call of a target goes through the policy layers
(:mod:`sluicegate.upstream.layers`): the breaker passes over a target that is
down at no cost, a retry needs the retry budget and waits its backoff, a
deployment with a capacity is entered through its fair queue, and the target's
health learns from the call. The layers are composed once, in four chains: a
request's first call skips the retry layer, and a target without a capacity
skips the gate, so neither costs anything where it does not apply.

Every target considered is in the outcome's attempts; every failed call is
logged at warning (throttled per target) with the request id.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.fairness import Gates
from sluicegate.observability.metrics import Metrics
from sluicegate.observability.throttled_log import ThrottledLog
from sluicegate.pipeline import Request, Stream
from sluicegate.pipeline.outcome import BREAKER_OPEN
from sluicegate.resilience.backoff import BackoffPolicy
from sluicegate.resilience.budget import RetryBudget
from sluicegate.resilience.health import TargetHealth
from sluicegate.routing.plan import Plan, Planner
from sluicegate.upstream.call import Call, CallNext, Layer, NotCalled, compose
from sluicegate.upstream.layers import BreakerLayer, CapacityLayer, HealthLayer, RetryLayer
from sluicegate.upstream.target import call_target

if TYPE_CHECKING:
    from sluicegate.observability.tracing import Tracing

log = logging.getLogger("sluicegate.upstream")


class CallUpstream:
    def __init__(
        self,
        planner: Planner,
        health: TargetHealth,
        budget: RetryBudget,
        backoff: BackoffPolicy,
        gates: Gates,
        rng: random.Random | None = None,
        *,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.planner = planner
        self.health = health
        self.budget = budget
        durations = metrics.client_duration if metrics is not None else None
        breaker, health_layer = BreakerLayer(health), HealthLayer(health, durations)
        retry, capacity = RetryLayer(budget, backoff, rng), CapacityLayer(gates)
        # A CLIENT span per call made, only when tracing is on (else no layer at all).
        targets: list[Layer] = [health_layer]
        if tracing is not None:
            from sluicegate.upstream.layers.trace import TraceLayer  # OpenTelemetry: only when on

            targets.insert(0, TraceLayer(tracing))
        # By (a retry?, the target has a capacity?).
        self._chains: dict[tuple[bool, bool], CallNext] = {
            (False, False): compose([breaker, *targets], call_target),
            (False, True): compose([breaker, capacity, *targets], call_target),
            (True, False): compose([breaker, retry, *targets], call_target),
            (True, True): compose([breaker, retry, capacity, *targets], call_target),
        }
        self._failures = ThrottledLog(log)

    async def __call__(self, request: Request) -> Stream:
        assert request.alias is not None
        self.budget.deposit()
        outcome = request.outcome
        # Calls this request made before (a contract's re-ask, a moderation judge's
        # question): another call of the request, not retries of this one, so they
        # use up neither this call's attempts nor the retry budget.
        before = outcome.calls
        plan = self.planner.plan(request.alias, request.runtime.aliases)
        stream = await self._walk(request, plan, before)
        if stream is None and outcome.calls == before:
            # Not one target of the alias could be tried: its stand-in serves, marked.
            degraded = plan.degraded()
            if degraded is not None:
                outcome.degraded = degraded.alias.name
                stream = await self._walk(request, degraded, before)
        if stream is None:
            raise self._exhausted(request)
        return stream

    async def _walk(self, request: Request, plan: Plan, before: int) -> Stream | None:
        """Try the plan's candidates; the answer of the first that serves, or None."""
        outcome = request.outcome
        while (candidate := plan.next(outcome.calls - before)) is not None:
            alias, target = candidate
            call = Call(request, alias, target, outcome.calls - before + 1)
            chain = self._chains[call.number > 1, target.capacity is not None]
            try:
                stream = await chain(call)
            except NotCalled as skipped:
                outcome.attempts.append((target.label, skipped.result))
                if skipped.stop:
                    return None
                continue
            except GatewayError as err:
                outcome.calls += 1
                plan.called()
                outcome.error = err
                code = err.code or err.kind.name.lower()
                outcome.attempts.append((target.label, code))
                self._failures.warning(
                    target.label,
                    "upstream %s failed (%s): %s [request %s]",
                    target.label,
                    code,
                    err.message,
                    request.request_id,
                )
                if not plan.failed(err, candidate):
                    raise
                continue
            outcome.calls += 1
            plan.called()
            return stream
        return None

    def _exhausted(self, request: Request) -> GatewayError:
        outcome = request.outcome
        if outcome.error is not None:
            return outcome.error
        if any(result == BREAKER_OPEN for _, result in outcome.attempts):
            return GatewayError(
                ErrorKind.UNAVAILABLE,
                "no healthy target for this model: every target's circuit breaker is open",
                code=ErrorCode.NO_HEALTHY_TARGET,
                retry_after=self._earliest_probe(request),
            )
        return GatewayError(
            ErrorKind.UNAVAILABLE,
            "no healthy target for this model",
            code=ErrorCode.NO_HEALTHY_TARGET,
        )

    def _earliest_probe(self, request: Request) -> float | None:
        waits = [
            float(wait)
            for label, result in request.outcome.attempts
            if result == BREAKER_OPEN
            and isinstance(wait := self.health.state(label).breaker.snapshot()["retry_in_s"], float)
        ]
        return min(waits) if waits else None
