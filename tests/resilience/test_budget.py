"""Retry budget: extra upstream attempts stay a share of requests, with a floor."""

from __future__ import annotations

import pytest

from sluicegate.resilience.budget import RetryBudget


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def storm(budget: RetryBudget, clock: FakeClock, *, rps: float, seconds: float) -> tuple[int, int]:
    """Every request fails and keeps retrying (up to 5 times) while the budget allows.

    Returns (requests, retries)."""
    requests = retries = 0
    for _ in range(round(rps * seconds)):
        budget.deposit()
        requests += 1
        for _ in range(5):
            if not budget.try_withdraw():
                break
            retries += 1
        clock.advance(1.0 / rps)
    return requests, retries


@pytest.mark.parametrize(
    ("rps", "seconds"),
    [(1000.0, 30.0), (100.0, 60.0), (10.0, 60.0), (2.0, 60.0), (0.5, 120.0)],
)
def test_a_total_outage_gets_at_most_the_share_plus_the_floor(rps: float, seconds: float) -> None:
    percent, min_per_s, window_s = 0.2, 1.0, 10.0
    clock = FakeClock()
    budget = RetryBudget(percent=percent, min_per_s=min_per_s, window_s=window_s, clock=clock)
    start = clock.now

    requests, retries = storm(budget, clock, rps=rps, seconds=seconds)

    elapsed = clock.now - start
    reserve = min_per_s * window_s  # the floor starts full
    assert retries <= percent * requests + min_per_s * elapsed + reserve
    # ... and it is a budget, not a wall: the share and the floor are actually spent.
    expected = min(5 * requests, percent * requests + min_per_s * elapsed)
    assert retries >= 0.9 * expected
    if rps >= 100:
        assert requests + retries <= 1.2 * requests + min_per_s * (elapsed + window_s)


def test_steady_state_retries_are_the_share_plus_the_floor_rate() -> None:
    clock = FakeClock()
    budget = RetryBudget(percent=0.2, min_per_s=1.0, window_s=10.0, clock=clock)
    storm(budget, clock, rps=100, seconds=20)  # spend the reserve, reach steady state

    requests, retries = storm(budget, clock, rps=100, seconds=60)

    assert retries <= 0.2 * requests + 1.0 * 60
    assert retries == pytest.approx(0.2 * requests + 1.0 * 60, rel=0.05)


def test_a_quiet_service_can_still_retry_thanks_to_the_floor() -> None:
    clock = FakeClock()
    budget = RetryBudget(percent=0.2, min_per_s=1.0, clock=clock)
    granted = []
    for _ in range(30):  # one request every 5 s: its share alone would never buy a retry
        budget.deposit()
        granted.append(budget.try_withdraw())
        clock.advance(5.0)
    assert all(granted)


def test_the_floor_refills_at_min_per_s() -> None:
    clock = FakeClock()
    budget = RetryBudget(percent=0.0, min_per_s=2.0, window_s=5.0, clock=clock)
    assert sum(budget.try_withdraw() for _ in range(20)) == 10  # the full bucket: 2/s * 5 s

    clock.advance(1.0)
    assert sum(budget.try_withdraw() for _ in range(20)) == 2
    clock.advance(100.0)
    assert sum(budget.try_withdraw() for _ in range(20)) == 10  # capped, not 200


@pytest.mark.parametrize(
    ("percent", "requests", "retries"),
    [(0.2, 10, 2), (0.2, 9, 1), (0.1, 100, 10), (0.5, 3, 1), (1.0, 7, 7), (0.0, 1000, 0)],
)
def test_the_share_is_exact(percent: float, requests: int, retries: int) -> None:
    budget = RetryBudget(percent=percent, min_per_s=0.0, clock=FakeClock())
    for _ in range(requests):
        budget.deposit()
    assert sum(budget.try_withdraw() for _ in range(requests + 10)) == retries


def test_deposits_expire_after_the_window() -> None:
    clock = FakeClock()
    budget = RetryBudget(percent=0.2, min_per_s=0.0, window_s=10.0, clock=clock)
    for _ in range(100):
        budget.deposit()

    clock.advance(10.0)

    assert not budget.try_withdraw()


def test_credit_spent_once_is_not_returned_when_the_spending_expires() -> None:
    clock = FakeClock()
    budget = RetryBudget(percent=0.2, min_per_s=0.0, window_s=10.0, clock=clock)
    for _ in range(10):
        budget.deposit()
    clock.advance(9.5)
    assert [budget.try_withdraw() for _ in range(3)] == [True, True, False]

    clock.advance(5.0)  # the deposits are gone, the retries they paid for still counted
    for _ in range(10):
        budget.deposit()

    assert not budget.try_withdraw()  # 2 new tokens, 2 still owed
    clock.advance(5.0)
    assert [budget.try_withdraw() for _ in range(3)] == [True, True, False]


def test_snapshot() -> None:
    clock = FakeClock()
    budget = RetryBudget(percent=0.2, min_per_s=1.0, window_s=10.0, clock=clock)
    for _ in range(15):
        budget.deposit()
    assert budget.try_withdraw()

    assert budget.snapshot() == {
        "requests": 15.0,
        "retries": 1.0,
        "share_tokens": pytest.approx(2.0),
        "floor_tokens": 10.0,
        "available": 12.0,
        "percent": 0.2,
        "min_per_s": 1.0,
    }


@pytest.mark.parametrize("bad", [{"percent": -0.1}, {"min_per_s": -1.0}, {"window_s": 0.0}])
def test_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryBudget(**bad)  # type: ignore[arg-type]
