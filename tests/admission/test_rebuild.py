"""A Redis that lost its counters gets budgets back from the ledger, once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from sluicegate.admission.admit import key_subject, tenant_subject
from sluicegate.admission.limiter import Ask, Rule
from sluicegate.admission.rebuild import BudgetRebuild
from sluicegate.admission.redis_limits import RedisLimiter
from sluicegate.config import LimitsConfig
from sluicegate.state.directory import Tenant

pytestmark = pytest.mark.redis

TENANTS = [
    Tenant("ten_acme", "acme", None, LimitsConfig.model_validate(
        {"budget_usd": 10.0, "budget_period": "month",
         "keys": {"ci": {"budget_usd": 2.0, "budget_period": "day"}}})),
    Tenant("ten_free", "free", None, LimitsConfig()),  # no budget: nothing to rebuild
]
# Spend by tenant id: a deleted "acme" (another id) spent too, and must not count.
LEDGER = {("ten_acme", None): 7.5, ("ten_acme", "ci"): 1.25, ("ten_free", None): 3.0,
          ("ten_deleted_acme", None): 50.0}


async def spend(tenant_id: str, key: str | None, since: float) -> float:
    assert since <= time.time()
    return LEDGER[(tenant_id, key)]


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[list[RedisLimiter]]:
    clients = [aioredis.from_url(redis_url), aioredis.from_url(redis_url)]
    yield [RedisLimiter(c) for c in clients]
    for c in clients:
        await c.aclose()


async def test_a_cold_redis_gets_each_budget_back_from_the_ledger(
    replicas: list[RedisLimiter],
) -> None:
    limiter = replicas[0]
    rebuild = BudgetRebuild(limiter, lambda: TENANTS, spend)
    assert await rebuild.check()
    now = time.time()
    assert await limiter.spent(tenant_subject("ten_acme"), "month", now) == 7.5
    assert await limiter.spent(key_subject("ten_acme", "ci"), "day", now) == 1.25
    assert await limiter.spent(tenant_subject("ten_free"), "month", now) == 0.0
    assert not await rebuild.check(), "a warm Redis is left alone"

    # The rebuilt spend counts: $2.50 of the $10 month is left.
    rule = Rule(tenant_subject("ten_acme"), budget_usd=10.0, budget_period="month")
    over = await limiter.admit([rule], Ask(tokens=1, cost_usd=3.0, now=now))
    under = await limiter.admit([rule], Ask(tokens=1, cost_usd=2.0, now=now))
    assert (over.admitted, over.rule, under.admitted) == (False, "budget", True)


async def test_only_one_replica_rebuilds(replicas: list[RedisLimiter]) -> None:
    rebuilds = [BudgetRebuild(limiter, lambda: TENANTS, spend) for limiter in replicas]
    done = await asyncio.gather(*(r.check() for r in rebuilds))
    assert sorted(done) == [False, True]
    assert await replicas[1].spent(tenant_subject("ten_acme"), "month", time.time()) == 7.5


async def test_a_restarted_redis_is_rebuilt_again(replicas: list[RedisLimiter]) -> None:
    limiter = replicas[0]
    rebuild = BudgetRebuild(limiter, lambda: TENANTS, spend)
    assert await rebuild.check()
    await limiter.client.flushdb()  # what a restart without persistence leaves
    assert await limiter.cold()
    assert await rebuild.check()
    assert await limiter.spent(tenant_subject("ten_acme"), "month", time.time()) == 7.5
