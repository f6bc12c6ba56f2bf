"""The fixed-sample p-values, against closed forms, table values and hand sums."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from sluicegate.drift import (
    Baseline,
    Metric,
    compare,
    normal_two_sided,
    student_t_two_sided,
    two_proportion_z,
    welch_t,
)


@pytest.mark.parametrize("z", [0.0, 0.5, 1.959963985, 3.0, -2.5])
def test_the_normal_tail_matches_normaldist(z: float) -> None:
    assert normal_two_sided(z) == pytest.approx(2 * (1 - NormalDist().cdf(abs(z))), rel=1e-9)


@pytest.mark.parametrize("t", [0.3, 1.0, 2.5, 12.0])
def test_student_t_with_one_and_two_degrees_of_freedom_has_closed_forms(t: float) -> None:
    assert student_t_two_sided(t, 1) == pytest.approx(1 - 2 * math.atan(t) / math.pi, rel=1e-10)
    assert student_t_two_sided(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-10)


@pytest.mark.parametrize(
    ("t", "df"), [(12.7062047, 1), (2.776445105, 4), (2.228138852, 10), (2.042272456, 30)]
)
def test_student_t_critical_values_from_the_tables_give_five_percent(t: float, df: float) -> None:
    assert student_t_two_sided(t, df) == pytest.approx(0.05, abs=1e-8)


def test_student_t_tends_to_the_normal() -> None:
    assert student_t_two_sided(1.96, 1e7) == pytest.approx(normal_two_sided(1.96), rel=1e-6)
    assert student_t_two_sided(1.96, math.inf) == normal_two_sided(1.96)
    assert student_t_two_sided(-2.0, 7.5) == student_t_two_sided(2.0, 7.5)


def test_two_proportions_by_hand() -> None:
    result = two_proportion_z(30, 1000, 20, 1000)
    pooled = 50 / 2000
    z = (0.03 - 0.02) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert result.test == "two_proportion_z"
    assert result.statistic == pytest.approx(z) == pytest.approx(1.4322, abs=1e-4)
    assert result.p_value == pytest.approx(2 * (1 - NormalDist().cdf(z)))
    assert two_proportion_z(0, 100, 0, 500).p_value == 1.0


def test_welch_by_hand() -> None:
    result = welch_t(10, 5.0, 2.0, 20, 4.0, 1.0)
    va, vb = 4 / 10, 1 / 20
    df = (va + vb) ** 2 / (va**2 / 9 + vb**2 / 19)
    assert result.statistic == pytest.approx(1 / math.sqrt(va + vb))
    assert result.df == pytest.approx(df) == pytest.approx(11.307, abs=1e-3)
    assert result.p_value == pytest.approx(student_t_two_sided(result.statistic, df))
    assert 0.1 < result.p_value < 0.2
    assert welch_t(5, 1.0, 0.0, 5, 1.0, 0.0).p_value == 1.0
    assert welch_t(5, 1.0, 0.0, 5, 2.0, 0.0).p_value == 0.0


def test_compare_picks_the_metrics_test() -> None:
    rate = compare(Baseline.from_counts(Metric.REFUSAL_RATE, 5000, 100),
                   Baseline.from_counts(Metric.REFUSAL_RATE, 1000, 60))
    assert rate.test == "two_proportion_z" and rate.statistic > 0 and rate.p_value < 1e-4
    length = compare(Baseline.from_moments(Metric.OUTPUT_TOKENS, 5000, 5000 * 5.3, 5000 * 28.73),
                     Baseline.from_moments(Metric.OUTPUT_TOKENS, 500, 500 * 5.5, 500 * 30.89))
    assert length.test == "welch_t(log1p)" and length.statistic > 0 and length.p_value < 1e-3


@pytest.mark.parametrize(
    "call",
    [
        lambda: two_proportion_z(1, 0, 1, 10),
        lambda: two_proportion_z(11, 10, 1, 10),
        lambda: welch_t(1, 0.0, 1.0, 10, 0.0, 1.0),
        lambda: welch_t(10, math.nan, 1.0, 10, 0.0, 1.0),
        lambda: student_t_two_sided(math.nan, 3),
        lambda: student_t_two_sided(1.0, 0),
        lambda: normal_two_sided(math.nan),
        lambda: compare(Baseline.from_counts(Metric.ERROR_RATE, 10, 1),
                        Baseline.from_counts(Metric.REFUSAL_RATE, 10, 1)),
        lambda: compare(Baseline.from_counts(Metric.ERROR_RATE, 10, 1),
                        Baseline.from_counts(Metric.ERROR_RATE, 0, 0)),
    ],
)
def test_bad_inputs_raise_value_error(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]
