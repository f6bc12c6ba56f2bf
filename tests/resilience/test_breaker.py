"""Circuit breaker: when it opens, how long it stays open, and how probes close it."""

from __future__ import annotations

import pytest

from sluicegate.resilience.breaker import BreakerPolicy, CircuitBreaker, RollingCounts


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(**policy: float) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(BreakerPolicy(**policy), clock=clock), clock  # type: ignore[arg-type]


def trip(breaker: CircuitBreaker) -> None:
    while breaker.state == "closed":
        assert breaker.allow()
        breaker.record_failure()


# -- opening -------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [1, 3, 5])
def test_opens_after_consecutive_failures(threshold: int) -> None:
    breaker, _ = make(consecutive_failures=threshold, min_requests=1000)
    for _ in range(threshold - 1):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed"

    breaker.record_failure()

    assert breaker.state == "open"
    assert not breaker.allow()


def test_a_success_breaks_the_run_of_failures() -> None:
    breaker, _ = make(consecutive_failures=5, min_requests=1000)
    for outcome in "ffffsffff":
        breaker.record_success() if outcome == "s" else breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.snapshot()["consecutive_failures"] == 4


# Outcomes in order (s = success, f = failure) with min_requests=10, failure_rate=0.5.
RATE_CASES = [
    pytest.param("sf" * 5, "open", id="5 of 10 calls"),
    pytest.param("sf" * 4, "closed", id="4 of 8 calls: below min_requests"),
    pytest.param("ssssssffff", "closed", id="4 of 10 calls"),
    pytest.param("ssssssfffff", "closed", id="5 of 11 calls, 5 in a row (threshold 6)"),
    pytest.param("ssssssffff" + "sfsf", "closed", id="6 of 14 calls"),
    pytest.param("ffffsffffs", "open", id="8 of 10 calls, the 10th a success"),
    pytest.param("sssssffff" + "sff", "open", id="6 of 12 calls, never 5 in a row"),
]


@pytest.mark.parametrize(("outcomes", "expected"), RATE_CASES)
def test_opens_on_failure_rate_over_the_window(outcomes: str, expected: str) -> None:
    breaker, clock = make(min_requests=10, failure_rate=0.5, consecutive_failures=6)
    for outcome in outcomes:
        breaker.record_success() if outcome == "s" else breaker.record_failure()
        clock.advance(0.1)
    assert breaker.state == expected


def test_old_failures_age_out_of_the_window() -> None:
    policy = {"window_s": 10.0, "min_requests": 4, "consecutive_failures": 100}
    breaker, clock = make(**policy)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(10.0)  # all three are now older than the window

    breaker.record_failure()

    assert breaker.state == "closed"
    snap = breaker.snapshot()
    assert (snap["calls"], snap["failures"]) == (1, 1)

    # The same four failures inside one window do open it.
    fresh, fresh_clock = make(**policy)
    for _ in range(4):
        fresh.record_failure()
        fresh_clock.advance(2.0)
    assert fresh.state == "open"


# -- open and half-open --------------------------------------------------------------


def test_stays_open_for_open_s_then_turns_half_open_by_itself() -> None:
    breaker, clock = make(consecutive_failures=1, open_s=5.0)
    breaker.record_failure()

    clock.advance(4.999)
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.snapshot()["retry_in_s"] == pytest.approx(0.001)

    clock.advance(0.001)
    assert breaker.state == "half_open"


@pytest.mark.parametrize("probes", [1, 3])
def test_half_open_admits_exactly_n_probes(probes: int) -> None:
    breaker, clock = make(consecutive_failures=1, open_s=5.0, half_open_probes=probes)
    breaker.record_failure()
    clock.advance(5.0)

    admitted = [breaker.allow() for _ in range(probes + 2)]

    assert admitted == [True] * probes + [False, False]
    assert breaker.snapshot()["probes_in_flight"] == probes


def test_release_frees_a_probe_slot() -> None:
    breaker, clock = make(consecutive_failures=1, half_open_probes=1)
    breaker.record_failure()
    clock.advance(5.0)
    assert breaker.allow()
    assert not breaker.allow()

    breaker.release()  # the probe's client went away: no verdict

    assert breaker.state == "half_open"
    assert breaker.allow()


def test_probe_success_closes_and_forgets_the_failures() -> None:
    breaker, clock = make(min_requests=4, failure_rate=0.5, consecutive_failures=3)
    trip(breaker)
    clock.advance(5.0)
    assert breaker.allow()

    breaker.record_success()

    assert breaker.state == "closed"
    assert breaker.snapshot()["calls"] == 0
    # The failures that opened it are gone: two more do not re-open it.
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_probe_failure_reopens_with_doubled_period_capped() -> None:
    breaker, clock = make(consecutive_failures=1, open_s=5.0, max_open_s=60.0)
    breaker.record_failure()
    periods = []
    for _ in range(6):
        period = breaker.snapshot()["open_s"]
        assert isinstance(period, float)
        periods.append(period)
        clock.advance(period - 0.01)
        assert breaker.state == "open"
        clock.advance(0.01)
        assert breaker.allow()
        breaker.record_failure()

    assert periods == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_closing_resets_the_open_period() -> None:
    breaker, clock = make(consecutive_failures=1, open_s=5.0)
    breaker.record_failure()
    clock.advance(5.0)
    assert breaker.allow()
    breaker.record_failure()  # probe fails: 10 s now
    clock.advance(10.0)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"

    breaker.record_failure()

    assert breaker.snapshot()["open_s"] == 5.0


def test_verdicts_while_open_change_nothing() -> None:
    breaker, _ = make(consecutive_failures=1)
    breaker.record_failure()
    breaker.record_success()  # a call let through before it opened, answering late
    breaker.release()
    assert breaker.state == "open"


# -- late verdicts -------------------------------------------------------------------


def test_a_late_verdict_with_its_generation_is_not_taken_for_the_probes() -> None:
    breaker, clock = make(consecutive_failures=1, open_s=5.0)
    assert breaker.allow()
    slow_call = breaker.generation  # a long stream, let through while closed
    breaker.record_failure()  # another call fails: open
    clock.advance(5.0)
    assert breaker.allow()
    probe = breaker.generation

    breaker.record_failure(generation=slow_call)  # the old stream breaks now

    assert breaker.state == "half_open"
    assert not breaker.allow()  # the probe still holds its slot
    breaker.record_success(generation=probe)
    assert breaker.state == "closed"


def test_without_a_generation_a_late_verdict_with_no_probe_out_is_ignored() -> None:
    breaker, clock = make(consecutive_failures=1, open_s=5.0)
    breaker.record_failure()
    clock.advance(5.0)
    assert breaker.state == "half_open"

    breaker.record_success()  # no probe was let through: this one is late

    assert breaker.state == "half_open"


# -- snapshot and reconfiguration ----------------------------------------------------


def test_snapshot_of_an_open_breaker() -> None:
    breaker, clock = make(consecutive_failures=2, open_s=5.0)
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(2.0)

    snap = breaker.snapshot()

    assert snap == {
        "state": "open",
        "calls": 3,
        "failures": 2,
        "failure_rate": pytest.approx(2 / 3),
        "consecutive_failures": 2,
        "opened_at": 1000.0,
        "retry_at": 1005.0,
        "retry_in_s": 3.0,
        "open_s": 5.0,
        "probes_in_flight": 0,
        "generation": 1,
    }


def test_snapshot_of_a_closed_breaker_has_no_times() -> None:
    breaker, _ = make()
    snap = breaker.snapshot()
    assert snap["state"] == "closed"
    assert (snap["opened_at"], snap["retry_at"], snap["retry_in_s"]) == (None, None, None)


def test_reconfigure_keeps_an_open_breaker_open_and_honours_a_lower_cap() -> None:
    breaker, clock = make(consecutive_failures=1, open_s=40.0, max_open_s=60.0)
    breaker.record_failure()

    breaker.reconfigure(BreakerPolicy(consecutive_failures=1, open_s=5.0, max_open_s=10.0))

    assert breaker.state == "open"
    clock.advance(10.0)
    assert breaker.state == "half_open"


@pytest.mark.parametrize(
    "bad",
    [
        {"window_s": 0.0},
        {"min_requests": 0},
        {"failure_rate": 0.0},
        {"failure_rate": 1.5},
        {"consecutive_failures": 0},
        {"open_s": 0.0},
        {"open_s": 90.0, "max_open_s": 60.0},
        {"half_open_probes": 0},
    ],
)
def test_policy_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(**bad)  # type: ignore[arg-type]


# -- the rolling window itself -------------------------------------------------------


def test_rolling_counts_forget_after_the_window() -> None:
    counts = RollingCounts(window_s=10.0, buckets=10, fields=2)
    counts.add(100.0, 0)
    counts.add(100.5, 0, 2)
    counts.add(105.0, 1)

    assert counts.total(109.9, 0) == 3  # bucket [100, 101) is still inside
    assert counts.total(110.0, 0) == 0  # ... and gone once the window has moved past it
    assert counts.total(110.0, 1) == 1
    assert counts.total(1e9, 1) == 0  # a long jump clears everything
    counts.add(1e9, 1)
    assert counts.total(1e9 - 50, 1) == 1  # a clock going backwards stands still
