"""Layer: a retry needs a token from the gateway-wide budget, then waits its backoff.

Only attempts after a request's first go through it. The budget refills at a
share of requests (plus a floor per second), so a broad outage adds at most a
fixed share of extra upstream calls; a spent budget ends the plan. The wait is
the upstream's ``Retry-After`` when it is short, a jittered exponential backoff
otherwise, and nothing when the upstream asked for longer than we would wait
(the next target is tried at once).
"""

from __future__ import annotations

import asyncio
import random

from sluicegate.pipeline import Stream
from sluicegate.pipeline.outcome import BUDGET_EXHAUSTED
from sluicegate.resilience.backoff import BackoffPolicy, retry_delay
from sluicegate.resilience.budget import RetryBudget
from sluicegate.upstream.call import Call, CallNext, NotCalled


class RetryLayer:
    def __init__(
        self, budget: RetryBudget, backoff: BackoffPolicy, rng: random.Random | None = None
    ) -> None:
        self.budget = budget
        self.backoff = backoff
        self._rng = rng or random.Random()

    async def __call__(self, call: Call, call_next: CallNext) -> Stream:
        if not self.budget.try_withdraw():
            raise NotCalled(BUDGET_EXHAUSTED, stop=True)
        outcome = call.request.outcome
        err = outcome.error
        delay = retry_delay(
            err.retry_after if err is not None else None,
            outcome.calls - 1,
            self.backoff,
            self._rng,
        )
        if delay:
            await asyncio.sleep(delay)
        return await call_next(call)
