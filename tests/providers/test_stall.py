"""The stall watch: a stream's waits on its upstream, timed with one timer per stream.

The watch keeps time with the loop's clock only, so most tests here run on virtual
time (``virtual_time``): waits and limits are exact, however busy the machine is.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from sluicegate.providers.stall import StallExpired, StallWatch


def watch(limit_s: float | None, deadline_in_s: float | None = None) -> StallWatch:
    loop = asyncio.get_running_loop()
    deadline = None if deadline_in_s is None else loop.time() + deadline_in_s
    return StallWatch(loop, limit_s, deadline)


@pytest.mark.virtual_time
async def test_a_steady_stream_arms_its_timer_about_once_per_limit() -> None:
    stream = watch(0.5)
    for _ in range(100):
        await stream.wait(asyncio.sleep(0.001))
    stream.close()
    assert stream.timers == 1


@pytest.mark.virtual_time
async def test_a_wait_longer_than_the_limit_expires_at_the_limit() -> None:
    stream = watch(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StallExpired):
        await stream.wait(asyncio.sleep(5))
    assert 0.04 <= loop.time() - started < 1
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0, "the watch took its cancellation back"


@pytest.mark.virtual_time
async def test_time_between_waits_does_not_count() -> None:
    """A client reading slowly keeps the stream between waits; only waits expire."""
    stream = watch(0.05)
    await stream.wait(asyncio.sleep(0))
    await asyncio.sleep(0.15)  # the timer fires meanwhile, with nobody waiting
    assert await stream.wait(asyncio.sleep(0.01, result="next")) == "next"
    stream.close()


@pytest.mark.virtual_time
async def test_a_later_wait_gets_its_whole_limit() -> None:
    """The timer armed for the first wait fires during the second: it re-arms for the
    second's own limit instead of cutting it short."""
    stream = watch(0.1)
    await stream.wait(asyncio.sleep(0))
    await asyncio.sleep(0.06)
    assert await stream.wait(asyncio.sleep(0.08, result="in time")) == "in time"
    assert stream.timers == 2
    stream.close()


@pytest.mark.virtual_time
async def test_the_deadline_caps_every_wait() -> None:
    stream = watch(None, deadline_in_s=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StallExpired):
        await stream.wait(asyncio.sleep(5))
    assert loop.time() - started < 1


@pytest.mark.virtual_time
async def test_someone_elses_cancellation_is_not_a_timeout() -> None:
    stream = watch(5)
    waiting = asyncio.create_task(stream.wait(asyncio.sleep(5)))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    stream.close()


async def test_cancelled_by_the_watch_and_by_someone_else_stays_cancelled() -> None:
    # On the real clock: a blocking time.sleep stands for a busy loop, which virtual
    # time would not see. Holding the loop makes both timers due together on any machine.
    stream = watch(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def waiter() -> None:
        await stream.wait(asyncio.sleep(5))

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # the wait has begun: the watch's timer is due at +0.05 s
    loop.call_at(started + 0.06, waiting.cancel)
    # Hold the loop past both moments, so that both timers fire before the task runs.
    loop.call_at(started + 0.03, time.sleep, 0.06)
    with pytest.raises(asyncio.CancelledError):
        await waiting


@pytest.mark.virtual_time
async def test_a_cancellation_turned_into_another_error_below_is_taken_back() -> None:
    stream = watch(0.05)

    async def translating() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            raise ConnectionError("the reader gave up") from None

    with pytest.raises(ConnectionError):
        await stream.wait(translating())
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


@pytest.mark.virtual_time
async def test_a_shorter_limit_after_the_first_wait_takes_effect_at_once() -> None:
    # A stream's first event may wait 60 s; the silences after it only 0.05 s.
    stream = watch(60)
    await stream.wait(asyncio.sleep(0))
    stream.set_limit(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StallExpired):
        await stream.wait(asyncio.sleep(5))
    stream.close()
    assert loop.time() - started < 5, "not left armed for the first wait's 60 s"
