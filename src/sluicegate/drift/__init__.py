"""Drift: whether an alias's behaviour has moved away from its baseline.

A pure library of statistics, no I/O: the metrics and how a request's value is
read (:mod:`.metrics`), a baseline's summary and whether it can be tested
against (:mod:`.baseline`), the sequential tests fed one request at a time
(:mod:`.detectors`) and the fixed-sample p-values the model card prints beside
them (:mod:`.pvalues`). ``bench/drift.py`` measures the detectors.
"""

from sluicegate.drift.baseline import MIN_EVENTS, MIN_MEAN_OBSERVATIONS, Baseline
from sluicegate.drift.detectors import (
    GUARD_Z,
    H_MEAN,
    H_PROPORTION,
    ODDS_RATIO,
    REFERENCE,
    Alarm,
    Detector,
    Direction,
    InsufficientBaseline,
)
from sluicegate.drift.metrics import Kind, Metric, natural, observation
from sluicegate.drift.pvalues import (
    Comparison,
    compare,
    normal_two_sided,
    student_t_two_sided,
    two_proportion_z,
    welch_t,
)

__all__ = [
    "GUARD_Z",
    "H_MEAN",
    "H_PROPORTION",
    "MIN_EVENTS",
    "MIN_MEAN_OBSERVATIONS",
    "ODDS_RATIO",
    "REFERENCE",
    "Alarm",
    "Baseline",
    "Comparison",
    "Detector",
    "Direction",
    "InsufficientBaseline",
    "Kind",
    "Metric",
    "compare",
    "natural",
    "normal_two_sided",
    "observation",
    "student_t_two_sided",
    "two_proportion_z",
    "welch_t",
]
