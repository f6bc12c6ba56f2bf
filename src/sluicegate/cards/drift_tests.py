"""The drift tests of one alias: each metric's window against its baseline.

Each metric's sequential detector (:mod:`sluicegate.drift`) reads the window's
requests in order, as it would have watching them arrive, so its verdict holds
under continuous monitoring; the fixed-sample p-value printed beside it is for
people to read, not what raises the alert. A baseline too small to test
against is said so instead of tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sluicegate.cards.spans import Span, Spans
from sluicegate.drift import Baseline, Detector, Kind, Metric, compare
from sluicegate.signals.observations import OBSERVE

# The metrics read from ledger rows, in the order the card lists them.
ROW_METRICS = (
    Metric.OUTPUT_TOKENS,
    Metric.LATENCY_MS,
    Metric.REFUSAL_RATE,
    Metric.LENGTH_FINISH_RATE,
    Metric.ERROR_RATE,
    Metric.CONTRACT_VALID_RATE,
)


@dataclass(frozen=True)
class DriftResult:
    metric: str  # the drift metric, or feedback:NAME
    baseline: float | None
    current: float | None
    test: str | None  # the sequential test, None: not tested
    p_value: float | None
    alert: bool
    direction: str | None = None
    at: float | None = None  # the ts of the request whose observation raised the alarm
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metric": self.metric,
            "baseline": _round(self.baseline),
            "current": _round(self.current),
            "test": self.test,
            "p_value": None if self.p_value is None else float(f"{self.p_value:.4g}"),
            "alert": self.alert,
        }
        if self.direction is not None:
            out["direction"] = self.direction
        if self.note is not None:
            out["note"] = self.note
        return out


def drift_results(spans: Spans) -> list[DriftResult]:
    results = []
    for metric in ROW_METRICS:
        observe = OBSERVE[metric.value]
        before = [(r.ts, observe(r)) for r in spans.baseline.rows]
        after = [(r.ts, observe(r)) for r in spans.window.rows]
        if metric is Metric.CONTRACT_VALID_RATE and not _any(before) and not _any(after):
            continue  # the alias has no contract
        results.append(_tested(metric.value, metric, before, after, spans.note))
    for name in _feedback_names(spans.baseline, spans.window):
        before = [(ts, score) for n, score, ts in spans.baseline.feedback if n == name]
        after = [(ts, score) for n, score, ts in spans.window.feedback if n == name]
        results.append(_tested(f"feedback:{name}", Metric.FEEDBACK, before, after, spans.note))
    return results


def _tested(
    label: str,
    metric: Metric,
    before: list[tuple[float, float | None]],
    after: list[tuple[float, float | None]],
    note: str | None,
) -> DriftResult:
    baseline = Baseline.of(metric, (v for _, v in before))
    window = Baseline.of(metric, (v for _, v in after))
    why_not = note or baseline.insufficient
    if why_not is not None:
        return DriftResult(label, baseline.figure, window.figure, None, None, False,
                           note=why_not)
    detector = Detector.for_baseline(baseline)
    alarm = None
    for ts, value in after:
        if value is not None and (alarm := detector.feed(value)) is not None:
            alarm_at = ts
            break
    p_value = None
    if window.n >= 2:
        p_value = compare(baseline, window).p_value
    test = "bernoulli_cusum" if metric.kind is Kind.PROPORTION else "cusum"
    if alarm is None:
        return DriftResult(label, baseline.figure, window.figure, test, p_value, False)
    return DriftResult(
        label, alarm.baseline, alarm.current, test, p_value, True,
        direction=alarm.direction.value, at=alarm_at,
    )


def _any(values: list[tuple[float, float | None]]) -> bool:
    return any(v is not None for _, v in values)


def _feedback_names(*spans: Span) -> list[str]:
    return sorted({name for span in spans for name, _, _ in span.feedback})


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
