"""An alias's operational model card: what it did over a window, beside its
baseline, and whether it drifted."""

from __future__ import annotations

import time
from typing import Any

from sluicegate.cards.drift_tests import drift_results
from sluicegate.cards.figures import figures
from sluicegate.cards.spans import spans
from sluicegate.config.schema import DriftConfig
from sluicegate.state.behaviour_store import BehaviourStore


async def model_card(
    store: BehaviourStore,
    alias: str,
    targets: list[str],
    drift: DriftConfig,
    *,
    since: float | None = None,
    until: float | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    now = time.time() if now is None else now
    found = await spans(store, alias, drift, now, since=since, until=until)
    window = figures(found.window.rows, found.window.feedback)
    baseline = figures(found.baseline.rows, found.baseline.feedback)
    baseline["window"] = found.baseline.describe()
    card: dict[str, Any] = {
        "alias": alias,
        "targets": targets,
        "window": found.window.describe(),
        **window,
        "baseline": baseline,
        "drift": [result.as_dict() for result in drift_results(found)],
    }
    if found.note is not None:
        card["baseline_note"] = found.note
    return card
