"""The sequential tests: quiet on steady traffic, quick and right-way-round on a shift.

Streams are seeded (``random.Random``), so every test sees the same numbers on
every machine; the shifts are large enough that the assertions hold with a wide
margin, not because a threshold was fitted to these seeds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from sluicegate.drift import (
    H_MEAN,
    H_PROPORTION,
    Alarm,
    Baseline,
    Detector,
    Direction,
    InsufficientBaseline,
    Metric,
)


def tokens(rng: random.Random, scale: float = 1.0) -> float:
    return round(rng.lognormvariate(math.log(200), 0.8) * scale)


def bernoulli(rng: random.Random, rate: float) -> bool:
    return rng.random() < rate


def first_alarm(detector: Detector, draw: Callable[[], float], limit: int) -> Alarm | None:
    for _ in range(limit):
        alarm = detector.feed(draw())
        if alarm is not None:
            return alarm
    return None


def output_detector(rng: random.Random) -> Detector:
    return Detector.for_baseline(Baseline.of(Metric.OUTPUT_TOKENS,
                                             [tokens(rng) for _ in range(5000)]))


def test_steady_output_lengths_raise_no_alarm() -> None:
    rng = random.Random(1)
    detector = output_detector(rng)
    assert first_alarm(detector, lambda: tokens(rng), 10_000) is None
    assert detector.observations == 10_000
    assert 0 <= detector.statistic < H_MEAN


def test_longer_answers_raise_an_up_alarm_soon_after_the_shift() -> None:
    rng = random.Random(2)
    detector = output_detector(rng)
    assert first_alarm(detector, lambda: tokens(rng), 2000) is None
    alarm = first_alarm(detector, lambda: tokens(rng, 1.5), 500)
    assert alarm is not None
    assert alarm.metric is Metric.OUTPUT_TOKENS and alarm.direction is Direction.UP
    assert 2000 <= alarm.index < 2300
    assert 1900 <= alarm.changed_at <= alarm.index  # where the CUSUM thinks it began
    assert alarm.statistic > alarm.threshold == H_MEAN
    # Geometric means on the tokens' own scale: the baseline's about 200, the current 1.5x.
    assert 180 < alarm.baseline < 220
    assert 1.3 < alarm.current / alarm.baseline < 1.8


def test_faster_answers_raise_a_down_alarm() -> None:
    rng = random.Random(3)

    def latency(scale: float = 1.0) -> float:
        return rng.lognormvariate(math.log(1500), 0.5) * scale

    detector = Detector.for_baseline(Baseline.of(Metric.LATENCY_MS,
                                                 [latency() for _ in range(3000)]))
    alarm = first_alarm(detector, lambda: latency(0.6), 500)
    assert alarm is not None and alarm.direction is Direction.DOWN
    assert alarm.current < alarm.baseline


def test_refusals_from_2_to_10_percent_raise_an_up_alarm_within_1000_requests() -> None:
    rng = random.Random(4)
    detector = Detector.for_baseline(
        Baseline.of(Metric.REFUSAL_RATE, [bernoulli(rng, 0.02) for _ in range(5000)]))
    assert first_alarm(detector, lambda: bernoulli(rng, 0.02), 20_000) is None
    alarm = first_alarm(detector, lambda: bernoulli(rng, 0.10), 1000)
    assert alarm is not None and alarm.direction is Direction.UP
    assert alarm.threshold == H_PROPORTION
    assert 0.015 < alarm.baseline < 0.025 and alarm.current > 0.05


def test_contracts_failing_more_raise_a_down_alarm_on_the_valid_rate() -> None:
    rng = random.Random(5)
    detector = Detector.for_baseline(Baseline.from_counts(Metric.CONTRACT_VALID_RATE, 3000, 2970))
    alarm = first_alarm(detector, lambda: bernoulli(rng, 0.90), 1000)
    assert alarm is not None and alarm.direction is Direction.DOWN
    assert alarm.current < 0.95


def test_feedback_is_tested_on_its_own_scale() -> None:
    rng = random.Random(6)

    def thumbs(rate: float) -> float:
        return float(bernoulli(rng, rate))

    detector = Detector.for_baseline(Baseline.of(Metric.FEEDBACK,
                                                 [thumbs(0.8) for _ in range(1000)]))
    assert detector.test == "cusum"
    assert first_alarm(detector, lambda: thumbs(0.8), 5000) is None
    alarm = first_alarm(detector, lambda: thumbs(0.5), 1000)
    assert alarm is not None and alarm.direction is Direction.DOWN
    assert alarm.current < 0.7


def test_a_baseline_estimated_two_standard_errors_low_does_not_alarm_on_true_traffic() -> None:
    # 80 events in 5,000 is 1.6 %, two standard errors below the true 2 %: the
    # guard band is what keeps the up chart quiet.
    rng = random.Random(7)
    detector = Detector.for_baseline(Baseline.from_counts(Metric.REFUSAL_RATE, 5000, 80))
    assert first_alarm(detector, lambda: bernoulli(rng, 0.02), 20_000) is None


def test_after_an_alarm_the_charts_start_again_and_reset_forgets_the_count() -> None:
    rng = random.Random(8)
    detector = output_detector(rng)
    alarm = first_alarm(detector, lambda: tokens(rng, 2.0), 500)
    assert alarm is not None
    assert detector.statistic == 0.0 and detector.observations == alarm.index + 1
    detector.feed(tokens(rng, 2.0))
    assert detector.statistic > 0
    detector.reset()
    assert detector.statistic == 0.0 and detector.observations == 0


def test_a_missing_value_is_no_observation() -> None:
    detector = Detector.for_baseline(Baseline.from_counts(Metric.ERROR_RATE, 10_000, 50))
    assert detector.feed(None) is None
    assert detector.observations == 0
    detector.feed(False)
    assert detector.observations == 1


@pytest.mark.parametrize(
    ("baseline", "says"),
    [
        (Baseline.from_counts(Metric.REFUSAL_RATE, 300, 6), "6 events in 300"),
        (Baseline.from_counts(Metric.CONTRACT_VALID_RATE, 2000, 1995), "1995 events in 2000"),
        (Baseline.of(Metric.OUTPUT_TOKENS, [100.0] * 150), "150 observations"),
        (Baseline.of(Metric.FEEDBACK, [1.0] * 500), "the same"),
        (Baseline.of(Metric.LATENCY_MS, []), "0 observations"),
    ],
)
def test_an_insufficient_baseline_says_why_and_cannot_be_tested_against(
    baseline: Baseline, says: str
) -> None:
    assert not baseline.sufficient
    assert baseline.insufficient is not None and says in baseline.insufficient
    with pytest.raises(InsufficientBaseline, match=says):
        Detector.for_baseline(baseline)


@pytest.mark.parametrize(
    ("metric", "value", "says"),
    [
        (Metric.OUTPUT_TOKENS, math.nan, "not a finite number"),
        (Metric.LATENCY_MS, math.inf, "not a finite number"),
        (Metric.LATENCY_MS, -3.0, "negative"),
        (Metric.REFUSAL_RATE, 0.5, "True/False"),
        (Metric.FEEDBACK, "5", "not a number"),
    ],
)
def test_a_value_that_is_not_the_metrics_raises_naming_it(
    metric: Metric, value: float, says: str
) -> None:
    baseline = (Baseline.from_counts(metric, 1000, 100) if metric.kind == "proportion"
                else Baseline.from_moments(metric, 1000, 5000.0, 26000.0))
    detector = Detector.for_baseline(baseline)
    with pytest.raises(ValueError, match=f"{metric}: .*{says}"):
        detector.feed(value)
