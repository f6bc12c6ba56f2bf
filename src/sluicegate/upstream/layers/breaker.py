"""Layer: a target whose circuit breaker is open is passed over at no cost.

Another replica's opening is checked first (a shared view, refreshed in the
background), so that a skip costs no probe slot. ``allow()`` may give this call
a half-open probe slot; if the call then never reaches the provider (a retry
budget spent, a capacity queue that sheds it) the slot is given back.
"""

from __future__ import annotations

from sluicegate.pipeline import Stream
from sluicegate.pipeline.outcome import BREAKER_OPEN
from sluicegate.resilience.health import TargetHealth
from sluicegate.upstream.call import Call, CallNext, NotCalled


class BreakerLayer:
    def __init__(self, health: TargetHealth) -> None:
        self.health = health

    async def __call__(self, call: Call, call_next: CallNext) -> Stream:
        label = call.target.label
        breaker = self.health.state(label).breaker
        if not self.health.available(label) or not breaker.allow():
            raise NotCalled(BREAKER_OPEN)
        try:
            return await call_next(call)
        except BaseException:
            if not call.reached:
                breaker.release()
            raise
