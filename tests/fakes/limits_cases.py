"""Behaviour every ``Limiter`` must have, shared by the in-process and Redis tests.

Each case is ``async def case(replicas)``: ``replicas`` are limiters that share
state (two ``RedisLimiter``s on separate clients, or one ``MemoryLimiter``
twice), and a case spreads its calls across them like a load balancer would.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import pytest

from sluicegate.admission.limiter import Ask, Decision, Limiter, Rule

Case = Callable[[Sequence[Limiter]], Awaitable[None]]
CASES: dict[str, Case] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__] = fn
    return fn


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


T0 = ts("2024-05-08T12:00:00.250")  # a Wednesday, a quarter into a second


async def admit_many(
    replicas: Sequence[Limiter], n: int, rules: Sequence[Rule], ask: Ask
) -> list[Decision]:
    """``n`` concurrent admissions, round-robin across the replicas."""
    spread = itertools.cycle(replicas)
    return list(await asyncio.gather(*(next(spread).admit(rules, ask) for _ in range(n))))


def admitted(decisions: Sequence[Decision]) -> list[Decision]:
    return [d for d in decisions if d.admitted]


@case
async def rpm_is_exact_under_concurrency(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", rpm=40)]
    decisions = await admit_many(replicas, 120, rules, Ask(tokens=10, cost_usd=0.0, now=T0))
    assert len(admitted(decisions)) == 40
    refused = [d for d in decisions if not d.admitted]
    assert {(d.rule, d.subject) for d in refused} == {("rpm", "acme")}
    assert all(d.ticket is None for d in refused)
    # Everything was counted in T0's second, which leaves the window at +60 s.
    assert refused[0].retry_after_s == pytest.approx(59.75, abs=0.002)
    assert refused[0].remaining["requests"] == 0


@case
async def rpm_window_slides(replicas: Sequence[Limiter]) -> None:
    a, b = replicas[0], replicas[-1]
    rules = [Rule("acme", rpm=3)]
    for dt in (0, 10, 20):
        assert (await a.admit(rules, Ask(1, 0.0, T0 + dt))).admitted
    refused = await b.admit(rules, Ask(1, 0.0, T0 + 30))
    assert (refused.rule, refused.retry_after_s) == ("rpm", pytest.approx(29.75, abs=0.002))
    # Just before the first request's second leaves the window: still full.
    assert not (await b.admit(rules, Ask(1, 0.0, T0 + 59.7))).admitted
    later = await b.admit(rules, Ask(1, 0.0, T0 + 59.75))
    assert later.admitted
    assert later.remaining == {"requests": 0}
    assert later.limit == {"requests": 3}
    assert later.reset_s["requests"] == pytest.approx(60.0, abs=0.002)


@case
async def tpm_counts_reservations_without_overshoot(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", tpm=10_000)]
    ask = Ask(tokens=1_500, cost_usd=0.0, now=T0)
    decisions = await admit_many(replicas, 20, rules, ask)
    ok = admitted(decisions)
    assert len(ok) == 6  # 9,000 reserved; a 7th would make 10,500
    assert 10_000 - len(ok) * ask.tokens < ask.tokens
    refused = next(d for d in decisions if not d.admitted)
    assert (refused.rule, refused.remaining) == ("tpm", {"tokens": 1_000})
    # Settling at actual usage frees what was reserved and not used.
    for i, d in enumerate(ok):
        assert d.ticket is not None
        await replicas[i % len(replicas)].settle(d.ticket, tokens=500, cost_usd=0.0, now=T0 + 1)
    more = await admit_many(replicas, 10, rules, Ask(1_500, 0.0, T0 + 2))
    assert len(admitted(more)) == 4  # 3,000 used + 4 x 1,500 = 9,000


@case
async def tpm_retry_after_waits_for_enough_tokens(replicas: Sequence[Limiter]) -> None:
    a, b = replicas[0], replicas[-1]
    rules = [Rule("acme", tpm=1_000)]
    assert (await a.admit(rules, Ask(300, 0.0, T0))).admitted
    assert (await a.admit(rules, Ask(300, 0.0, T0 + 5))).admitted
    assert (await a.admit(rules, Ask(300, 0.0, T0 + 10))).admitted
    # 900 used: 500 more needs two of the three reservations gone (T0+5's second).
    refused = await b.admit(rules, Ask(500, 0.0, T0 + 20))
    assert (refused.rule, refused.retry_after_s) == ("tpm", pytest.approx(44.75, abs=0.002))
    assert not (await b.admit(rules, Ask(500, 0.0, T0 + 64.7))).admitted
    assert (await b.admit(rules, Ask(500, 0.0, T0 + 64.75))).admitted


@case
async def an_ask_larger_than_the_limit_never_fits(replicas: Sequence[Limiter]) -> None:
    refused = await replicas[0].admit([Rule("acme", tpm=1_000)], Ask(1_001, 0.0, T0))
    assert (refused.admitted, refused.rule, refused.retry_after_s) == (False, "tpm", None)


@case
async def concurrency_holds_until_settled(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", max_concurrency=5)]
    decisions = await admit_many(replicas, 20, rules, Ask(10, 0.0, T0))
    holders = admitted(decisions)
    assert len(holders) == 5
    refused = next(d for d in decisions if not d.admitted)
    assert (refused.rule, refused.retry_after_s) == ("concurrency", 1.0)
    assert not (await replicas[-1].admit(rules, Ask(10, 0.0, T0 + 30))).admitted
    # Two end (one settled, one never ran): exactly two more get in.
    assert holders[0].ticket is not None and holders[1].ticket is not None
    await replicas[0].settle(holders[0].ticket, tokens=5, cost_usd=0.0, now=T0 + 31)
    await replicas[-1].release(holders[1].ticket)
    more = await admit_many(replicas, 10, rules, Ask(10, 0.0, T0 + 32))
    assert len(admitted(more)) == 2


@case
async def concurrency_slots_of_a_dead_replica_expire(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", max_concurrency=2)]
    first = await replicas[0].admit(rules, Ask(1, 0.0, T0))
    second = await replicas[0].admit(rules, Ask(1, 0.0, T0))
    assert first.admitted and second.admitted and second.ticket is not None
    # The second request is a long stream whose replica keeps renewing its lease.
    await replicas[0].renew(second.ticket, T0 + 500)
    assert not (await replicas[-1].admit(rules, Ask(1, 0.0, T0 + 599))).admitted
    # The first replica "crashed": its slot is free once the 600 s lease ends.
    assert (await replicas[-1].admit(rules, Ask(1, 0.0, T0 + 600))).admitted
    assert not (await replicas[-1].admit(rules, Ask(1, 0.0, T0 + 601))).admitted


@case
async def budget_overshoot_is_at_most_one_reservation(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", budget_usd=1.0, budget_period="day")]
    reserve = 0.07
    decisions = await admit_many(replicas, 50, rules, Ask(100, reserve, T0))
    ok = admitted(decisions)
    assert len(ok) == 14  # 0.98 reserved
    refused = next(d for d in decisions if not d.admitted)
    assert (refused.rule, refused.subject, refused.retry_after_s) == ("budget", "acme", None)
    # Traffic goes on in waves; each request costs 40-100% of what it reserved.
    now = T0
    for wave in range(100):
        for i, d in enumerate(ok):
            assert d.ticket is not None
            actual = reserve * (0.4 + 0.6 * ((wave * 7 + i) % 5) / 4)
            await replicas[i % len(replicas)].settle(d.ticket, tokens=80, cost_usd=actual, now=now)
        now += 1
        ok = admitted(await admit_many(replicas, 10, rules, Ask(100, reserve, now)))
        if not ok:
            break
    assert not ok, "the budget never ran out"
    spent = await replicas[0].spent("acme", "day", now)
    assert 1.0 - reserve < spent <= 1.0 + reserve
    # A cheaper request still fits into what is left.
    assert (await replicas[-1].admit(rules, Ask(1, 1.0 - spent, now))).admitted


@case
async def budget_settles_to_actual_spend(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", budget_usd=1.0)]
    tickets = []
    for _ in range(3):
        d = await replicas[0].admit(rules, Ask(100, 0.30, T0))
        assert d.admitted and d.ticket is not None
        tickets.append(d.ticket)
    assert not (await replicas[-1].admit(rules, Ask(100, 0.30, T0))).admitted
    assert await replicas[-1].spent("acme", "month", T0) == pytest.approx(0.90)
    for t in tickets:
        await replicas[-1].settle(t, tokens=50, cost_usd=0.10, now=T0 + 1)
    assert await replicas[0].spent("acme", "month", T0) == pytest.approx(0.30)
    # Settling twice changes nothing.
    await replicas[0].settle(tickets[0], tokens=50, cost_usd=0.10, now=T0 + 1)
    assert await replicas[0].spent("acme", "month", T0) == pytest.approx(0.30)
    assert (await replicas[0].admit(rules, Ask(100, 0.70, T0 + 2))).admitted
    assert not (await replicas[0].admit(rules, Ask(100, 0.01, T0 + 2))).admitted


@case
async def release_returns_everything(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", rpm=1, tpm=100, max_concurrency=1, budget_usd=0.5)]
    d = await replicas[0].admit(rules, Ask(100, 0.5, T0))
    assert d.admitted and d.ticket is not None
    assert d.remaining == {"requests": 0, "tokens": 0}
    await replicas[-1].release(d.ticket)
    assert await replicas[0].spent("acme", "month", T0) == 0.0
    again = await replicas[-1].admit(rules, Ask(100, 0.5, T0 + 1))
    assert again.admitted, again


@case
async def settle_replaces_token_reservation(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", tpm=10_000, max_concurrency=1)]
    d = await replicas[0].admit(rules, Ask(4_000, 0.0, T0))
    assert d.admitted and d.ticket is not None and d.remaining == {"tokens": 6_000}
    await replicas[-1].settle(d.ticket, tokens=5_000, cost_usd=0.0, now=T0 + 3)
    after = await replicas[0].admit(rules, Ask(1_000, 0.0, T0 + 4))
    assert after.admitted  # the slot is free again
    assert after.remaining == {"tokens": 4_000}  # 5,000 actual + 1,000 reserved


@case
async def refusal_reserves_nothing_anywhere(replicas: Sequence[Limiter]) -> None:
    tenant = Rule("acme", rpm=10, tpm=1_000, max_concurrency=2, budget_usd=1.0)
    key = Rule("acme/ci", rpm=1)
    assert (await replicas[0].admit([tenant, key], Ask(100, 0.1, T0))).admitted
    refused = await replicas[-1].admit([tenant, key], Ask(100, 0.1, T0))
    assert (refused.admitted, refused.rule, refused.subject) == (False, "rpm", "acme/ci")
    # The tenant's counters saw only the admitted request.
    alone = await replicas[-1].admit([tenant], Ask(100, 0.1, T0))
    assert alone.admitted
    assert alone.remaining == {"requests": 8, "tokens": 800}
    assert await replicas[0].spent("acme", "month", T0) == pytest.approx(0.2)
    # Two slots are held (the first and this one): the refused request took none.
    third = await replicas[0].admit([tenant], Ask(100, 0.1, T0))
    assert (third.admitted, third.rule) == (False, "concurrency")


@case
async def headers_follow_the_tightest_rule(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", rpm=100, tpm=500), Rule("acme/ci", rpm=3, tpm=50_000)]
    d = await replicas[0].admit(rules, Ask(200, 0.0, T0))
    assert d.admitted
    assert d.remaining == {"requests": 2, "tokens": 300}
    assert d.limit == {"requests": 3, "tokens": 500}
    assert d.reset_s == {"requests": pytest.approx(59.75), "tokens": pytest.approx(59.75)}


@case
async def budget_refusal_wins_over_a_wait(replicas: Sequence[Limiter]) -> None:
    rules = [Rule("acme", rpm=1), Rule("acme/ci", budget_usd=0.1)]
    assert (await replicas[0].admit(rules, Ask(1, 0.05, T0))).admitted
    refused = await replicas[0].admit(rules, Ask(1, 0.06, T0))
    assert (refused.rule, refused.subject, refused.retry_after_s) == ("budget", "acme/ci", None)


# Budget periods: (period, first admission, still the same period, next period).
PERIODS = {
    "day": ("2024-05-08T00:00:00", "2024-05-08T23:59:59.999", "2024-05-09T00:00:00"),
    "week": ("2024-05-06T00:00:00", "2024-05-12T23:59:59.999", "2024-05-13T00:00:00"),
    "month": ("2024-02-01T00:00:00", "2024-02-29T23:59:59.999", "2024-03-01T00:00:00"),
    "total": ("2024-01-01T00:00:00", "2031-12-31T23:59:59", None),
}


def _period_case(period: str, first: str, same: str, nxt: str | None) -> Case:
    async def budget_period_rolls_over(replicas: Sequence[Limiter]) -> None:
        rules = [Rule("acme", budget_usd=1.0, budget_period=period)]  # type: ignore[arg-type]
        assert (await replicas[0].admit(rules, Ask(1, 0.6, ts(first)))).admitted
        assert not (await replicas[-1].admit(rules, Ask(1, 0.6, ts(same)))).admitted
        assert await replicas[-1].spent("acme", period, ts(same)) == pytest.approx(0.6)
        if nxt is not None:
            assert (await replicas[-1].admit(rules, Ask(1, 0.6, ts(nxt)))).admitted
            assert await replicas[0].spent("acme", period, ts(nxt)) == pytest.approx(0.6)
            assert await replicas[0].spent("acme", period, ts(first)) == pytest.approx(0.6)
            # The day before the first admission is another, empty period.
            assert await replicas[0].spent("acme", period, ts(first) - 1) == 0.0

    return budget_period_rolls_over


for _period, (_first, _same, _next) in PERIODS.items():
    CASES[f"budget_period_rolls_over_{_period}"] = _period_case(_period, _first, _same, _next)
