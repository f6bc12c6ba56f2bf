"""Order the targets of one alias for one request: which to try first, second, ...

Each strategy returns every index exactly once, best first, so the caller can
fail over down the list. Balancers only order: skipping targets whose breaker
refuses calls is the caller's job, since that must be checked at the moment
of each attempt, not when the order is made.

- ``weighted``: a weighted random order (Efraimidis-Spirakis), so a target
  with weight 3 comes first three times as often as one with weight 1.
- ``least_in_flight``: fewest attempts in flight first; ties go to a weighted
  random order. Suits uneven request sizes, where counts beat weights.
- ``latency``: power of two choices on the latency estimate. Two candidates
  are drawn (weighted, without replacement) and the cheaper goes first; the
  rest follow, cheapest first. The cost is the EWMA time to first event times
  (in flight + 1), as in Finagle's and Linkerd's "peak EWMA" balancers: by
  latency alone, an alias of two targets would send everything to the faster
  one until it slows down, then swing back. A target with no estimate yet is
  costed at the best known estimate, so when idle it is the cheapest of all
  and gets tried, but it is not flooded while its first answers are on their way.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Literal, Protocol

from sluicegate.resilience.health import TargetState

__all__ = [
    "Balancer",
    "LatencyBalancer",
    "LeastInFlightBalancer",
    "Strategy",
    "Weighted",
    "WeightedBalancer",
    "balancer",
]

Strategy = Literal["weighted", "least_in_flight", "latency"]


class Weighted(Protocol):
    """What a balancer needs of a target (``routing.aliases.Target`` has it)."""

    @property
    def weight(self) -> float: ...


class Balancer(Protocol):
    def order(self, targets: Sequence[Weighted], states: Sequence[TargetState]) -> list[int]:
        """Indexes into ``targets`` (``states`` is parallel to it), best first; each once."""
        ...


def _keys(targets: Sequence[Weighted], rng: random.Random) -> list[float]:
    """Efraimidis-Spirakis keys: sorting by them, descending, gives a weighted random order.

    ``log(u) / w`` orders like the paper's ``u ** (1 / w)`` but does not underflow
    to a tie for small weights. ``1 - random()`` is in (0, 1], so log is defined.
    """
    log, draw = math.log, rng.random
    return [log(1.0 - draw()) / t.weight for t in targets]


class _Keyed:
    """A balancer that sorts by weighted random keys, perhaps after something else."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def order(self, targets: Sequence[Weighted], states: Sequence[TargetState]) -> list[int]:
        n = len(targets)
        if n <= 1:
            return list(range(n))
        return self._sorted(n, _keys(targets, self._rng), states)

    def _sorted(self, n: int, keys: list[float], states: Sequence[TargetState]) -> list[int]:
        raise NotImplementedError


class WeightedBalancer(_Keyed):
    """Weighted random order: each next target is drawn with probability ∝ its weight."""

    __slots__ = ()

    def _sorted(self, n: int, keys: list[float], states: Sequence[TargetState]) -> list[int]:
        return sorted(range(n), key=keys.__getitem__, reverse=True)


class LeastInFlightBalancer(_Keyed):
    """Fewest attempts in flight first; equal counts in weighted random order."""

    __slots__ = ()

    def _sorted(self, n: int, keys: list[float], states: Sequence[TargetState]) -> list[int]:
        return sorted(range(n), key=lambda i: (states[i].in_flight, -keys[i]))


class LatencyBalancer:
    """Power of two choices on EWMA latency x load; see the module doc."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def order(self, targets: Sequence[Weighted], states: Sequence[TargetState]) -> list[int]:
        n = len(targets)
        if n <= 1:
            return list(range(n))
        keys = _keys(targets, self._rng)
        known = [s.ewma_latency_s for s in states if s.ewma_latency_s is not None]
        unknown_latency = min(known) if known else 0.0

        def cost(i: int) -> tuple[float, float]:
            state = states[i]
            latency = state.ewma_latency_s
            if latency is None:
                # Idle and unmeasured: cheapest of all, so it gets explored.
                latency = unknown_latency if state.in_flight else 0.0
            return (latency * (state.in_flight + 1), -keys[i])

        # The two candidates: the two largest keys, a weighted draw of two.
        by_key = sorted(range(n), key=keys.__getitem__, reverse=True)
        a, b = by_key[0], by_key[1]
        first = a if cost(a) <= cost(b) else b
        rest = sorted((i for i in range(n) if i != first), key=cost)
        return [first, *rest]


def balancer(strategy: Strategy, rng: random.Random) -> Balancer:
    """The balancer for an alias's ``balance`` setting."""
    if strategy == "weighted":
        return WeightedBalancer(rng)
    if strategy == "least_in_flight":
        return LeastInFlightBalancer(rng)
    if strategy == "latency":
        return LatencyBalancer(rng)
    raise ValueError(f"unknown balancing strategy {strategy!r}")
