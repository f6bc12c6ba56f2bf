"""Sequential drift tests: a two-sided CUSUM per metric, fed one request at a time.

Why CUSUM: a monitor looks at every request, forever. Repeating a fixed-sample
test on a sliding window would raise a false alarm every few windows at any
usual significance level, because it asks the question again and again. A
CUSUM accumulates evidence for a change and forgets it when the data argue
against one; its false alarms are governed by the average run length between
them in steady traffic (ARL0), which its threshold sets, and among tests with
the same ARL0 it detects the shift it is designed for the soonest (Lorden 1971,
Moustakides 1986).

Each metric has two one-sided charts, ``up`` and ``down``; each is a running sum
``S = max(0, S + score(x))`` that alarms when ``S > threshold``. The scores:

- Means (output tokens and latency on ``log1p``, feedback as is; see
  :mod:`sluicegate.drift.metrics`): the observation standardized by the baseline,
  ``z = (x - mean) / sd``, minus a reference value ``k``: ``z - k`` up, ``-z - k``
  down. ``k`` is half the smallest shift worth an alarm, in baseline deviations.
- Rates: Page's Bernoulli CUSUM, the log-likelihood ratio of one observation
  under the rate the chart looks for, ``p1``, against the baseline's, ``p0``:
  ``log(p1/p0)`` for an event, ``log((1-p1)/(1-p0))`` for a non-event. ``p1`` is
  the baseline's odds multiplied (up) or divided (down) by :data:`ODDS_RATIO`, a
  scale that treats 2 % -> 4 % and 99 % -> 98 % valid alike.

The baseline's figures are estimates, and a chart held to an estimate that
happens to be low by one standard error alarms on steady traffic far sooner
than its design says (the ARL0 falls exponentially with the error). Each chart
therefore stands :data:`GUARD_Z` standard errors of the baseline further away
from the traffic it watches: the reference of a mean's charts is
``REFERENCE[metric] + GUARD_Z / sqrt(n)`` and its deviation is read ``GUARD_Z`` standard
errors high; a rate's up chart takes ``p0`` at the top of the baseline rate's
Wilson interval and its down chart at the bottom. With probability 0.98 each
(one-sided, normal) the chart's true reference is then at least its design's,
so an alias whose baseline happened to be unlucky does not alarm all week; the
price is slower detection when the baseline is small, which is what a small
baseline costs. The thresholds are set for the design's reference itself, where
a chart stands when its baseline is very large (or off by the full guard), so
that a larger baseline never means more false alarms than the budget.

The constants were chosen with the approximations noted on each, then checked
and adjusted by simulation: ``bench/drift.py --seed-base 0`` (the tuning seeds;
the README's figures come from other seeds), which also measures the goals:
refusals 2 % -> 10 % within 1,000 requests, output length +30 % within 500, and
at most one false alarm per 50,000 steady requests over all seven metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sluicegate.drift.baseline import Baseline
from sluicegate.drift.metrics import Kind, Metric, natural, observation

GUARD_Z = 2.0
"""How many standard errors of the baseline each chart allows for (see above): a
one-sided 98 % guarantee that the chart is no more trigger-happy than designed."""

REFERENCE: Mapping[Metric, float] = MappingProxyType({
    Metric.OUTPUT_TOKENS: 0.1,
    Metric.LATENCY_MS: 0.2,
    Metric.FEEDBACK: 0.1,
})
"""A mean's reference value ``k``, in baseline deviations: half the smallest shift
worth an alarm. Output length 0.1: shifts under 0.2 deviations (on ``log1p``,
about 17 % at the usual deviation of 0.8) are not drift, and with the guard added
(0.03 at 5,000 baseline requests) the reference is near half the +30 % goal's
shift (0.30 deviations in the bench's traffic), which detects it soonest; the
delay is flat around that choice and a smaller reference spreads it less.
Latency 0.2 (under 0.4 deviations, about +30 % at a deviation of 0.75, is the
weather of a provider's load, not drift): latency moves with load all day, its log
has a retry tail, and the +50 % goal is large, so its charts are set to see only
large shifts and spend almost none of the false-alarm budget. Feedback 0.1: rated
answers are few, so its charts see few observations and cost little."""

H_MEAN = 42.0
"""A mean's threshold, in baseline deviations. Siegmund's approximation of the
in-control average run length, ``ARL0 = (exp(2kb) - 2kb - 1) / (2k^2)`` with
``b = h + 1.166``, gives 280,000 observations per one-sided chart at ``k = 0.1``,
which is where a chart stands when its baseline is very large (the guard vanishes)
or off by the full guard: so 0.4 false alarms per 50,000 requests from the two
output-length charts however large the baseline (0.44 for all seven metrics at
a 100,000-request baseline on the tuning seeds, 0.32 on others), and fewer with
a smaller one (k = 0.13 at 5,000: 2 million). The +30 % length shift then takes
about 210 requests (h over its climb of 0.18 a request at 5,000 baseline
requests). Chosen on the tuning seeds
between 38 (0.59 false alarms per 50,000 requests at a 20,000-request baseline,
heading past 1 for larger ones, when latency still had k = 0.1) and 45 (the length
goal missed in 2 of 50 runs)."""

ODDS_RATIO = 2.0
"""The change in a rate's odds each rate chart is designed for: a doubling
(2 % -> 4 %, 99 % -> 98 % valid). The goals' shifts are all larger (odds x5 to
x11), and a chart designed for a smaller change still catches a larger one quickly,
whereas one designed for a larger change is slow to see a smaller one."""

H_PROPORTION = 8.0
"""A rate's threshold, in units of log-likelihood ratio. Lorden's bound guarantees
an ARL0 of at least ``exp(8)`` = 3,000 observations whatever the rate; the Markov
chain of the Bernoulli CUSUM (the chart's exact run length) gives far more at the
rates an alias usually has: for a 2 % rate 18 million observations at a typical
5,000-request baseline and 520,000 at the guard's edge, for 1 % over 10^8 and
950,000. A rate near one half is the weak case: 220,000 and 72,000 at 30 %.
2 % -> 10 % refusals then take about 180 requests, 0.5 % -> 3 % errors about 600
(on the tuning seeds, 3 to 5 false alarms in 5 million requests for the four
rates together at 5,000 to 20,000 baseline requests, 7 in 2.5 million at 100,000)."""


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Alarm:
    """A detected shift.

    ``index`` is the 0-based number of the observation that raised it, counted from
    the detector's start or last :meth:`Detector.reset` (missing values do not
    count); ``changed_at`` the number of the first observation since the chart last
    stood at zero, the CUSUM's estimate of where the change began. ``baseline`` and
    ``current`` are on the metric's own scale (see :attr:`Baseline.figure`),
    ``current`` estimated from the observations since ``changed_at``.
    """

    metric: Metric
    direction: Direction
    index: int
    changed_at: int
    baseline: float
    current: float
    statistic: float
    threshold: float


class InsufficientBaseline(ValueError):
    """The baseline is too small to test against; ``str()`` says why."""


class _Chart:
    """One one-sided CUSUM whose score is linear in the observation:
    ``S = max(0, S + intercept + slope * x)``. Both the standardized mean's and the
    Bernoulli log-likelihood ratio's scores are of this form."""

    __slots__ = ("count", "intercept", "slope", "statistic", "total")

    def __init__(self, intercept: float, slope: float) -> None:
        self.intercept = intercept
        self.slope = slope
        self.statistic = 0.0
        self.count = 0  # observations since the statistic last stood at 0
        self.total = 0.0  # and their sum, for the current level's estimate

    def update(self, x: float) -> float:
        s = self.statistic + self.intercept + self.slope * x
        if s > 0.0:
            self.statistic = s
            self.count += 1
            self.total += x
        else:
            self.statistic = 0.0
            self.count = 0
            self.total = 0.0
        return self.statistic

    def clear(self) -> None:
        self.statistic = 0.0
        self.count = 0
        self.total = 0.0


class Detector:
    """The two-sided sequential test of one metric against its baseline.

    Build it with :meth:`for_baseline`; :meth:`feed` it each request's value in
    order. After an alarm both charts start again from zero, so that a lasting
    shift alarms again only on new evidence (the monitor decides what to do with
    repeated alarms); :meth:`reset` also restarts the observation count.
    """

    __slots__ = ("_down", "_index", "_up", "baseline", "metric", "test", "threshold")

    def __init__(self, baseline: Baseline, up: _Chart, down: _Chart, threshold: float,
                 test: str) -> None:
        self.metric = baseline.metric
        self.baseline = baseline
        self.threshold = threshold
        self.test = test  # a name for the card, e.g. "cusum(log1p)"
        self._up = up
        self._down = down
        self._index = 0

    @classmethod
    def for_baseline(cls, baseline: Baseline) -> Detector:
        """The detector of ``baseline.metric`` against ``baseline``; raises
        :class:`InsufficientBaseline` when the baseline cannot be tested against."""
        reason = baseline.insufficient
        if reason is not None:
            raise InsufficientBaseline(f"{baseline.metric}: {reason}")
        if baseline.metric.kind is Kind.MEAN:
            return cls._mean(baseline)
        return cls._rate(baseline)

    @classmethod
    def _mean(cls, baseline: Baseline) -> Detector:
        n = baseline.n
        scale = baseline.sd * (1 + GUARD_Z / math.sqrt(2 * (n - 1)))  # the sd's own error
        k = REFERENCE[baseline.metric] + GUARD_Z / math.sqrt(n)
        up = _Chart(-baseline.mean / scale - k, 1 / scale)
        down = _Chart(baseline.mean / scale - k, -1 / scale)
        test = "cusum(log1p)" if baseline.metric.log_scale else "cusum"
        return cls(baseline, up, down, H_MEAN, test)

    @classmethod
    def _rate(cls, baseline: Baseline) -> Detector:
        low, high = baseline.rate_interval(GUARD_Z)
        return cls(baseline, _bernoulli(high, ODDS_RATIO), _bernoulli(low, 1 / ODDS_RATIO),
                   H_PROPORTION, "bernoulli cusum")

    @property
    def statistic(self) -> float:
        """The larger of the two charts' statistics (alarm when above :attr:`threshold`)."""
        return max(self._up.statistic, self._down.statistic)

    @property
    def observations(self) -> int:
        """Observations fed since the start or the last :meth:`reset`."""
        return self._index

    def feed(self, value: float | None) -> Alarm | None:
        """Take one request's value (``None``: it has none, nothing happens) and return
        the alarm it raises, if any. Raises ``ValueError`` for a value that is not
        one of the metric's (see :func:`sluicegate.drift.metrics.observation`)."""
        if value is None:
            return None
        x = observation(self.metric, value)
        index = self._index
        self._index = index + 1
        for chart, direction in ((self._up, Direction.UP), (self._down, Direction.DOWN)):
            if chart.update(x) > self.threshold:
                alarm = Alarm(
                    metric=self.metric,
                    direction=direction,
                    index=index,
                    changed_at=index - chart.count + 1,
                    baseline=natural(self.metric, self.baseline.mean),
                    current=natural(self.metric, chart.total / chart.count),
                    statistic=chart.statistic,
                    threshold=self.threshold,
                )
                self._up.clear()
                self._down.clear()
                return alarm
        return None

    def reset(self) -> None:
        """Forget everything fed so far (the baseline stays)."""
        self._up.clear()
        self._down.clear()
        self._index = 0


def _bernoulli(p0: float, odds_ratio: float) -> _Chart:
    """Page's Bernoulli CUSUM chart of ``p0`` against ``p0``'s odds times ``odds_ratio``:
    score ``log(p1/p0)`` for a 1, ``log((1-p1)/(1-p0))`` for a 0."""
    odds = p0 / (1 - p0) * odds_ratio
    p1 = odds / (1 + odds)
    on_event = math.log(p1 / p0)
    on_other = math.log((1 - p1) / (1 - p0))
    return _Chart(on_other, on_event - on_other)
