"""Watching every alias for drift, and raising a ``drift`` alert when one shifts.

Every ``interval_s`` each alias's most recent requests (``window_requests``,
or :data:`MONITOR_WINDOW`) are tested against its baseline, as the model card
tests them (:mod:`sluicegate.cards.drift_tests`): the sequential detectors read
them in arrival order, so a check every few seconds is continuous monitoring
without the false alarms of repeated fixed-sample tests. Each replica runs the
same tests over the same shared ledger; an alert's key (alias, metric,
direction, the baseline, and for a rolling baseline the day) makes it one alert
for all of them, raised again only against a new baseline or on a new day.

A baseline changes slowly (the 7 days before the last day; or fixed, the first
N requests), so it is read once and kept for :data:`BASELINE_TTL_S`, or until
its start moves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sluicegate.cards.drift_tests import DriftResult, drift_results
from sluicegate.cards.spans import Baseline, Spans, baseline_of, window_of
from sluicegate.config.schema import DriftConfig
from sluicegate.observability.alerts import Alerts
from sluicegate.state.behaviour_store import BehaviourStore

log = logging.getLogger("sluicegate.drift")

# The requests tested each check when window_requests is not set.
MONITOR_WINDOW = 5_000
BASELINE_TTL_S = 600.0
INTERVAL_S = 15.0


class DriftMonitor:
    interval_s = INTERVAL_S

    def __init__(
        self,
        store: BehaviourStore,
        alerts: Alerts,
        aliases: Callable[[], list[str]],
        drift: Callable[[], DriftConfig],
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._aliases = aliases
        self._drift = drift
        # alias -> (its baseline, when it was read)
        self._baselines: dict[str, tuple[Baseline, float]] = {}

    async def start(self, now: float) -> None:
        """With ``baseline_requests``, an alias that has no baseline yet starts one now:
        its first N requests from this start are its baseline."""
        if self._drift().baseline_requests is None:
            return
        for alias in self._aliases():
            if await self._store.baseline_since(alias) is None:
                await self._store.set_baseline_since(alias, now)

    async def check(self, now: float | None = None) -> list[tuple[str, DriftResult]]:
        """Test every alias; the (alias, result) of each alert this check raised."""
        now = time.time() if now is None else now
        raised = []
        aliases = self._aliases()
        for gone in set(self._baselines) - set(aliases):
            del self._baselines[gone]
        for alias in aliases:
            try:
                for result in await self._tested(alias, now):
                    if result.alert and await self._alert(alias, result):
                        raised.append((alias, result))
            except Exception as exc:  # the store is down: the next check tries again
                log.warning("drift check of %s failed: %s", alias, exc)
        return raised

    async def _tested(self, alias: str, now: float) -> list[DriftResult]:
        drift = self._drift()
        baseline = await self._baseline(alias, drift, now)
        if baseline.note is not None:
            return []
        recent = drift.window_requests or MONITOR_WINDOW
        window = await window_of(self._store, alias, baseline, now, recent=recent)
        return drift_results(Spans(baseline.span, window))

    async def _baseline(self, alias: str, drift: DriftConfig, now: float) -> Baseline:
        kept = self._baselines.get(alias)
        if kept is not None:
            baseline, read_at = kept
            if drift.baseline_requests is None:
                # A rolling baseline is read again every BASELINE_TTL_S.
                if baseline.rolling and now - read_at < BASELINE_TTL_S:
                    return baseline
            elif (
                # N requests from a start that has not moved: fixed once full; one still
                # filling is read again each check.
                not baseline.rolling
                and (baseline.note is None or now - read_at < self.interval_s)
                and baseline.span.since == await self._store.baseline_since(alias)
            ):
                return baseline
        baseline = await baseline_of(self._store, alias, drift, now)
        self._baselines[alias] = (baseline, now)
        return baseline

    async def _alert(self, alias: str, result: DriftResult) -> bool:
        kept = self._baselines[alias][0]
        key = f"{alias}\x00{result.metric}\x00{result.direction}\x00{kept.key}"
        if kept.rolling and result.at is not None:
            key += f"\x00{int(result.at // 86_400)}"
        return await self._alerts.emit_once(
            key,
            "drift",
            f"{alias}: {result.metric} went {result.direction} from {result.baseline:.4g} "
            f"to {result.current:.4g} (sequential {result.test}; p={result.p_value:.3g})"
            if result.baseline is not None and result.current is not None
            and result.p_value is not None
            else f"{alias}: {result.metric} went {result.direction}",
            alias=alias,
            **result.as_dict(),
        )
