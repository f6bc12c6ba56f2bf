"""Periodic background jobs: on schedule, and a failing run does not end them."""

from __future__ import annotations

import asyncio
import contextlib

from sluicegate.periodic import every


async def test_a_failing_run_is_logged_and_the_job_goes_on(caplog) -> None:  # type: ignore[no-untyped-def]
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("first run breaks")

    task = asyncio.create_task(every(0.01, job, what="the test job", at_once=True))
    await asyncio.sleep(0.045)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert len(runs) >= 3
    assert any("the test job failed" in r.message for r in caplog.records)


async def test_without_at_once_the_first_run_waits_one_interval() -> None:
    runs: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def job() -> None:
        runs.append(loop.time() - started)

    task = asyncio.create_task(every(0.05, job, what="job"))
    await asyncio.sleep(0.02)
    assert runs == []
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert len(runs) == 1 and runs[0] >= 0.05
