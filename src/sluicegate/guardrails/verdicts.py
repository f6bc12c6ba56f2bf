"""What each guardrail did to one request: for the header, the ledger and the metric."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import Metric

from sluicegate.observability.metrics import counter

HEADER = "x-sluicegate-guardrails"

# Outcomes the client is told of (x-sluicegate-guardrails); shadow ones and failures
# that passed are for the ledger and the metric only.
_TOLD = frozenset({"flagged", "redacted"})


class Verdicts:
    __slots__ = ("results",)

    def __init__(self) -> None:
        self.results: list[tuple[str, str]] = []  # (guardrail, outcome), in order

    def add(self, guardrail: str, outcome: str) -> None:
        if (guardrail, outcome) not in self.results:
            self.results.append((guardrail, outcome))

    def header(self) -> str | None:
        told = [f"{g}={o}" for g, o in self.results if o in _TOLD]
        return ", ".join(told) or None

    def ledger(self) -> str | None:
        return ",".join(f"{g}={o}" for g, o in self.results) or None


class GuardrailMetrics:
    """Counts kept on the event loop, reported at scrape time (see observability.metrics).

    ``sluicegate_guardrail_results_total{guardrail, action, outcome}``: every check,
    outcome ``pass``, ``hit``, ``shadow_hit`` or ``error``; the labels come from the
    configured guardrails only. ``sluicegate_guardrail_judge_calls_total{guardrail}``:
    texts a moderation judge was asked about because the local classifier was unsure.
    """

    def __init__(self) -> None:
        self.results: Counter[tuple[str, str, str]] = Counter()
        self.judged: Counter[tuple[str]] = Counter()

    def count(self, guardrail: str, action: str, outcome: str) -> None:
        self.results[(guardrail, action, outcome)] += 1

    def metrics(self) -> Iterator[Metric]:
        yield counter(
            "sluicegate_guardrail_results",
            "Guardrail checks, by guardrail, action and outcome (pass, hit, shadow_hit, error).",
            ["guardrail", "action", "outcome"],
            self.results.items(),
        )
        yield counter(
            "sluicegate_guardrail_judge_calls",
            "Texts a moderation judge alias was asked about (the local classifier was unsure).",
            ["guardrail"],
            self.judged.items(),
        )
