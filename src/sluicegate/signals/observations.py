"""One request's value of each behaviour metric, read from its ledger row.

The model card's figures and the drift tests read the same values, from here:
a metric a request says nothing about (an error has no output length, a
request without a contract no validity) is None.
"""

from __future__ import annotations

from collections.abc import Callable

from sluicegate.state.behaviour_store import SignalRow

# A contract verdict that gave the client a valid answer.
VALID_CONTRACT = frozenset({"valid", "repaired", "reasked"})


def answered(row: SignalRow) -> bool:
    """An upstream answered it (not an error, not a stored answer)."""
    return row.status < 400 and row.target is not None and row.cache != "hit"


def _output_tokens(row: SignalRow) -> float | None:
    return float(row.output_tokens) if answered(row) else None


def _latency(row: SignalRow) -> float | None:
    return row.latency_ms if row.cache != "hit" else None


def _refusal(row: SignalRow) -> float | None:
    return float(row.refusal) if answered(row) else None


def _length(row: SignalRow) -> float | None:
    return float(row.finish_reason == "length") if answered(row) else None


def _error(row: SignalRow) -> float | None:
    return float(row.status >= 500)


def _contract_valid(row: SignalRow) -> float | None:
    return None if row.contract is None else float(row.contract in VALID_CONTRACT)


# By the drift metric's name (sluicegate.drift.Metric); feedback is read apart, by name.
OBSERVE: dict[str, Callable[[SignalRow], float | None]] = {
    "output_tokens": _output_tokens,
    "latency_ms": _latency,
    "refusal_rate": _refusal,
    "length_finish_rate": _length,
    "error_rate": _error,
    "contract_valid_rate": _contract_valid,
}
