"""Per-target runtime state: load, latency, last error and circuit breaker.

It is keyed by target label ("provider/model") and lives outside the config,
so a config reload that keeps a target keeps what was learned about it: an
open breaker stays open and the latency estimate stays warm.

One upstream attempt, from the caller's side::

    state = health.state(target.label)
    if not state.breaker.allow():
        ...  # skip this target
    generation = state.started()
    ...  # call the upstream
    state.finished(ok=True, latency_s=time_to_first_event, generation=generation)
    # or state.finished(ok=False, latency_s=None, error="503 ...", generation=generation)
    # or state.abandoned(generation=generation)  (no verdict, e.g. the client went away)

``ok=False`` is for the upstream's failures only (429, 5xx, transport errors,
timeouts); a request the upstream rightly refused (say a 400) says nothing bad
about the target: report it as ``ok=True`` with ``latency_s=None``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sluicegate.resilience.breaker import DEFAULT_POLICY, BreakerPolicy, CircuitBreaker, Clock

__all__ = ["TargetHealth", "TargetState"]


@dataclass(slots=True)
class TargetState:
    label: str
    breaker: CircuitBreaker
    in_flight: int = 0
    ewma_latency_s: float | None = None  # of successful attempts' time to first event
    last_error: str | None = None
    ewma_alpha: float = field(default=0.3, repr=False)  # weight of the newest sample
    successes: int = 0
    failures: int = 0

    def started(self) -> int:
        """An attempt on this target begins (after ``breaker.allow()`` said yes).

        Returns the breaker generation to hand back to ``finished``/``abandoned``.
        """
        self.in_flight += 1
        return self.breaker.generation

    def finished(
        self,
        *,
        ok: bool,
        latency_s: float | None,
        error: str | None = None,
        generation: int | None = None,
    ) -> None:
        """The attempt got its verdict: ``ok`` or an upstream failure (then give ``error``).

        ``latency_s`` (time to first event) feeds the latency estimate on success only:
        a fast failure must not make a broken target look quick.
        """
        self._end()
        if ok:
            self.successes += 1
            if latency_s is not None and latency_s >= 0:
                previous = self.ewma_latency_s
                self.ewma_latency_s = (
                    latency_s
                    if previous is None
                    else previous + self.ewma_alpha * (latency_s - previous)
                )
            self.breaker.record_success(generation=generation)
        else:
            self.failures += 1
            self.last_error = error
            self.breaker.record_failure(generation=generation)

    def abandoned(self, *, generation: int | None = None) -> None:
        """The attempt ended without a verdict: neither success nor failure is recorded."""
        self._end()
        self.breaker.release(generation=generation)

    def snapshot(self) -> dict[str, object]:
        breaker = self.breaker.snapshot()
        return {
            "label": self.label,
            "state": breaker["state"],
            "in_flight": self.in_flight,
            "ewma_latency_s": self.ewma_latency_s,
            "successes": self.successes,
            "failures": self.failures,
            "last_error": self.last_error,
            "breaker": breaker,
        }

    def _end(self) -> None:
        if self.in_flight > 0:
            self.in_flight -= 1


class TargetHealth:
    """The ``TargetState`` of every target, created on first use."""

    def __init__(
        self,
        policy: BreakerPolicy = DEFAULT_POLICY,
        *,
        clock: Clock = time.monotonic,
        ewma_alpha: float = 0.3,
    ) -> None:
        if not 0 < ewma_alpha <= 1:
            raise ValueError("ewma_alpha must be in (0, 1]")
        self._policy = policy
        self._clock = clock
        self._alpha = ewma_alpha
        self._states: dict[str, TargetState] = {}

    @property
    def policy(self) -> BreakerPolicy:
        return self._policy

    def available(self, label: str) -> bool:
        """False while another replica has found the target down (see SharedTargetHealth)."""
        return True

    def state(self, label: str) -> TargetState:
        state = self._states.get(label)
        if state is None:
            breaker = CircuitBreaker(self._policy, clock=self._clock)
            state = self._states[label] = TargetState(label, breaker, ewma_alpha=self._alpha)
        return state

    def reconfigure(self, policy: BreakerPolicy, keep: Iterable[str] | None = None) -> None:
        """Apply a reloaded config: every breaker takes the new policy (keeping its state),
        and if ``keep`` is given, targets not in it are forgotten unless calls are in flight."""
        self._policy = policy
        if keep is not None:
            wanted = set(keep)
            gone = [k for k, s in self._states.items() if k not in wanted and not s.in_flight]
            for label in gone:
                del self._states[label]
        for state in self._states.values():
            state.breaker.reconfigure(policy)

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {label: state.snapshot() for label, state in sorted(self._states.items())}
