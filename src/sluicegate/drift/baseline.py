"""A metric's baseline: the summary of a finite sample of its observations.

The tests compare new traffic with figures estimated from a baseline sample
(an alias's first N requests, or its previous 7 days), not with known truths.
A :class:`Baseline` therefore carries the sample's size along with its mean and
standard deviation (or event count), so that the detectors can allow for the
estimate's error, and it says when the sample is too small to test against at
all (:attr:`Baseline.insufficient`): a rate of 2 % estimated from 300 requests
rests on 6 events and could as well be 1 % or 4 %.

The same summary serves for any sample: the model card's current window is
summarised the same way and compared with :func:`sluicegate.drift.pvalues.compare`.
It is built from the values (:meth:`Baseline.of`) or from sufficient statistics
that a database can compute (:meth:`Baseline.from_moments`,
:meth:`Baseline.from_counts`). All figures except :attr:`Baseline.figure` are on
the tests' scale (``log1p`` for output tokens and latency, see
:mod:`sluicegate.drift.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sluicegate.drift.metrics import Kind, Metric, natural, observation

MIN_MEAN_OBSERVATIONS = 200
"""The fewest observations a mean's baseline is tested against. The detectors widen
their reference value by two standard errors of the baseline's mean, ``2/sqrt(n)``
baseline deviations (see :mod:`sluicegate.drift.detectors`); at 200 that is 0.14,
already more than the output length's design reference of 0.1, so that a smaller baseline would
leave a chart that only sees shifts several times larger than the ones it is meant
to catch. 200 is also where a sample's deviation is known to about 5 %."""

MIN_EVENTS = 10
"""The fewest events, and the fewest non-events, a rate's baseline is tested against.
The detectors hold a rate's up chart to the top of the baseline rate's Wilson
interval (two standard errors): at 10 events that is 1.8 times the estimate, so the
chart, looking for a doubling from there, sees changes of about x4 (the goals'
shifts are x5 and more). With fewer the interval's top runs away (2 % of 300 is
6 events: x2.2; 3 events: x2.9) and the chart would look only for changes
the card's figures already shout; the card says "insufficient" instead. Both
sides count because a rate near 1 (contracts valid 99 %) is estimated from its few
failures."""


@dataclass(frozen=True, slots=True)
class Baseline:
    """The summary of a sample of one metric's observations.

    ``mean`` and ``sd`` are on the tests' scale; for a rate, ``mean`` is the rate,
    ``sd`` is ``sqrt(rate * (1 - rate))`` and ``events`` the count of 1s. An empty
    sample has ``n == 0``, ``mean == sd == 0`` and is :attr:`insufficient`.
    """

    metric: Metric
    n: int
    mean: float
    sd: float
    events: int | None = None

    @classmethod
    def of(cls, metric: Metric, values: Iterable[float | None]) -> Baseline:
        """The baseline of raw values (``None`` = the request has no such value,
        skipped). Raises ``ValueError`` for a value :func:`observation` refuses."""
        xs = [observation(metric, v) for v in values if v is not None]
        if metric.kind is Kind.PROPORTION:
            return cls.from_counts(metric, len(xs), int(sum(xs)))
        if not xs:
            return cls(metric, 0, 0.0, 0.0)
        # Two passes with fsum: exact enough that a constant sample has sd 0.
        mean = math.fsum(xs) / len(xs)
        var = math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
        return cls(metric, len(xs), mean, math.sqrt(var))

    @classmethod
    def from_moments(
        cls, metric: Metric, n: int, total: float, total_of_squares: float
    ) -> Baseline:
        """A mean's baseline from the count, sum and sum of squares of the
        observations ON THE TESTS' SCALE, i.e. of ``observation(metric, x)``
        (``ln(1 + x)`` for output tokens and latency), as a query computes them."""
        if metric.kind is not Kind.MEAN:
            raise ValueError(f"{metric} is a rate: use Baseline.from_counts")
        _check_count(metric, n)
        for name, figure in (("total", total), ("total_of_squares", total_of_squares)):
            if not math.isfinite(figure):
                raise ValueError(f"{metric}: {name} {figure!r} is not a finite number")
        if n == 0:
            return cls(metric, 0, 0.0, 0.0)
        mean = total / n
        # Rounding can make the difference slightly negative for a constant sample.
        var = max(0.0, (total_of_squares - total * mean) / (n - 1)) if n > 1 else 0.0
        if var <= 1e-12 * max(1.0, mean * mean):
            var = 0.0
        return cls(metric, n, mean, math.sqrt(var))

    @classmethod
    def from_counts(cls, metric: Metric, n: int, events: int) -> Baseline:
        """A rate's baseline from ``events`` 1s among ``n`` observations."""
        if metric.kind is not Kind.PROPORTION:
            raise ValueError(f"{metric} is a mean: use Baseline.from_moments or Baseline.of")
        _check_count(metric, n)
        if isinstance(events, bool) or not isinstance(events, int) or not 0 <= events <= n:
            raise ValueError(f"{metric}: events must be an integer in 0..{n}, not {events!r}")
        rate = events / n if n else 0.0
        return cls(metric, n, rate, math.sqrt(rate * (1 - rate)), events)

    @property
    def insufficient(self) -> str | None:
        """Why this sample cannot be tested against (for the card to print instead of
        a verdict), or ``None`` when it can."""
        if self.events is not None:
            fewer = min(self.events, self.n - self.events)
            if fewer < MIN_EVENTS:
                return (
                    f"{self.events} events in {self.n} observations: a rate needs at least "
                    f"{MIN_EVENTS} events and {MIN_EVENTS} non-events to be tested against"
                )
            return None
        if self.n < MIN_MEAN_OBSERVATIONS:
            return (
                f"{self.n} observations: a mean needs at least {MIN_MEAN_OBSERVATIONS} "
                "to be tested against"
            )
        if self.sd == 0:
            return (
                f"every one of the {self.n} observations is the same: "
                "nothing to scale a shift by"
            )
        return None

    @property
    def sufficient(self) -> bool:
        return self.insufficient is None

    @property
    def figure(self) -> float | None:
        """The level on the metric's own scale, for people (``None`` when empty): the
        rate, the feedback mean, or for output tokens and latency the geometric mean
        (see :func:`sluicegate.drift.metrics.natural`)."""
        return natural(self.metric, self.mean) if self.n else None

    @property
    def standard_error(self) -> float:
        """The standard error of :attr:`mean` (``inf`` when empty)."""
        return self.sd / math.sqrt(self.n) if self.n else math.inf

    def rate_interval(self, z: float) -> tuple[float, float]:
        """Wilson's score interval for a rate at ``z`` standard errors: unlike
        ``rate +- z*se`` it stays inside (0, 1) and is not zero-width at few events."""
        if self.events is None:
            raise ValueError(f"{self.metric} is a mean: it has no rate interval")
        if self.n == 0:
            return 0.0, 1.0
        n, p = self.n, self.mean
        centre = p + z * z / (2 * n)
        spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        scale = 1 + z * z / n
        return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def _check_count(metric: Metric, n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{metric}: n must be a non-negative integer, not {n!r}")
