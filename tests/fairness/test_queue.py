"""The fair queue's order: priority class first, then the tenant with the least
weighted service (virtual token counters), never banked idle credit."""

from __future__ import annotations

import asyncio

from sluicegate.fairness import FairQueue, Flow, VirtualCounters, Waiter


def waiter(tenant: str, *, priority: str = "interactive", tokens: int = 100) -> Waiter:
    flow = Flow(tenant, 1.0, priority, tokens, tokens)  # type: ignore[arg-type]
    return Waiter(flow, asyncio.get_event_loop().create_future())


def serve_all(queue: FairQueue, *, weights: dict[str, float] | None = None) -> list[str]:
    """Dispatch everything, charging each request's tokens as the gate does."""
    order: list[str] = []
    while (w := queue.peek()) is not None:
        queue.remove(w)
        weight = (weights or {}).get(w.flow.tenant, 1.0)
        queue.counters.charge(w.flow.tenant, weight, prompt_tokens=w.flow.prompt_tokens)
        queue.counters.served(w.flow.tenant)
        order.append(w.flow.tenant)
    return order


async def test_a_flood_does_not_push_a_light_tenant_back() -> None:
    queue = FairQueue(VirtualCounters(), max_waiting=100)
    for _ in range(10):
        queue.push(waiter("a"))
    for _ in range(2):
        queue.push(waiter("b"))
    order = serve_all(queue)
    # b's two requests go within the first four, not after a's ten.
    assert order[:4].count("b") == 2
    assert order.count("a") == 10


async def test_service_is_shared_by_tokens_not_by_requests() -> None:
    queue = FairQueue(VirtualCounters(), max_waiting=100)
    for _ in range(6):
        queue.push(waiter("big", tokens=300))
    for _ in range(18):
        queue.push(waiter("small", tokens=100))
    order = serve_all(queue)
    first_half = order[:12]
    # Equal tokens: three small requests for every big one.
    assert first_half.count("small") == 9
    assert first_half.count("big") == 3


async def test_weights_scale_the_share() -> None:
    counters = VirtualCounters()
    queue = FairQueue(counters, max_waiting=100)
    for _ in range(30):
        queue.push(waiter("gold"))
        queue.push(waiter("free"))
    order = serve_all(queue, weights={"gold": 2.0})
    assert order[:30].count("gold") == 20


async def test_interactive_work_goes_before_batch_work() -> None:
    queue = FairQueue(VirtualCounters(), max_waiting=100)
    queue.push(waiter("a", priority="batch"))
    queue.push(waiter("a", priority="batch"))
    queue.push(waiter("b"))
    assert serve_all(queue) == ["b", "a", "a"]


async def test_idle_time_is_not_banked_as_credit() -> None:
    counters = VirtualCounters()
    queue = FairQueue(counters, max_waiting=100)
    # a is served alone for a long time while b is idle.
    for _ in range(50):
        queue.push(waiter("a"))
    serve_all(queue)
    # Now both are backlogged: b starts level with a, so they alternate
    # instead of b taking 50 turns in a row.
    for _ in range(10):
        queue.push(waiter("a"))
        queue.push(waiter("b"))
    order = serve_all(queue)
    assert order[:6].count("a") == 3


async def test_the_queue_is_bounded_and_a_waiter_can_leave() -> None:
    queue = FairQueue(VirtualCounters(), max_waiting=2)
    first, second = waiter("a"), waiter("b")
    assert queue.push(first) and queue.push(second)
    assert not queue.push(waiter("c"))
    assert queue.remove(second)
    assert not queue.remove(second)
    assert len(queue) == 1 and queue.peek() is first
