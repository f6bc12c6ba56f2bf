"""The seven behaviour metrics that drift is tested on, and how one request's value
becomes the number the tests read.

Each request contributes at most one observation to each metric; a metric a
request has nothing to say about (no feedback given, no contract, an error
that has no output length) is missing, passed as ``None`` and skipped.

Output tokens and latency are heavy-tailed: a few long answers and slow
retries carry most of the variance, so a mean and a standard deviation of the
raw values are dominated by them, and a test standardized by that deviation is
both slow (the deviation is large) and fragile (one outlier moves it). Both are
close to lognormal in practice (lengths multiply: more content, more tokens
per idea; latency is time to first token plus a per-token cost), so they are
tested on ``log1p``: there they are near-normal, a multiplicative change such
as "+30 % longer answers" is a shift of ``log(1.3)`` whatever the alias's usual
length, and a sum and a sum of squares of ``log1p`` values (what SQL can
compute) are all a baseline needs. ``log1p`` rather than ``log`` so that an
answer of zero tokens is still a value. A robust location (median, MAD) would
need every baseline value rather than three sums, and on the log scale it
buys little: the log has already tamed the tail.

Feedback (thumbs 0/1, ratings 1-5) is bounded, so it is tested as it is.
The four rates are proportions of 0/1 observations.
"""

from __future__ import annotations

import math
from enum import StrEnum


class Kind(StrEnum):
    """Which family of tests a metric takes."""

    MEAN = "mean"
    PROPORTION = "proportion"


class Metric(StrEnum):
    """A behaviour metric, named as the model card names it."""

    OUTPUT_TOKENS = "output_tokens"  # per answered request
    LATENCY_MS = "latency_ms"
    FEEDBACK = "feedback"  # a numeric feedback value, where one was given
    REFUSAL_RATE = "refusal_rate"  # per answered request
    LENGTH_FINISH_RATE = "length_finish_rate"  # finish_reason "length", per answered request
    ERROR_RATE = "error_rate"  # status >= 500 or an upstream error, per request
    CONTRACT_VALID_RATE = "contract_valid_rate"  # among requests with a contract

    @property
    def kind(self) -> Kind:
        return Kind.MEAN if self in _MEANS else Kind.PROPORTION

    @property
    def log_scale(self) -> bool:
        """Whether the tests read ``log1p`` of the value (the heavy-tailed metrics)."""
        return self in _LOG_SCALE


_MEANS = frozenset({Metric.OUTPUT_TOKENS, Metric.LATENCY_MS, Metric.FEEDBACK})
_LOG_SCALE = frozenset({Metric.OUTPUT_TOKENS, Metric.LATENCY_MS})


def observation(metric: Metric, value: float) -> float:
    """The number the tests read for one request's ``value`` of ``metric``.

    Proportions take ``True``/``False`` (or 1/0) and read 1.0/0.0; output tokens and
    latency read ``log1p(value)``; feedback reads the value. Anything else is a
    caller's bug and raises ``ValueError`` naming the metric: NaN, infinities, a
    negative length or latency, a rate's value other than 0 or 1.
    """
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, int | float):
        raise ValueError(f"{metric}: {value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{metric}: {value!r} is not a finite number")
    if metric.kind is Kind.PROPORTION:
        if value not in (0, 1):
            raise ValueError(f"{metric}: a rate's observation is True/False (1/0), not {value!r}")
        return float(value)
    if metric.log_scale:
        if value < 0:
            raise ValueError(f"{metric}: {value!r} is negative")
        return math.log1p(value)
    return float(value)


def natural(metric: Metric, level: float) -> float:
    """A level on the tests' scale (a mean of :func:`observation` values) back on the
    metric's own: for output tokens and latency ``expm1`` of the mean of ``log1p``,
    the geometric mean, which for a lognormal is its median."""
    return math.expm1(level) if metric.log_scale else level
