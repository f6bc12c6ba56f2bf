"""A baseline's summary: the same from values as from a query's sums, and honest
about samples too small to test against."""

from __future__ import annotations

import math
import random

import pytest

from sluicegate.drift import MIN_EVENTS, MIN_MEAN_OBSERVATIONS, Baseline, Metric, observation


def test_moments_from_a_query_give_the_baseline_of_the_values() -> None:
    rng = random.Random(1)
    values = [round(rng.lognormvariate(5.3, 0.8)) for _ in range(2000)]
    logs = [math.log1p(v) for v in values]
    from_values = Baseline.of(Metric.OUTPUT_TOKENS, values)
    from_sums = Baseline.from_moments(Metric.OUTPUT_TOKENS, len(logs), sum(logs),
                                      sum(x * x for x in logs))
    assert from_sums.n == from_values.n == 2000
    assert from_sums.mean == pytest.approx(from_values.mean, rel=1e-12)
    assert from_sums.sd == pytest.approx(from_values.sd, rel=1e-9)
    assert from_values.figure == pytest.approx(math.expm1(from_values.mean))
    assert 170 < (from_values.figure or 0) < 230  # the lognormal's median, e^5.3 = 200


def test_a_rate_is_counted_from_booleans_skipping_missing_values() -> None:
    baseline = Baseline.of(Metric.CONTRACT_VALID_RATE, [True] * 95 + [False] * 5 + [None] * 50)
    assert (baseline.n, baseline.events, baseline.mean) == (100, 95, 0.95)
    assert baseline.sd == pytest.approx(math.sqrt(0.95 * 0.05))
    assert baseline == Baseline.from_counts(Metric.CONTRACT_VALID_RATE, 100, 95)


def test_the_limits_of_sufficiency() -> None:
    assert Baseline.from_counts(Metric.ERROR_RATE, 4000, MIN_EVENTS).sufficient
    assert not Baseline.from_counts(Metric.ERROR_RATE, 4000, MIN_EVENTS - 1).sufficient
    spread = [float(i % 7) for i in range(MIN_MEAN_OBSERVATIONS)]
    assert Baseline.of(Metric.FEEDBACK, spread).sufficient
    assert not Baseline.of(Metric.FEEDBACK, spread[:-1]).sufficient


def test_the_wilson_interval_stays_inside_zero_and_one() -> None:
    low, high = Baseline.from_counts(Metric.REFUSAL_RATE, 1000, 20).rate_interval(2.0)
    assert 0 < low < 0.02 < high < 0.04
    # By hand: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
    spread = 2 * math.sqrt(0.02 * 0.98 / 1000 + 4 / (4 * 1000**2))
    assert low == pytest.approx((0.022 - spread) / 1.004) == pytest.approx(0.012871, abs=1e-6)
    assert high == pytest.approx((0.022 + spread) / 1.004)
    low, high = Baseline.from_counts(Metric.REFUSAL_RATE, 50, 0).rate_interval(2.0)
    assert low == 0.0 and 0 < high < 0.1


def test_the_empty_baseline_has_no_figure() -> None:
    empty = Baseline.of(Metric.OUTPUT_TOKENS, [None, None])
    assert empty.n == 0 and empty.figure is None and empty.standard_error == math.inf


@pytest.mark.parametrize(
    "build",
    [
        lambda: Baseline.of(Metric.LATENCY_MS, [1.0, math.nan]),
        lambda: Baseline.of(Metric.REFUSAL_RATE, [True, 2]),
        lambda: Baseline.from_moments(Metric.LATENCY_MS, 10, math.nan, 1.0),
        lambda: Baseline.from_moments(Metric.LATENCY_MS, -1, 0.0, 0.0),
        lambda: Baseline.from_moments(Metric.REFUSAL_RATE, 10, 1.0, 1.0),
        lambda: Baseline.from_counts(Metric.REFUSAL_RATE, 10, 11),
        lambda: Baseline.from_counts(Metric.OUTPUT_TOKENS, 10, 1),
    ],
)
def test_bad_inputs_raise_value_error(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_observation_reads_the_tests_scale() -> None:
    assert observation(Metric.OUTPUT_TOKENS, 0) == 0.0
    assert observation(Metric.LATENCY_MS, math.e - 1) == pytest.approx(1.0)
    assert observation(Metric.FEEDBACK, 4) == 4.0
    assert observation(Metric.ERROR_RATE, True) == 1.0
