"""A per-target circuit breaker: stop calling an upstream that keeps failing.

Closed, it lets every call through and watches two signals: the failure rate
over a rolling window (only once the window holds ``min_requests`` calls, so a
couple of early errors do not trip it) and the run of consecutive failures
(which trips fast when a target dies outright, before the window fills).
Open, it refuses calls for an open period; when that has passed it turns
half-open by itself and admits up to ``half_open_probes`` concurrent probe
calls. A probe's success closes it; a probe's failure opens it again for twice
as long, up to ``max_open_s``, so a target that stays down is probed less and
less often.

Every call that ``allow()`` let through must end in exactly one of
``record_success()``, ``record_failure()`` or ``release()`` (no verdict, e.g.
the client went away); otherwise a half-open breaker keeps waiting for its
probe. Which outcomes count as failures is the caller's decision: only the
upstream's own failures should, never the client's.

LLM calls are long (a stream may run for minutes), so a verdict often arrives
after the breaker has moved on: a call let through while closed may fail after
the breaker has already opened and turned half-open. Such a late verdict is not
a probe's. Pass the ``generation`` read right after ``allow()`` back with the
verdict and late verdicts are recognised exactly and ignored; without it the
breaker treats a verdict in the half-open state as a probe's while a probe is
outstanding, which is right unless a late verdict comes first.

Time is read from ``clock`` (monotonic seconds) and nothing runs in the
background: the open -> half-open turn happens when the state is next looked at.
Every method is O(1) amortized.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Clock = Callable[[], float]
BreakerState = Literal["closed", "open", "half_open"]

__all__ = [
    "DEFAULT_POLICY",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "RollingCounts",
]


class RollingCounts:
    """Integer counters summed over a sliding time window.

    The window is a ring of ``buckets`` slots, each ``window_s / buckets`` wide,
    holding ``fields`` counters. A count is forgotten between
    ``window_s * (buckets - 1) / buckets`` and ``window_s`` after it was added.
    Running sums make reads O(1); moving the window clears at most ``buckets``
    slots, however long the clock jumped. A clock that goes backwards is treated
    as standing still.
    """

    __slots__ = ("_fields", "_head", "_n", "_slots", "_sums", "_width")

    def __init__(self, window_s: float, buckets: int, fields: int) -> None:
        if not window_s > 0 or not math.isfinite(window_s):
            raise ValueError(f"window_s must be a positive number, not {window_s!r}")
        if buckets < 1 or fields < 1:
            raise ValueError("buckets and fields must be at least 1")
        self._width = window_s / buckets
        self._n = buckets
        self._fields = fields
        self._slots = [0] * (buckets * fields)
        self._sums = [0] * fields
        self._head: int | None = None  # absolute index of the newest bucket

    def add(self, now: float, field: int, amount: int = 1) -> None:
        self._advance(now)
        assert self._head is not None
        self._slots[(self._head % self._n) * self._fields + field] += amount
        self._sums[field] += amount

    def total(self, now: float, field: int) -> int:
        self._advance(now)
        return self._sums[field]

    def clear(self) -> None:
        self._slots = [0] * (self._n * self._fields)
        self._sums = [0] * self._fields

    def _advance(self, now: float) -> None:
        index = int(now // self._width)
        head = self._head
        if head is None:
            self._head = index
            return
        if index <= head:
            return
        if index - head >= self._n:
            self.clear()
        else:
            k = self._fields
            slots, sums = self._slots, self._sums
            for absolute in range(head + 1, index + 1):
                base = (absolute % self._n) * k
                for f in range(k):
                    sums[f] -= slots[base + f]
                    slots[base + f] = 0
        self._head = index


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open.

    Field names match ``sluicegate.config.schema.BreakerConfig``, so
    ``BreakerPolicy(**config.resilience.breaker.model_dump())`` works.
    """

    window_s: float = 10.0  # failure-rate window (rolling, in `buckets` slots)
    min_requests: int = 10  # no rate-based opening with fewer calls than this in the window
    failure_rate: float = 0.5  # open when failures / calls >= this over the window
    consecutive_failures: int = 5  # ... or after this many failures in a row
    open_s: float = 5.0  # how long it stays open before a half-open probe
    max_open_s: float = 60.0  # the open period doubles after each failed probe, up to this
    half_open_probes: int = 1  # concurrent probes allowed while half-open
    buckets: int = 10  # slots of the rolling window (10 over 10 s: one per second)

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise ValueError("window_s must be > 0")
        if self.min_requests < 1:
            raise ValueError("min_requests must be >= 1")
        if not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if self.consecutive_failures < 1:
            raise ValueError("consecutive_failures must be >= 1")
        if not 0 < self.open_s <= self.max_open_s:
            raise ValueError("need 0 < open_s <= max_open_s")
        if self.half_open_probes < 1:
            raise ValueError("half_open_probes must be >= 1")
        if self.buckets < 1:
            raise ValueError("buckets must be >= 1")


DEFAULT_POLICY = BreakerPolicy()

_CALLS, _FAILURES = 0, 1


class CircuitBreaker:
    """Closed -> open -> half-open -> closed (or open again, for longer); see the module doc."""

    __slots__ = (
        "_clock",
        "_consecutive",
        "_generation",
        "_open_period",
        "_opened_at",
        "_policy",
        "_probes",
        "_retry_at",
        "_state",
        "_window",
    )

    def __init__(self, policy: BreakerPolicy = DEFAULT_POLICY, *, clock: Clock = time.monotonic):
        self._policy = policy
        self._clock = clock
        self._window = RollingCounts(policy.window_s, policy.buckets, 2)
        self._state: BreakerState = "closed"
        self._consecutive = 0
        self._open_period = policy.open_s
        self._opened_at: float | None = None
        self._retry_at = 0.0
        self._probes = 0  # probes let through in this half-open period, still unanswered
        self._generation = 0

    @property
    def policy(self) -> BreakerPolicy:
        return self._policy

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker turns half-open once its open period is over."""
        if self._state == "open" and self._clock() >= self._retry_at:
            self._state = "half_open"
            self._probes = 0
            self._generation += 1
        return self._state

    @property
    def generation(self) -> int:
        """Bumped on every state change. Read it right after ``allow()`` returned True and
        pass it back with the verdict, so that a verdict arriving after the breaker has
        moved on is recognised as late and ignored."""
        return self._generation

    def allow(self) -> bool:
        """May a call go to this target now? In the half-open state a True is a probe slot."""
        state = self._state if self._state == "closed" else self.state
        if state == "closed":
            return True
        if state == "half_open" and self._probes < self._policy.half_open_probes:
            self._probes += 1
            return True
        return False

    def record_success(self, *, generation: int | None = None) -> None:
        """A call let through by ``allow()`` succeeded. A probe's success closes the breaker."""
        if generation is not None and generation != self._generation:
            return
        if self._state == "closed":
            self._consecutive = 0
            now = self._clock()
            self._window.add(now, _CALLS)
            # Reaching min_requests with a success can still reveal a failing target.
            if self._rate_exceeded(now):
                self._open(now, self._policy.open_s)
        elif self._state == "half_open" and (generation is not None or self._probes > 0):
            self._close()

    def record_failure(self, *, generation: int | None = None) -> None:
        """A call let through by ``allow()`` failed on the upstream's side.

        Closed, this may open the breaker; a probe's failure opens it again for
        twice the previous open period (at most ``max_open_s``).
        """
        if generation is not None and generation != self._generation:
            return
        if self._state == "closed":
            now = self._clock()
            self._window.add(now, _CALLS)
            self._window.add(now, _FAILURES)
            self._consecutive += 1
            if self._consecutive >= self._policy.consecutive_failures or self._rate_exceeded(now):
                self._open(now, self._policy.open_s)
        elif self._state == "half_open" and (generation is not None or self._probes > 0):
            self._open(self._clock(), min(self._open_period * 2, self._policy.max_open_s))

    def release(self, *, generation: int | None = None) -> None:
        """A call let through by ``allow()`` ended without a verdict: free its probe slot."""
        if generation is not None and generation != self._generation:
            return
        if self._state == "half_open" and self._probes > 0:
            self._probes -= 1

    def reconfigure(self, policy: BreakerPolicy) -> None:
        """Adopt a new policy (config reload) without forgetting whether the target is down.

        The rolling window is kept when its shape is unchanged and restarted otherwise; a
        running open period is shortened to the new ``max_open_s`` if that is lower.
        """
        old, self._policy = self._policy, policy
        if (old.window_s, old.buckets) != (policy.window_s, policy.buckets):
            self._window = RollingCounts(policy.window_s, policy.buckets, 2)
        if self._state == "closed":
            self._open_period = policy.open_s
        elif self._open_period > policy.max_open_s:
            assert self._opened_at is not None
            self._open_period = policy.max_open_s
            self._retry_at = min(self._retry_at, self._opened_at + policy.max_open_s)

    def snapshot(self) -> dict[str, object]:
        """State for /readyz and the admin API. Times are ``clock`` (monotonic) seconds."""
        state = self.state
        now = self._clock()
        calls = self._window.total(now, _CALLS)
        failures = self._window.total(now, _FAILURES)
        is_open = state == "open"
        return {
            "state": state,
            "calls": calls,
            "failures": failures,
            "failure_rate": failures / calls if calls else 0.0,
            "consecutive_failures": self._consecutive,
            "opened_at": self._opened_at if state != "closed" else None,
            "retry_at": self._retry_at if is_open else None,
            "retry_in_s": max(0.0, self._retry_at - now) if is_open else None,
            "open_s": self._open_period,
            "probes_in_flight": self._probes if state == "half_open" else 0,
            "generation": self._generation,
        }

    def _rate_exceeded(self, now: float) -> bool:
        failures = self._window.total(now, _FAILURES)
        if not failures:
            return False
        calls = self._window.total(now, _CALLS)
        policy = self._policy
        return calls >= policy.min_requests and failures >= policy.failure_rate * calls

    def _open(self, now: float, period: float) -> None:
        self._state = "open"
        self._opened_at = now
        self._open_period = period
        self._retry_at = now + period
        self._probes = 0
        self._generation += 1

    def _close(self) -> None:
        self._state = "closed"
        self._opened_at = None
        self._open_period = self._policy.open_s
        self._consecutive = 0
        self._probes = 0
        self._window.clear()  # the failures that opened it must not re-open it at once
        self._generation += 1
