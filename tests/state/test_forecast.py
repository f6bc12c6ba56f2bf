"""Month-end spend forecasts from daily spend, and the alert when one crosses a budget."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from sluicegate.observability.alerts import Alerts
from sluicegate.observability.metrics import Metrics
from sluicegate.state.ledger.forecast import ForecastAlerts, MonthlyBudget, project

# 2026-11-15T12:00:00Z: 14.5 days of November gone, 15.5 to come.
NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC).timestamp()


def days_before(n: int, usd: list[float]) -> dict[str, float]:
    """``usd`` as the spend of the ``n`` complete days before NOW's day, oldest first."""
    today = dt.date(2026, 11, 15)
    return {
        (today - dt.timedelta(days=n - i)).isoformat(): v for i, v in enumerate(usd)
    }


def test_steady_spend_projects_the_same_rate_with_a_tight_interval() -> None:
    daily = {**days_before(28, [10.0] * 28), "2026-11-15": 5.0}
    f = project("acme", daily, NOW, budget_usd=500)
    assert f.month == "2026-11" and f.method == "linear" and f.history_days == 28
    assert f.spent_usd == pytest.approx(14 * 10 + 5)  # Nov 1-14 and half of the 15th
    assert f.forecast_usd == pytest.approx(145 + 15.5 * 10)
    assert f.low_usd == pytest.approx(f.forecast_usd) == pytest.approx(f.high_usd)
    assert not f.over_budget


def test_growing_spend_projects_its_trend_and_crosses_the_budget() -> None:
    daily = days_before(28, [float(i) for i in range(1, 29)])  # $1 more each day
    f = project("acme", daily, NOW, budget_usd=600)
    assert f.trend_usd_per_day == pytest.approx(1.0)
    assert f.daily_usd == pytest.approx(30.0)  # tomorrow: the 30th day of the trend
    remaining = 0.5 * 29 + sum(range(30, 45))  # half of today, then Nov 16-30
    spent = sum(range(15, 29))  # Nov 1-14
    assert f.forecast_usd == pytest.approx(spent + remaining)
    assert f.over_budget


def test_noisy_spend_gets_an_interval_around_its_mean() -> None:
    daily = days_before(28, [5.0, 15.0] * 14)
    f = project("acme", daily, NOW)
    assert f.low_usd < f.forecast_usd < f.high_usd
    assert f.budget_usd is None and not f.over_budget


def test_short_history_uses_the_mean_and_none_uses_todays_pace() -> None:
    two = project("new", days_before(2, [4.0, 6.0]), NOW)
    assert two.method == "mean" and two.daily_usd == pytest.approx(5.0)
    first_day = project("newer", {"2026-11-15": 3.0}, NOW)
    assert first_day.method == "today"
    assert first_day.daily_usd == pytest.approx(6.0)  # $3 in half a day
    assert first_day.forecast_usd == pytest.approx(3.0 + 6.0 * 15.5)


async def test_an_alert_is_logged_and_counted_once_a_month(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    sink = Alerts()
    alerts = ForecastAlerts(sink)
    metrics.add_source(alerts.metrics)
    spend = days_before(28, [50.0] * 28)

    async def usage(**_: object) -> dict[str, object]:
        return {"groups": [{"key": day, "cost_usd": usd} for day, usd in spend.items()]}

    with caplog.at_level(logging.WARNING, logger="sluicegate.alerts"):
        first = await alerts.check(
            usage, [MonthlyBudget("t1", "acme", 1000.0), MonthlyBudget("t2", "rich", 10_000.0)],
            NOW,
        )
        again = await alerts.check(usage, [MonthlyBudget("t1", "acme", 1000.0)], NOW + 3600)
    assert [f.tenant for f in first] == ["acme"] and again == []
    assert len([r for r in caplog.records if "budget_forecast" in r.message]) == 1
    assert sink.sent["forecast"] == 1
    assert 'sluicegate_budget_forecast_alerts_total{tenant="acme"} 1.0' in (
        metrics.exposition().decode()
    )


async def test_an_alert_shows_a_small_budget_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    spend = days_before(28, [0.0005] * 28)

    async def usage(**_: object) -> dict[str, object]:
        return {"groups": [{"key": day, "cost_usd": usd} for day, usd in spend.items()]}

    with caplog.at_level(logging.WARNING, logger="sluicegate.alerts"):
        await ForecastAlerts(Alerts()).check(usage, [MonthlyBudget("t1", "acme", 0.004)], NOW)
    [alert] = [r.message for r in caplog.records if "budget_forecast" in r.message]
    assert alert.endswith("in 2026-11 against a monthly budget of $0.004")
    assert "projected to spend $0.01475 " in alert  # $0.0005 a day, 29.5 days (none yet today)


async def test_the_alert_is_kept_by_tenant_id_not_by_name() -> None:
    spend = days_before(28, [50.0] * 28)
    asked: list[dict[str, object]] = []

    async def usage(**query: object) -> dict[str, object]:
        asked.append(query)
        return {"groups": [{"key": day, "cost_usd": usd} for day, usd in spend.items()]}

    sink = Alerts()
    alerts = ForecastAlerts(sink)
    first = await alerts.check(usage, [MonthlyBudget("t1", "acme", 1000.0)], NOW)
    # Renamed: the same tenant, already alerted this month.
    renamed = await alerts.check(usage, [MonthlyBudget("t1", "acme-corp", 1000.0)], NOW)
    # A new tenant under the deleted one's name is alerted about on its own.
    namesake = await alerts.check(usage, [MonthlyBudget("t2", "acme", 1000.0)], NOW)
    assert [len(first), len(renamed), len(namesake)] == [1, 0, 1]
    assert sink.sent["forecast"] == 2
    assert {q.get("tenant_id") for q in asked} == {"t1", "t2"}, "spend is read by tenant id"


async def test_an_alert_another_worker_raised_is_not_raised_again() -> None:
    class Group:  # what the supervisor answers: the first asker only
        def __init__(self) -> None:
            self.keys: set[str] = set()

        async def first(self, key: str) -> bool:
            seen = key in self.keys
            self.keys.add(key)
            return not seen

    spend = days_before(28, [50.0] * 28)

    async def usage(**_: object) -> dict[str, object]:
        return {"groups": [{"key": day, "cost_usd": usd} for day, usd in spend.items()]}

    group = Group()
    workers = [Alerts(firsts=group), Alerts(firsts=group)]
    for sink in workers:
        await ForecastAlerts(sink).check(usage, [MonthlyBudget("t1", "acme", 1000.0)], NOW)
    assert [sink.sent["forecast"] for sink in workers] == [1, 0]
