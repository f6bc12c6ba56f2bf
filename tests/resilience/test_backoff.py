"""Backoff: full-jitter bounds and how an upstream's Retry-After is honoured."""

from __future__ import annotations

import math
import random

import pytest

from sluicegate.resilience.backoff import BackoffPolicy, backoff_s, retry_delay

POLICY = BackoffPolicy(base_s=0.1, max_s=2.0, max_retry_after_s=5.0)


class Highest(random.Random):
    """Always draws the top of the range, to read off the ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [
        (0, 0.1),
        (1, 0.2),
        (2, 0.4),
        (3, 0.8),
        (4, 1.6),
        (5, 2.0),
        (6, 2.0),
        (100, 2.0),
        (10**6, 2.0),
    ],
)
def test_the_ceiling_doubles_per_attempt_up_to_max_s(attempt: int, ceiling: float) -> None:
    assert backoff_s(attempt, POLICY, Highest()) == pytest.approx(ceiling)


@pytest.mark.parametrize("attempt", [0, 2, 5, 9])
def test_full_jitter_spans_zero_to_the_ceiling(attempt: int) -> None:
    ceiling = min(POLICY.max_s, POLICY.base_s * 2**attempt)
    rng = random.Random(7)

    draws = [backoff_s(attempt, POLICY, rng) for _ in range(2000)]

    assert all(0.0 <= d <= ceiling for d in draws)
    assert min(draws) < 0.05 * ceiling
    assert max(draws) > 0.95 * ceiling
    assert sum(draws) / len(draws) == pytest.approx(ceiling / 2, rel=0.1)


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [backoff_s(a, POLICY, random.Random(42)) for a in range(5)]
    second = [backoff_s(a, POLICY, random.Random(42)) for a in range(5)]
    assert first == second


def test_a_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError):
        backoff_s(-1, POLICY, random.Random(0))


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(0.0, 0.0, id="retry now"),
        pytest.param(3.0, 3.0, id="short: honoured"),
        pytest.param(5.0, 5.0, id="at the limit: honoured"),
        pytest.param(5.01, None, id="longer than max_retry_after_s: fail over"),
        pytest.param(3600.0, None, id="an hour: fail over"),
        pytest.param(math.inf, None, id="infinite: fail over"),
        pytest.param(-2.0, 0.0, id="negative: now"),
    ],
)
def test_retry_after_is_honoured_when_short(retry_after: float, expected: float | None) -> None:
    assert retry_delay(retry_after, 3, POLICY, Highest()) == expected


@pytest.mark.parametrize("retry_after", [None, math.nan])
def test_without_retry_after_the_backoff_applies(retry_after: float | None) -> None:
    assert retry_delay(retry_after, 3, POLICY, Highest()) == pytest.approx(0.8)
    delay = retry_delay(retry_after, 3, POLICY, random.Random(1))
    assert delay is not None
    assert 0.0 <= delay <= 0.8


def test_a_zero_limit_never_waits_on_retry_after() -> None:
    policy = BackoffPolicy(max_retry_after_s=0.0)
    assert retry_delay(0.5, 0, policy, random.Random(0)) is None
    assert retry_delay(0.0, 0, policy, random.Random(0)) == 0.0
