"""Target health: load and latency accounting, and the breaker behind each target."""

from __future__ import annotations

import pytest

from sluicegate.resilience.breaker import BreakerPolicy
from sluicegate.resilience.health import TargetHealth


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def health(**policy: float) -> tuple[TargetHealth, FakeClock]:
    clock = FakeClock()
    return TargetHealth(BreakerPolicy(**policy), clock=clock, ewma_alpha=0.5), clock  # type: ignore[arg-type]


def test_in_flight_counts_attempts_until_they_end() -> None:
    targets, _ = health()
    state = targets.state("openai/gpt-4o")

    state.started()
    state.started()
    state.started()
    assert state.in_flight == 3

    state.finished(ok=True, latency_s=0.2)
    state.finished(ok=False, latency_s=None, error="503 overloaded")
    state.abandoned()
    assert state.in_flight == 0

    state.abandoned()  # an unmatched end does not go negative
    assert state.in_flight == 0


@pytest.mark.parametrize(
    ("outcomes", "ewma"),
    [
        pytest.param([(True, 1.0)], 1.0, id="the first sample is the estimate"),
        pytest.param([(True, 1.0), (True, 2.0)], 1.5, id="then it moves by alpha"),
        pytest.param([(True, 1.0), (True, 2.0), (True, 2.0)], 1.75, id="towards new samples"),
        pytest.param([(True, 1.0), (False, 0.01)], 1.0, id="failures do not count"),
        pytest.param([(True, 1.0), (True, None)], 1.0, id="success without a latency"),
        pytest.param([(False, 0.01)], None, id="no success, no estimate"),
    ],
)
def test_ewma_of_successful_latencies(
    outcomes: list[tuple[bool, float | None]], ewma: float | None
) -> None:
    targets, _ = health()
    state = targets.state("a/m")
    for ok, latency in outcomes:
        state.started()
        state.finished(ok=ok, latency_s=latency, error=None if ok else "boom")
    assert state.ewma_latency_s == (pytest.approx(ewma) if ewma is not None else None)


def test_failures_feed_the_breaker_and_keep_the_last_error() -> None:
    targets, _ = health(consecutive_failures=3)
    state = targets.state("anthropic/claude")
    for n in range(3):
        assert state.breaker.allow()
        state.started()
        state.finished(ok=False, latency_s=None, error=f"503 attempt {n}")

    assert state.breaker.state == "open"
    assert state.last_error == "503 attempt 2"
    assert (state.successes, state.failures) == (0, 3)


def test_a_successful_probe_closes_the_breaker() -> None:
    targets, clock = health(consecutive_failures=1, open_s=5.0)
    state = targets.state("a/m")
    state.started()
    state.finished(ok=False, latency_s=None, error="timeout")
    clock.advance(5.0)

    assert state.breaker.allow()
    generation = state.started()
    state.finished(ok=True, latency_s=0.3, generation=generation)

    assert state.breaker.state == "closed"


def test_an_abandoned_probe_frees_its_slot_without_a_verdict() -> None:
    targets, clock = health(consecutive_failures=1, open_s=5.0)
    state = targets.state("a/m")
    state.started()
    state.finished(ok=False, latency_s=None, error="timeout")
    clock.advance(5.0)
    assert state.breaker.allow()
    generation = state.started()
    assert not state.breaker.allow()

    state.abandoned(generation=generation)

    assert state.breaker.state == "half_open"
    assert state.breaker.allow()


def test_a_late_failure_from_before_the_outage_does_not_fail_the_probe() -> None:
    targets, clock = health(consecutive_failures=1, open_s=5.0)
    state = targets.state("a/m")
    long_stream = state.started()
    state.started()
    state.finished(ok=False, latency_s=None, error="503")  # opens
    clock.advance(5.0)
    assert state.breaker.allow()
    probe = state.started()

    state.finished(ok=False, latency_s=None, error="stream cut", generation=long_stream)

    assert state.breaker.state == "half_open"
    state.finished(ok=True, latency_s=0.1, generation=probe)
    assert state.breaker.state == "closed"


def test_state_is_created_once_per_label() -> None:
    targets, _ = health()
    first = targets.state("openai/gpt-4o")
    assert targets.state("openai/gpt-4o") is first
    assert targets.state("openai/gpt-4o-mini") is not first


def test_snapshot_keys() -> None:
    targets, _ = health()
    state = targets.state("openai/gpt-4o")
    state.started()
    state.finished(ok=True, latency_s=0.25)
    state.started()
    targets.state("anthropic/claude")

    snap = targets.snapshot()

    assert list(snap) == ["anthropic/claude", "openai/gpt-4o"]
    entry = snap["openai/gpt-4o"]
    assert set(entry) == {
        "label",
        "state",
        "in_flight",
        "ewma_latency_s",
        "successes",
        "failures",
        "last_error",
        "breaker",
    }
    assert (entry["state"], entry["in_flight"], entry["ewma_latency_s"]) == ("closed", 1, 0.25)
    breaker = entry["breaker"]
    assert isinstance(breaker, dict)
    assert {"state", "calls", "failures", "consecutive_failures", "retry_at", "open_s"} <= set(
        breaker
    )


def test_reconfigure_keeps_what_was_learned_and_forgets_removed_targets() -> None:
    targets, _ = health(consecutive_failures=1)
    down = targets.state("a/down")
    down.started()
    down.finished(ok=False, latency_s=None, error="503")
    busy = targets.state("b/busy")
    busy.started()
    targets.state("c/idle")

    targets.reconfigure(BreakerPolicy(consecutive_failures=2), keep=["a/down"])

    assert targets.state("a/down") is down
    assert down.breaker.state == "open"
    assert down.breaker.policy.consecutive_failures == 2
    assert set(targets.snapshot()) == {"a/down", "b/busy"}  # busy has a call in flight
