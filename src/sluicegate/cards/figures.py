"""The figures of a model card for one span of an alias's requests."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from sluicegate.signals.observations import VALID_CONTRACT, answered
from sluicegate.state.behaviour_store import SignalRow


def figures(rows: list[SignalRow], feedback: list[tuple[str, float, float]]) -> dict[str, Any]:
    """``rows`` in time order; ``feedback``: (name, score, request ts) of the same span."""
    served = [r for r in rows if answered(r)]
    upstream = [r for r in rows if r.cache != "hit"]
    with_contract = [r for r in rows if r.contract is not None]
    consulted = [r for r in rows if r.cache is not None]
    errors = Counter(r.error_code or str(r.status) for r in rows if r.status >= 400)
    by_name: dict[str, list[float]] = {}
    for name, score, _ in feedback:
        by_name.setdefault(name, []).append(score)
    lengths = sorted(float(r.output_tokens) for r in served)
    return {
        "requests": len(rows),
        "errors": dict(sorted(errors.items())),
        "error_rate": _rate(sum(r.status >= 500 for r in rows), len(rows)),
        "latency_ms": _percentiles(sorted(r.latency_ms for r in upstream)),
        "ttft_ms": _percentiles(sorted(r.ttft_ms for r in upstream if r.ttft_ms is not None)),
        "output_tokens": {
            "mean": _round(sum(lengths) / len(lengths)) if lengths else None,
            "p50": _quantile(lengths, 0.5),
            "p95": _quantile(lengths, 0.95),
        },
        "finish_reasons": dict(sorted(Counter(r.finish_reason for r in served
                                              if r.finish_reason).items())),
        "refusal_rate": _rate(sum(r.refusal for r in served), len(served)),
        "contract_valid_rate": _rate(
            sum(r.contract in VALID_CONTRACT for r in with_contract), len(with_contract)
        ),
        "cache_hit_rate": _rate(sum(r.cache == "hit" for r in consulted), len(consulted)),
        "cost_per_request_usd": (
            round(sum(r.cost_usd for r in rows) / len(rows), 10) if rows else None
        ),
        "served_models": dict(sorted(Counter(r.served_model for r in served
                                             if r.served_model).items())),
        "feedback": {
            name: {"n": len(scores), "mean": _round(sum(scores) / len(scores))}
            for name, scores in sorted(by_name.items())
        },
    }


def _percentiles(ordered: list[float]) -> dict[str, float | None]:
    return {
        "p50": _quantile(ordered, 0.5),
        "p95": _quantile(ordered, 0.95),
        "p99": _quantile(ordered, 0.99),
    }


def _quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank quantile: a value that occurred, never an interpolation."""
    if not ordered:
        return None
    return _round(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def _rate(events: int, n: int) -> float | None:
    return None if n == 0 else round(events / n, 6)


def _round(value: float) -> float:
    return round(value, 3)
