"""Virtual token counters (VTC): how much service each tenant has had, weighted.

Each tenant's counter grows by the tokens it is served, divided by its weight;
the backlogged tenant with the smallest counter goes next. Output tokens
count double, as in the VTC paper (they cost an upstream more than prompt
tokens do). A tenant that was not waiting is lifted to the current virtual
time when it joins the queue, so idle time is not banked as credit to flood
with later.
"""

from __future__ import annotations

PROMPT_WEIGHT = 1.0
OUTPUT_WEIGHT = 2.0


class VirtualCounters:
    def __init__(self) -> None:
        self._counters: dict[str, float] = {}
        # The counter of the last tenant served: the queue's virtual time.
        self.virtual_time = 0.0

    def __getitem__(self, tenant: str) -> float:
        return self._counters.get(tenant, 0.0)

    def lift(self, tenant: str, floor: float) -> None:
        if self._counters.get(tenant, 0.0) < floor:
            self._counters[tenant] = floor

    def charge(
        self, tenant: str, weight: float, *, prompt_tokens: int = 0, output_tokens: int = 0
    ) -> None:
        service = PROMPT_WEIGHT * prompt_tokens + OUTPUT_WEIGHT * output_tokens
        self._counters[tenant] = self._counters.get(tenant, 0.0) + service / weight

    def served(self, tenant: str) -> None:
        """``tenant`` was just dispatched: virtual time moves to its counter."""
        self.virtual_time = max(self.virtual_time, self._counters.get(tenant, 0.0))
