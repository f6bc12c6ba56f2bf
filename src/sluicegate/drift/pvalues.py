"""Fixed-sample two-sample tests, for the model card to print beside the sequential
verdict: "the current window against the baseline, p = 0.003".

A p-value answers a different question from the CUSUM's (is this one window
unlike the baseline, asked once), so it is shown, not alarmed on: asked every
minute it would cry wolf. The rates take the pooled two-proportion z-test;
the means Welch's t-test (unequal variances; the window is usually much
smaller than the baseline) on the tests' scale, ``log1p`` for output tokens and
latency, where the t-test's normality is a fair assumption.

Only the standard library: the normal tail is ``erfc``, Student's t tail the
regularized incomplete beta function by its continued fraction (Lentz's method,
as in Numerical Recipes' ``betacf``), accurate to about 1e-12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sluicegate.drift.baseline import Baseline
from sluicegate.drift.metrics import Kind


@dataclass(frozen=True, slots=True)
class Comparison:
    """A two-sided test's result: its name, statistic, p-value and, for t, the
    degrees of freedom (Welch-Satterthwaite)."""

    test: str
    statistic: float
    p_value: float
    df: float | None = None


def compare(baseline: Baseline, window: Baseline) -> Comparison:
    """The fixed-sample test of ``window`` against ``baseline`` (the same metric):
    the two-proportion z-test for a rate, Welch's t on the tests' scale for a mean.
    Raises ``ValueError`` when either is empty (or a mean's has one observation)."""
    if baseline.metric is not window.metric:
        raise ValueError(f"cannot compare {baseline.metric} with {window.metric}")
    if baseline.metric.kind is Kind.PROPORTION:
        assert baseline.events is not None and window.events is not None
        return two_proportion_z(window.events, window.n, baseline.events, baseline.n)
    result = welch_t(window.n, window.mean, window.sd, baseline.n, baseline.mean, baseline.sd)
    if baseline.metric.log_scale:
        return Comparison("welch_t(log1p)", result.statistic, result.p_value, result.df)
    return result


def two_proportion_z(events_a: int, n_a: int, events_b: int, n_b: int) -> Comparison:
    """The pooled two-proportion z-test of ``events_a/n_a`` against ``events_b/n_b``.
    When neither sample has an event (or neither a non-event) they cannot differ:
    z = 0, p = 1."""
    for events, n in ((events_a, n_a), (events_b, n_b)):
        if n <= 0 or not 0 <= events <= n:
            raise ValueError(f"a proportion needs 0 <= events <= n and n > 0, not {events}/{n}")
    pooled = (events_a + events_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return Comparison("two_proportion_z", 0.0, 1.0)
    z = (events_a / n_a - events_b / n_b) / se
    return Comparison("two_proportion_z", z, normal_two_sided(z))


def welch_t(n_a: int, mean_a: float, sd_a: float,
            n_b: int, mean_b: float, sd_b: float) -> Comparison:
    """Welch's t-test of mean ``a`` against mean ``b`` from summary statistics (sample
    standard deviations, ``n - 1`` in the denominator). Two samples without any
    spread differ surely if their means do (p = 0) and not at all if not (p = 1)."""
    for n, mean, sd in ((n_a, mean_a, sd_a), (n_b, mean_b, sd_b)):
        if n < 2:
            raise ValueError(f"Welch's t-test needs at least 2 observations a sample, not {n}")
        if not (math.isfinite(mean) and math.isfinite(sd)) or sd < 0:
            raise ValueError(f"a sample's mean and sd must be finite (sd >= 0): {mean!r}, {sd!r}")
    va, vb = sd_a * sd_a / n_a, sd_b * sd_b / n_b
    if va + vb == 0:
        same = mean_a == mean_b
        return Comparison("welch_t", 0.0 if same else math.copysign(math.inf, mean_a - mean_b),
                          1.0 if same else 0.0, None)
    t = (mean_a - mean_b) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va * va / (n_a - 1) + vb * vb / (n_b - 1))
    return Comparison("welch_t", t, student_t_two_sided(t, df), df)


def normal_two_sided(z: float) -> float:
    """``P(|Z| >= |z|)`` for a standard normal ``Z`` (``erfc``: exact far in the tail,
    where ``1 - cdf`` would round to 0)."""
    if math.isnan(z):
        raise ValueError("z is NaN")
    return math.erfc(abs(z) / math.sqrt(2))


def student_t_two_sided(t: float, df: float) -> float:
    """``P(|T| >= |t|)`` for Student's t with ``df`` (> 0, not necessarily whole)
    degrees of freedom: ``I_x(df/2, 1/2)`` at ``x = df / (df + t^2)``."""
    if math.isnan(t) or not df > 0:
        raise ValueError(f"Student's t needs a number t and df > 0, not t={t!r}, df={df!r}")
    if math.isinf(t):
        return 0.0
    if math.isinf(df):
        return normal_two_sided(t)
    return regularized_beta(df / (df + t * t), df / 2, 0.5)


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)`` for ``0 <= x <= 1``."""
    if not 0 <= x <= 1:
        raise ValueError(f"x must be in [0, 1], not {x!r}")
    if x in (0, 1):
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) on the other side.
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function, by modified Lentz."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            return h
    return h  # not converged in 500 terms: only at extreme a, b; accurate enough for a card
