"""MemoryLimiter: the shared behaviour cases, plus the pure period arithmetic."""

from __future__ import annotations

import pytest

from fakes.limits_cases import CASES, Case, ts
from sluicegate.admission.admit import tenant_subject
from sluicegate.admission.budget_periods import budget_period_start
from sluicegate.admission.limiter import Ask, Rule
from sluicegate.admission.memory_limiter import MemoryLimiter
from sluicegate.admission.rebuild import BudgetRebuild
from sluicegate.config import LimitsConfig
from sluicegate.state.directory import Tenant


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_memory_limiter(case: Case) -> None:
    limiter = MemoryLimiter()
    await case([limiter, limiter])


@pytest.mark.parametrize(
    ("period", "at", "label", "end"),
    [
        ("day", "2024-05-08T23:59:59", "2024-05-08", "2024-05-09T00:00:00"),
        ("week", "2024-05-12T23:59:59", "2024-05-06", "2024-05-13T00:00:00"),
        ("week", "2024-05-13T00:00:00", "2024-05-13", "2024-05-20T00:00:00"),
        ("week", "2024-12-31T10:00:00", "2024-12-30", "2025-01-06T00:00:00"),
        ("month", "2024-02-29T12:00:00", "2024-02-01", "2024-03-01T00:00:00"),
        ("month", "2024-12-31T23:59:59", "2024-12-01", "2025-01-01T00:00:00"),
    ],
)
def test_budget_periods_are_utc_calendar_periods(
    period: str, at: str, label: str, end: str
) -> None:
    assert budget_period_start(period, ts(at)) == (label, ts(end))  # type: ignore[arg-type]


def test_total_budget_never_ends() -> None:
    assert budget_period_start("total", ts("2024-05-08T00:00:00")) == ("total", None)


async def test_idle_windows_are_forgotten() -> None:
    limiter = MemoryLimiter()
    rules = [Rule("acme", rpm=5, tpm=100)]
    assert (await limiter.admit(rules, Ask(10, 0.0, 1_000.0))).admitted
    assert (await limiter.admit(rules, Ask(10, 0.0, 2_000.0))).admitted
    assert len(limiter._windows["rpm:acme"].buckets) == 1


async def test_a_new_process_gets_its_budgets_back_from_the_ledger_once() -> None:
    budget = LimitsConfig(budget_usd=10.0, budget_period="total")
    tenants = [Tenant("ten_acme", "acme", None, budget)]

    async def spend(tenant: str, key: str | None, since: float) -> float:
        return 7.5

    limiter = MemoryLimiter()
    rebuild = BudgetRebuild(limiter, lambda: tenants, spend)
    assert await rebuild.check()
    assert not await rebuild.check(), "once per process"
    rule = Rule(tenant_subject("ten_acme"), budget_usd=10.0, budget_period="total")
    now = ts("2024-05-08T12:00:00")
    assert not (await limiter.admit([rule], Ask(1, 3.0, now))).admitted
    assert (await limiter.admit([rule], Ask(1, 2.5, now))).admitted
