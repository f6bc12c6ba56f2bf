"""GroupLimiter: workers sharing the supervisor's limiter over socket pairs.

The same behaviour cases as the in-process and Redis limiters, with two
workers' limiters on one service, plus what only the group has: a worker that
goes away, settlements riding with admissions, and a caller that gives up.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from fakes.limits_cases import CASES, T0, Case
from sluicegate.admission.limiter import Ask, LimiterUnavailable, Rule
from sluicegate.admission.rebuild import BudgetRebuild
from sluicegate.config import LimitsConfig
from sluicegate.group.limiter import GroupLimiter, LimiterService
from sluicegate.state.directory import Tenant


async def join(service: LimiterService) -> GroupLimiter:
    """A worker's limiter on ``service``, as the supervisor connects one."""
    supervisor_end, worker_end = socket.socketpair()
    await service.serve(supervisor_end)
    return await GroupLimiter.connect(worker_end)


@pytest.fixture
async def service() -> LimiterService:
    return LimiterService()


@pytest.fixture
async def workers(service: LimiterService) -> AsyncIterator[list[GroupLimiter]]:
    limiters = [await join(service), await join(service)]
    yield limiters
    for limiter in limiters:
        limiter.close()


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_the_shared_behaviour(case: Case, workers: list[GroupLimiter]) -> None:
    await case(workers)


async def test_a_worker_that_goes_away_frees_its_slots_and_keeps_its_counts(
    service: LimiterService, workers: list[GroupLimiter]
) -> None:
    rules = [Rule("acme", rpm=3, max_concurrency=1)]
    gone, other = workers
    assert (await gone.admit(rules, Ask(10, 0.0, T0))).admitted
    assert not (await other.admit(rules, Ask(10, 0.0, T0))).admitted, "the slot is held"
    gone.close()  # the worker crashed with its request in flight
    await until(lambda: service.unsettled == 0)
    second = await other.admit(rules, Ask(10, 0.0, T0 + 1))
    assert second.admitted, "its slot came free at once, not after the lease"
    assert second.remaining == {"requests": 1}, "its request still counts"
    with pytest.raises(LimiterUnavailable):
        await gone.admit(rules, Ask(10, 0.0, T0 + 2))


async def test_a_settlement_later_rides_with_the_next_admission(
    workers: list[GroupLimiter],
) -> None:
    worker, other = workers
    rules = [Rule("acme", max_concurrency=1, tpm=100)]
    first = await worker.admit(rules, Ask(60, 0.0, T0))
    assert first.ticket is not None
    await worker.settle_later(first.ticket, tokens=10, cost_usd=0.0, now=T0)
    trips = worker.round_trips
    # The next admission, in the same pass of the loop, already sees it settled.
    second = await worker.admit(rules, Ask(60, 0.0, T0))
    assert second.admitted and second.remaining == {"tokens": 30}
    assert worker.round_trips == trips + 1, "the settlement took no round trip of its own"
    assert second.ticket is not None
    # Left alone, a settlement goes at the end of the loop's pass: another
    # worker's admission right after sees the slot free.
    await worker.settle_later(second.ticket, tokens=10, cost_usd=0.0, now=T0)
    await asyncio.sleep(0)
    assert (await other.admit(rules, Ask(60, 0.0, T0))).admitted


async def test_an_admission_whose_caller_gives_up_is_given_back(
    service: LimiterService, workers: list[GroupLimiter]
) -> None:
    worker, _ = workers
    rules = [Rule("acme", max_concurrency=1)]
    waiting = asyncio.ensure_future(worker.admit(rules, Ask(1, 0.0, T0)))
    await asyncio.sleep(0)  # sent, not yet answered
    waiting.cancel()
    # Any answer after it means the supervisor admitted it and the worker saw so.
    await worker.spent("acme", "month", T0)
    assert (await worker.admit(rules, Ask(1, 0.0, T0))).admitted, "its slot was given back"
    assert service.unsettled == 1


async def test_budgets_are_rebuilt_from_the_ledger_once_for_the_whole_group(
    workers: list[GroupLimiter],
) -> None:
    budget = LimitsConfig(budget_usd=10.0, budget_period="total")
    tenants = [Tenant("ten_acme", "acme", None, budget)]

    async def spend(tenant: str, key: str | None, since: float) -> float:
        return 7.5

    rebuilds = [BudgetRebuild(w, lambda: tenants, spend) for w in workers]
    assert sorted(await asyncio.gather(*(r.check() for r in rebuilds))) == [False, True]
    assert not await workers[0].cold()
    assert await workers[1].spent("tenant:ten_acme", "total", T0) == 7.5


async def test_a_failure_in_the_supervisor_is_an_unavailable_limiter(
    workers: list[GroupLimiter],
) -> None:
    with pytest.raises(LimiterUnavailable, match="failed"):
        await workers[0].spent("acme", "fortnight", T0)  # not a period
    assert (await workers[0].admit([Rule("acme", rpm=1)], Ask(1, 0.0, T0))).admitted


async def until(condition: object, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.001)
