"""Month-end spend per tenant, projected from the ledger's daily spend, with an interval.

The projection is what is spent so far this month plus the expected spend of
the rest of it. The expected daily spend is a least-squares line through the
last :data:`HISTORY_DAYS` complete days (from the tenant's first day of spend
in that window), so a tenant whose spend grows is projected to keep growing;
with fewer than three days of history it is their mean, and with none, today's
pace. The interval is the line's prediction interval for the sum of the
remaining days (day-to-day noise plus the uncertainty of the line itself),
at :data:`INTERVAL` confidence, normal approximation.

When the projection crosses a tenant's monthly budget, :class:`ForecastAlerts`
logs it once per tenant (by its immutable id: a tenant created under a
deleted one's name is alerted about on its own) and month, for the whole
gateway, and counts it (``sluicegate_budget_forecast_alerts_total``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from prometheus_client.core import Metric

from sluicegate.observability.alerts import Alerts, usd
from sluicegate.observability.metrics import counter

HISTORY_DAYS = 28
INTERVAL = 0.9
_Z = 1.6449  # two-sided 90% of a normal distribution
DAY_S = 86400


@dataclass(frozen=True, slots=True)
class Forecast:
    tenant: str
    month: str  # YYYY-MM, UTC
    spent_usd: float  # so far this month
    forecast_usd: float  # projected for the whole month
    low_usd: float
    high_usd: float
    interval: float
    method: str  # "linear" | "mean" | "today"
    history_days: int
    daily_usd: float  # expected spend of the next whole day
    trend_usd_per_day: float  # the line's slope (0 for "mean" and "today")
    budget_usd: float | None  # the tenant's monthly budget, if it has one
    over_budget: bool  # the projection exceeds it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def month_bounds(now: float) -> tuple[float, float]:
    """Unix seconds of the first instant of this UTC month and of the next."""
    today = _date(now)
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return _ts(first), _ts(following)


def history_start(now: float) -> float:
    """How far back :func:`project` wants daily spend: this month or the history window."""
    today_start = _ts(_date(now))
    return min(month_bounds(now)[0], today_start - HISTORY_DAYS * DAY_S)


def project(
    tenant: str,
    daily: dict[str, float],
    now: float,
    *,
    budget_usd: float | None = None,
) -> Forecast:
    """Project month-end spend from ``daily`` spend ({"YYYY-MM-DD": usd}) up to ``now``."""
    month_start, month_end = month_bounds(now)
    today = _date(now)
    today_start = _ts(today)
    spent = sum(v for day, v in daily.items() if month_start <= _ts(_parse(day)) <= today_start)
    # Complete days of history, from the first with any spend.
    days = [today - dt.timedelta(days=i) for i in range(HISTORY_DAYS, 0, -1)]
    series = [daily.get(d.isoformat(), 0.0) for d in days]
    while series and series[0] == 0.0:
        series.pop(0)
    n = len(series)
    today_fraction_left = (today_start + DAY_S - now) / DAY_S
    whole_days_left = round((month_end - (today_start + DAY_S)) / DAY_S)
    # Future positions on the history's x axis (history days are 0..n-1, today n),
    # each weighted by how much of it is still to come.
    future = [(float(n), today_fraction_left)] + [
        (float(n + j), 1.0) for j in range(1, whole_days_left + 1)
    ]
    weight = sum(w for _, w in future)

    if n >= 3:
        method = "linear"
        xs = list(range(n))
        x_mean = sum(xs) / n
        y_mean = sum(series) / n
        sxx = sum((x - x_mean) ** 2 for x in xs)
        slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, series, strict=True)) / sxx
        intercept = y_mean - slope * x_mean
        residual = sum(
            (y - (intercept + slope * x)) ** 2 for x, y in zip(xs, series, strict=True)
        ) / max(n - 2, 1)
        expected = sum(w * max(0.0, intercept + slope * x) for x, w in future)
        future_x = sum(w * x for x, w in future) / weight if weight else float(n)
        variance = residual * (weight + weight**2 * (1 / n + (future_x - x_mean) ** 2 / sxx))
        daily_next = max(0.0, intercept + slope * (n + 1))
    elif n >= 1:
        method, slope = "mean", 0.0
        mean = sum(series) / n
        sd = math.sqrt(sum((y - mean) ** 2 for y in series) / (n - 1)) if n > 1 else mean
        expected = mean * weight
        variance = sd**2 * weight + (sd**2 / n) * weight**2
        daily_next = mean
    else:
        # No complete day yet: today's pace so far, with an interval as wide as itself.
        method, slope = "today", 0.0
        spent_today = daily.get(today.isoformat(), 0.0)
        elapsed = max(1.0 - today_fraction_left, 1 / 24)
        daily_next = spent_today / elapsed
        expected = daily_next * weight
        variance = expected**2
    margin = _Z * math.sqrt(max(variance, 0.0))
    forecast = spent + expected
    over = budget_usd is not None and forecast > budget_usd
    return Forecast(
        tenant=tenant,
        month=today.strftime("%Y-%m"),
        spent_usd=round(spent, 6),
        forecast_usd=round(forecast, 6),
        low_usd=round(max(spent, forecast - margin), 6),
        high_usd=round(forecast + margin, 6),
        interval=INTERVAL,
        method=method,
        history_days=n,
        daily_usd=round(daily_next, 6),
        trend_usd_per_day=round(slope, 6),
        budget_usd=budget_usd,
        over_budget=over,
    )


UsageQuery = Callable[..., Awaitable[dict[str, Any]]]


class MonthlyBudget(NamedTuple):
    tenant_id: str  # Tenant.id: what the alert is kept by
    tenant: str  # its name now, as the alert says it
    budget_usd: float


async def forecast_tenant(
    usage: UsageQuery,
    tenant: str,
    now: float,
    *,
    budget_usd: float | None = None,
    tenant_id: str | None = None,
) -> Forecast:
    """One tenant's forecast from a ledger's ``ausage`` (one query, grouped by day);
    its spend is selected by ``tenant_id`` when given, else by the name."""
    select = {"tenant": tenant} if tenant_id is None else {"tenant_id": tenant_id}
    answer = await usage(**select, since=history_start(now), group_by="day")
    daily = {g["key"]: float(g["cost_usd"]) for g in answer["groups"] if g["key"]}
    return project(tenant, daily, now, budget_usd=budget_usd)


class ForecastAlerts:
    """Checks every tenant with a monthly budget now and then; alerts once per month.

    Each process checks on its own, and ``Alerts.emit_once`` lets only the
    first worker of a group raise the alert (several replicas still alert
    once each). The counter is labelled with the tenant's name.
    """

    def __init__(self, alerts: Alerts, *, interval_s: float = 300.0) -> None:
        self.alerts = alerts
        self.interval_s = interval_s
        self.counts: dict[str, int] = {}
        # (tenant id, month) already alerted here: skips asking the group again.
        self._alerted: set[tuple[str, str]] = set()

    async def check(
        self, usage: UsageQuery, budgets: Iterable[MonthlyBudget], now: float
    ) -> list[Forecast]:
        """Forecast each tenant against its monthly budget; returns those this call
        alerted about (newly over budget)."""
        alerts = []
        for tenant_id, tenant, budget in budgets:
            forecast = await forecast_tenant(
                usage, tenant, now, budget_usd=budget, tenant_id=tenant_id
            )
            key = (tenant_id, forecast.month)
            if not forecast.over_budget or key in self._alerted:
                continue
            self._alerted.add(key)
            raised = await self.alerts.emit_once(
                f"{tenant_id}\x00{forecast.month}",
                "budget_forecast",
                f"tenant {tenant} is projected to spend {usd(forecast.forecast_usd)} "
                f"({INTERVAL * 100:.0f}% interval {usd(forecast.low_usd)} to "
                f"{usd(forecast.high_usd)}) in {forecast.month} against a monthly budget "
                f"of {usd(budget)}",
                tenant_id=tenant_id,
                **forecast.as_dict(),
            )
            if raised:
                self.counts[tenant] = self.counts.get(tenant, 0) + 1
                alerts.append(forecast)
        return alerts

    def metrics(self) -> Iterator[Metric]:
        yield counter(
            "sluicegate_budget_forecast_alerts",
            "Times a tenant's month-end spend forecast crossed its monthly budget.",
            ["tenant"],
            (((tenant,), n) for tenant, n in self.counts.items()),
        )


def _date(ts: float) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(ts // DAY_S))


def _ts(day: dt.date) -> float:
    return float((day - dt.date(1970, 1, 1)).days * DAY_S)


def _parse(day: str) -> dt.date:
    return dt.date.fromisoformat(day)
