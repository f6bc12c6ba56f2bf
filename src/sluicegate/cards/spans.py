"""Which requests are an alias's baseline and which its current window.

By default the window is the last day (or the ``since``/``until`` asked) and
the baseline the 7 days before it. With ``observability.drift.baseline_requests:
N`` the baseline is the alias's first N requests from its baseline start (the
first start with the setting, or ``POST /admin/models/{alias}/baseline``) and
the window every request after them. ``window_requests`` keeps only the most
recent that many of the window. Both read the shared ledger, so every replica
sees the same spans.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.config.schema import DriftConfig
from sluicegate.state.behaviour_store import BehaviourStore, SignalRow

DAY_S = 86_400.0
ROLLING = "rolling:"  # how a rolling baseline's key starts
WINDOW_S = DAY_S
BASELINE_S = 7 * DAY_S
# A rolling baseline is the most recent this many requests of its 7 days: the drift
# tests are measured with baselines of 2,000 to 100,000, and it is read every 10 min.
ROLLING_BASELINE_REQUESTS = 20_000


@dataclass(frozen=True)
class Span:
    since: float | None
    until: float | None
    rows: list[SignalRow]
    feedback: list[tuple[str, float, float]]  # (name, score, request ts)

    def describe(self) -> dict[str, object]:
        return {"since": self.since, "until": self.until, "requests": len(self.rows)}


@dataclass(frozen=True)
class Baseline:
    span: Span
    # Where the window may start: just after the baseline.
    window_from: float
    # Identifies this baseline (its start) for alerts raised against it.
    key: str
    # Why it cannot be tested against yet (too few requests), or None.
    note: str | None = None

    @property
    def rolling(self) -> bool:
        """The days before the window, not an alias's first N requests."""
        return self.key.startswith(ROLLING)


@dataclass(frozen=True)
class Spans:
    baseline: Span
    window: Span
    note: str | None = None


async def baseline_of(
    store: BehaviourStore,
    alias: str,
    drift: DriftConfig,
    now: float,
    window_since: float | None = None,
) -> Baseline:
    """The alias's baseline; ``window_since``: where the window asked for starts
    (default: a day before ``now``), which the rolling baseline ends at."""
    wanted = drift.baseline_requests
    if wanted is None:
        end = now - WINDOW_S if window_since is None else window_since
        span = await _span(store, alias, end - BASELINE_S, end, ROLLING_BASELINE_REQUESTS)
        return Baseline(span, end, key=f"{ROLLING}{int(end // DAY_S)}")
    start = await store.baseline_since(alias)
    if start is None:
        start = now
        await store.set_baseline_since(alias, start)
    rows = await store.signals(alias, start, None, first=wanted)
    if len(rows) < wanted:
        span = Span(start, None, rows, await store.feedback_scores(alias, start, None))
        note = f"the baseline has {len(rows)} of its {wanted} requests so far"
        return Baseline(span, now, key=f"requests:{start}", note=note)
    after = rows[-1].ts + 1e-6  # ts has microsecond precision
    span = Span(start, after, rows, await store.feedback_scores(alias, start, after))
    return Baseline(span, after, key=f"requests:{start}")


async def window_of(
    store: BehaviourStore,
    alias: str,
    baseline: Baseline,
    until: float,
    *,
    since: float | None = None,
    recent: int | None = None,
) -> Span:
    """The requests after the baseline (or from ``since``) up to ``until``; the most
    recent ``recent`` of them when given."""
    if baseline.note is not None:
        return Span(since, until, [], [])
    start = baseline.window_from if since is None else max(since, baseline.window_from)
    return await _span(store, alias, start, until, recent)


async def spans(
    store: BehaviourStore,
    alias: str,
    drift: DriftConfig,
    now: float,
    *,
    since: float | None = None,
    until: float | None = None,
) -> Spans:
    until = now if until is None else until
    window_since = since
    if drift.baseline_requests is None and window_since is None:
        window_since = until - WINDOW_S
    baseline = await baseline_of(store, alias, drift, now, window_since)
    window = await window_of(
        store, alias, baseline, until, since=window_since, recent=drift.window_requests
    )
    return Spans(baseline.span, window, baseline.note)


async def _span(
    store: BehaviourStore, alias: str, since: float, until: float | None, recent: int | None
) -> Span:
    rows = await store.signals(alias, since, until, last=recent)
    if recent is not None and len(rows) == recent:
        since = rows[0].ts  # the window is the most recent requests: it starts at the first
    return Span(since, until, rows, await store.feedback_scores(alias, since, until))
