"""The requests- and tokens-per-minute window, as the in-process limiter keeps it.

Requests and tokens per minute are counted in one-second buckets; the window
at time ``now`` is the 60 buckets ``floor(now) - 59 .. floor(now)``. That is
exact for the buckets it counts (no interpolation between windows, so no
estimate can let a burst through), and a bucket leaves the window at
``second + 60``, which is what ``retry_after_s`` reports.

The Redis limiter keeps the same buckets in a hash and does this arithmetic
in Lua (``lua/admit.lua``), so both answer alike.
"""

from __future__ import annotations

import math

from sluicegate.admission.decide import Observation
from sluicegate.admission.limiter import WINDOW_S

__all__ = ["Window", "window_observe"]


class Window:
    """Per-second amounts over the last ``WINDOW_S`` seconds, with their running total.

    Seconds are inserted in time order, so pruning pops from the front and the
    total is kept, not summed: observing a window is O(1) amortized. ``first``
    and ``last`` are the oldest and newest seconds held (0 when empty), so the
    common case, nothing to prune, is one comparison.
    """

    __slots__ = ("buckets", "first", "last", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.total = 0
        self.first = 0
        self.last = 0

    def add(self, second: int, amount: int) -> None:
        buckets = self.buckets
        if not buckets:
            self.first = self.last = second
        elif second > self.last:
            self.last = second
        elif second < self.first:
            # The clock stepped back: keep the buckets in time order for prune().
            buckets[second] = 0
            self.buckets = buckets = dict(sorted(buckets.items()))
            self.first = second
        buckets[second] = buckets.get(second, 0) + amount
        self.total += amount

    def prune(self, oldest: int) -> None:
        if self.first >= oldest or not self.buckets:
            return
        buckets = self.buckets
        for second in list(buckets):
            if second >= oldest:
                self.first = second
                return
            self.total -= buckets.pop(second)
        self.first = self.last = 0

    def reset_s(self, now: float) -> float:
        """Seconds until the newest bucket leaves the window (0 when empty)."""
        return self.last + WINDOW_S - now if self.buckets else 0.0


def window_observe(window: Window, now: float, need: int, limit: int) -> Observation:
    """Prune ``window`` to the 60 s at ``now`` and say whether ``need`` more fits,
    and if not, how long until enough leaves."""
    window.prune(math.floor(now) - (WINDOW_S - 1))
    buckets = window.buckets
    used = window.total
    reset = window.reset_s(now)
    if used + need <= limit:
        return Observation(used, None, reset)
    if need > limit:
        return Observation(used, math.inf, reset)
    left = used
    for s in sorted(buckets):
        left -= buckets[s]
        if left + need <= limit:
            return Observation(used, max(0.0, s + WINDOW_S - now), reset)
    return Observation(used, float(WINDOW_S), reset)  # unreachable: empty window fits
