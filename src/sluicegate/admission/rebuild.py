"""Budgets survive a Redis restart: a Redis that has lost its counters gets
every current budget period refilled from the ledger.

Redis here keeps nothing on disk by default, and a restart would otherwise
reset every tenant's spend to zero. Each replica checks every ``CHECK_S``
whether Redis still carries the marker the last rebuild left; when it does
not, it sums the ledger's spend for each budget's current period and adds it
to the counter in one script that first claims the marker, so exactly one
replica rebuilds. Spend recorded between the restart and the rebuild is in
the counters already and may also be in the ledger: the rebuild can count
those few requests twice, which errs on the side of the budget.

The in-process limiter (``MemoryLimiter``, also what a worker group's
supervisor serves) is cold in every new process, so the same rebuild refills
it when the gateway starts: without Redis, a restart resets nobody's spend
either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from sluicegate.admission.admit import key_subject, tenant_subject
from sluicegate.admission.budget_periods import (
    BUDGET_RETENTION_S,
    budget_key,
    budget_period_start,
    usd_to_micro,
)
from sluicegate.admission.limiter import LimiterUnavailable
from sluicegate.admission.redis_limits import RedisLimiter
from sluicegate.config import RateLimits
from sluicegate.state.directory import Tenant

log = logging.getLogger("sluicegate.admission")

CHECK_S = 5.0

SpendQuery = Callable[[str, str | None, float], Awaitable[float]]
"""``(tenant id, key name or None for the whole tenant, since unix seconds) -> USD``:
the spend of that tenant only, not of a deleted one that had its name."""


@dataclass(frozen=True, slots=True)
class BudgetSeed:
    key: str  # the budget counter, relative to the limiter's prefix
    micro: int  # spend to add, in micro-dollars
    ttl_s: int  # 0: never expires (a ``total`` budget)


async def budget_seeds(
    tenants: Iterable[Tenant], spend: SpendQuery, now: float
) -> list[BudgetSeed]:
    """The spend of every budget's current period, from the ledger."""
    seeds: list[BudgetSeed] = []
    for tenant in tenants:
        limits = tenant.limits
        subjects: list[tuple[str, str | None, RateLimits]] = [
            (tenant_subject(tenant.id), None, limits)
        ]
        subjects += [
            (key_subject(tenant.id, name), name, key_limits)
            for name, key_limits in limits.keys.items()
        ]
        for subject, key_name, rule in subjects:
            if rule.budget_usd is None:
                continue
            label, end = budget_period_start(rule.budget_period, now)
            since = (
                0.0
                if end is None
                else datetime.fromisoformat(label).replace(tzinfo=UTC).timestamp()
            )
            spent = await spend(tenant.id, key_name, since)
            if spent <= 0:
                continue
            ttl = 0 if end is None else max(1, int(end - now + BUDGET_RETENTION_S))
            seeds.append(
                BudgetSeed(budget_key(subject, rule.budget_period, now), usd_to_micro(spent), ttl)
            )
    return seeds


@runtime_checkable
class BudgetSeeding(Protocol):
    """What a limiter offers for the rebuild (``RedisLimiter``, ``MemoryLimiter``
    and ``GroupLimiter`` do)."""

    async def cold(self) -> bool: ...

    async def seed_budgets(self, seeds: list[BudgetSeed]) -> bool: ...


class BudgetRebuild:
    """Watches for a cold Redis and refills budgets from the ledger."""

    def __init__(
        self,
        limiter: BudgetSeeding,
        tenants: Callable[[], Iterable[Tenant]],
        spend: SpendQuery,
    ) -> None:
        self.limiter = limiter
        self.tenants = tenants
        self.spend = spend
        self.rebuilds = 0
        self.warn = isinstance(limiter, RedisLimiter)
        self.what = "Redis (restarted?)" if self.warn else "the new process's limiter"

    async def check(self) -> bool:
        """Rebuild if Redis has lost its counters; True when this replica did it.
        With Redis unreachable there is nothing to rebuild yet: False."""
        try:
            if not await self.limiter.cold():
                return False
        except LimiterUnavailable as exc:
            log.debug("budget rebuild check skipped: %s", exc)
            return False
        seeds = await budget_seeds(self.tenants(), self.spend, time.time())
        if not await self.limiter.seed_budgets(seeds):
            return False  # another replica got there first
        self.rebuilds += 1
        # Every start of a gateway without Redis gets here: only a Redis that
        # lost its counters (restarted empty) is worth a warning.
        log.log(
            logging.WARNING if self.warn else logging.INFO,
            "%s had no budget counters: refilled %d from the ledger",
            self.what,
            len(seeds),
        )
        return True
