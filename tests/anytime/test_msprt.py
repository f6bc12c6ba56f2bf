import math
import random

import pytest

from sluicegate.anytime import AlwaysValid, ClusteredMean, compare


def arms(rate_a: float, rate_b: float, units: int, per_unit: int, seed: int):
    rng = random.Random(seed)
    a, b = ClusteredMean(), ClusteredMean()
    for u in range(units):
        for _ in range(per_unit):
            a.add(f"a{u}", float(rng.random() < rate_a))
            b.add(f"b{u}", float(rng.random() < rate_b))
    return a, b


def test_the_clustered_variance_of_independent_requests_is_the_usual_one() -> None:
    a = ClusteredMean()
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    for i, v in enumerate(values):
        a.add(f"u{i}", v)
    mean = sum(values) / len(values)
    sample = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    assert a.mean == pytest.approx(mean)
    assert a.variance_of_mean == pytest.approx(sample / len(values))


def test_requests_of_one_unit_that_agree_widen_the_variance() -> None:
    rng = random.Random(1)
    clustered, independent = ClusteredMean(), ClusteredMean()
    for u in range(100):
        liked = float(rng.random() < 0.5)
        for r in range(10):
            clustered.add(f"u{u}", liked)  # a unit's requests all alike
            independent.add(f"u{u}-{r}", liked)
    assert clustered.variance_of_mean > 5 * independent.variance_of_mean


def test_a_real_difference_is_significant_and_inside_its_interval() -> None:
    a, b = arms(0.45, 0.55, units=2000, per_unit=1, seed=2)
    found = compare(a, b)
    assert found.p_value < 0.01 and found.low < 0.10 < found.high and found.low > 0


def test_no_difference_watched_after_every_request_rarely_looks_significant() -> None:
    rng = random.Random(3)
    significant = 0
    for _ in range(200):
        a, b, test = ClusteredMean(), ClusteredMean(), AlwaysValid(alpha=0.05)
        for i in range(400):
            a.add(f"a{i}", float(rng.random() < 0.5))
            b.add(f"b{i}", float(rng.random() < 0.5))
            if i >= 2:
                test.update(a, b)
        significant += test.significant
    assert significant / 200 <= 0.08  # alpha 0.05, and 200 runs' sampling error


def test_the_running_interval_only_narrows() -> None:
    a, b = arms(0.5, 0.5, units=50, per_unit=2, seed=4)
    test = AlwaysValid()
    widths = []
    for _ in range(3):
        test.update(a, b)
        widths.append(test.high - test.low)
    assert widths == sorted(widths, reverse=True)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_values_that_are_not_finite_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        ClusteredMean().add("u", bad)


def test_too_few_units_or_a_bad_alpha_are_refused() -> None:
    one = ClusteredMean()
    one.add("u", 1.0)
    with pytest.raises(ValueError, match="two units"):
        _ = one.variance_of_mean
    a, b = arms(0.5, 0.5, units=5, per_unit=1, seed=5)
    with pytest.raises(ValueError, match="alpha"):
        compare(a, b, alpha=1.5)
