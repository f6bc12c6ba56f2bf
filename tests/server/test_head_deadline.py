"""The head deadline's one timer per connection, on virtual time: each head is due
``limit_s`` after it became due, to the loop's tick, however busy the machine.

test_deadlines.py shows the same on a served socket, with margins of a second.
"""

from __future__ import annotations

import asyncio

import pytest

from sluicegate.server.deadlines import HeadDeadline

pytestmark = pytest.mark.virtual_time


def deadline(limit_s: float) -> tuple[HeadDeadline, list[float]]:
    """A deadline and the loop times at which it expired (seconds from now)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    expired: list[float] = []
    return HeadDeadline(loop, limit_s, lambda: expired.append(loop.time() - began)), expired


async def test_a_head_that_never_comes_expires_at_the_limit() -> None:
    head, expired = deadline(1.0)
    head.start()
    await asyncio.sleep(5)
    assert expired == [pytest.approx(1.0)]


async def test_a_head_that_arrives_in_time_does_not_expire() -> None:
    head, expired = deadline(1.0)
    head.start()
    await asyncio.sleep(0.9)
    head.done()
    await asyncio.sleep(5)
    assert expired == []
    head.close()


async def test_each_head_is_due_from_its_own_start() -> None:
    """The timer armed for the first head fires while the second is due: it re-arms
    for the second's own due time instead of cutting it short."""
    head, expired = deadline(1.0)
    head.start()
    await asyncio.sleep(0.5)
    head.done()
    await asyncio.sleep(0.2)
    head.start()  # due at 1.7, past the first head's 1.0
    await asyncio.sleep(0.9)
    assert expired == [], "expired at the first head's due time"
    await asyncio.sleep(5)
    assert expired == [pytest.approx(1.7)]
