"""The mixture sequential probability ratio test for a difference of two means.

With the difference ``d`` of the two arms' means and its variance ``V`` (the sum
of the arms' variances of their means), and a normal mixture N(0, tau**2) over
the true difference, the likelihood ratio against "no difference" is

    L = sqrt(V / (V + tau2)) * exp(tau2 * d**2 / (2 * V * (V + tau2)))

and ``1 / L`` is a p-value that may be checked after every observation: its
running minimum is below alpha with probability at most alpha under the null
(Ville's inequality; Johari et al. 2017). The always-valid confidence sequence
inverts the same test: ``d +- sqrt(V * (V + tau2) / tau2 * (2 log(1/alpha) +
log((V + tau2) / V)))``.

``tau`` is the size of difference the test is most sensitive to; by default a
fraction of the pooled standard deviation of one observation (:data:`TAU_SD`),
so that it suits rates and means on any scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sluicegate.anytime.clustered import ClusteredMean

# tau as a share of one observation's standard deviation: the mixture weighs
# differences of about a fifth of a standard deviation most (0.45 vs 0.55 thumbs-up
# is 0.2 sd), which is the scale of change a canary or an A/B test is run to find.
TAU_SD = 0.2


@dataclass(frozen=True)
class Comparison:
    difference: float  # b - a
    low: float  # the always-valid confidence sequence at this point, 1 - alpha
    high: float
    p_value: float  # this point's 1 / L (take the running minimum: AlwaysValid)


def compare(
    a: ClusteredMean, b: ClusteredMean, *, alpha: float = 0.05, tau: float | None = None
) -> Comparison:
    """This moment's comparison of ``b`` with ``a``; each needs two units."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    v = a.variance_of_mean + b.variance_of_mean
    d = b.mean - a.mean
    if tau is None:
        tau = TAU_SD * _pooled_sd(a, b)
    tau2 = tau * tau
    if v <= 0 or tau2 <= 0:
        # Every observation alike: no evidence either way, and no width to the interval.
        return Comparison(d, d, d, 1.0)
    log_l = 0.5 * math.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
    p_value = 1.0 if log_l <= 0 else math.exp(-log_l)
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    return Comparison(d, d - half, d + half, min(1.0, p_value))


def _pooled_sd(a: ClusteredMean, b: ClusteredMean) -> float:
    """One observation's standard deviation, both arms pooled (per request)."""
    # V_mean * n estimates one observation's variance, inflated by the clustering,
    # which is what tau is measured against.
    return math.sqrt(max((a.variance_of_mean * a.n + b.variance_of_mean * b.n) / 2, 0.0))


class AlwaysValid:
    """The running always-valid p-value and the narrowest confidence sequence of two
    arms watched as their observations arrive (``update`` after each, or as often as
    wanted: skipping looks never costs validity, only power)."""

    def __init__(self, *, alpha: float = 0.05, tau: float | None = None) -> None:
        self.alpha = alpha
        self.tau = tau
        self.p_value = 1.0
        self.low = -math.inf
        self.high = math.inf

    def update(self, a: ClusteredMean, b: ClusteredMean) -> Comparison:
        now = compare(a, b, alpha=self.alpha, tau=self.tau)
        self.p_value = min(self.p_value, now.p_value)
        # The intersection of the sequence so far is itself valid.
        self.low = max(self.low, now.low)
        self.high = min(self.high, now.high)
        return now

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha
