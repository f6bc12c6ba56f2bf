"""Budget periods and the counters that hold a budget's spend.

Budgets are integers in micro-dollars (no float drift), one counter per
subject and UTC calendar period (day, ISO week starting Monday, month, or
``total``), holding reserved plus spent. A reservation is settled in the period
it was reserved in, even if the request ends after the boundary, because its
ticket keeps the counter's name.

Every limiter, and the budget rebuild from the ledger, names the counters
through this module, so they all agree on which counter a request's cost is in.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Literal

__all__ = [
    "BUDGET_RETENTION_S",
    "MICRO_PER_USD",
    "Period",
    "budget_counter",
    "budget_key",
    "budget_period_start",
    "usd_to_micro",
]

Period = Literal["day", "week", "month", "total"]

BUDGET_RETENTION_S = 40 * 86400
"""How long a budget counter outlives its period (for ``spent`` on recent periods)."""

MICRO_PER_USD = 1_000_000
_PERIODS: dict[str, Period] = {"day": "day", "week": "week", "month": "month", "total": "total"}


def usd_to_micro(usd: float) -> int:
    return round(usd * MICRO_PER_USD)


def budget_period_start(period: Period, now: float) -> tuple[str, float | None]:
    """The UTC calendar period containing ``now``: (its label, its end as unix
    seconds, or None for ``total``). Weeks start on Monday."""
    # Every period starts at a UTC midnight, so the answer only changes daily.
    return _period_of_day(period, int(now // 86400))


@functools.lru_cache(maxsize=64)
def _period_of_day(period: Period, day_index: int) -> tuple[str, float | None]:
    if period == "total":
        return "total", None
    day = datetime.fromtimestamp(day_index * 86400, UTC)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else (start.replace(month=start.month + 1))
        )
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(f"unknown budget period {period!r}")
    return start.date().isoformat(), end.timestamp()


def budget_key(subject: str, period: str, now: float) -> str:
    """The counter of ``subject``'s budget for the ``period`` containing ``now``."""
    known = _PERIODS.get(period)
    if known is None:
        raise ValueError(f"unknown budget period {period!r}")
    label, _ = budget_period_start(known, now)
    return budget_counter(subject, known, label)


def budget_counter(subject: str, period: Period, label: str) -> str:
    """The counter of ``subject``'s budget for the period labelled ``label`` (by
    :func:`budget_period_start`), for callers that also need the period's end."""
    return f"budget:{subject}:{period}:{label}"
