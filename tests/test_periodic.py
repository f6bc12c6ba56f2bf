"""Periodic background jobs: on schedule, and a failing run does not end them.

The schedule runs on a fake clock: time passes only when the job sleeps, so
the tests check the exact times of the runs without waiting for any of them.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from sluicegate.periodic import every


class Stop(Exception):
    """Raised by the fake clock to end the loop after a set number of sleeps."""


class FakeClock:
    def __init__(self, sleeps_before_stop: int) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._limit = sleeps_before_stop

    async def sleep(self, seconds: float) -> None:
        if len(self.sleeps) == self._limit:
            raise Stop
        self.sleeps.append(seconds)
        self.now += seconds


async def test_a_failing_run_is_logged_and_the_job_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(sleeps_before_stop=2)
    runs: list[float] = []

    async def job() -> None:
        runs.append(clock.now)
        if len(runs) == 1:
            raise RuntimeError("first run breaks")

    with caplog.at_level(logging.WARNING), pytest.raises(Stop):
        await every(10, job, what="the test job", at_once=True, sleep=clock.sleep)
    assert runs == [0, 10, 20]
    assert [r.getMessage() for r in caplog.records] == [
        "the test job failed; trying again in 10s: first run breaks"
    ]


async def test_without_at_once_the_first_run_waits_one_interval() -> None:
    clock = FakeClock(sleeps_before_stop=2)
    runs: list[float] = []

    async def job() -> None:
        runs.append(clock.now)

    with pytest.raises(Stop):
        await every(5, job, what="job", sleep=clock.sleep)
    assert runs == [5, 10]


async def test_cancelling_ends_the_job_between_runs() -> None:
    runs: list[int] = []
    sleeping = asyncio.Event()

    async def sleep_forever(_seconds: float) -> None:
        sleeping.set()
        await asyncio.Event().wait()

    async def job() -> None:
        runs.append(1)

    task = asyncio.create_task(every(60, job, what="job", at_once=True, sleep=sleep_forever))
    await sleeping.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == [1]
