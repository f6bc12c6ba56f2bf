"""Background jobs that run every so often for the life of the gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("sluicegate")

Sleep = Callable[[float], Awaitable[object]]


async def every(
    interval_s: float,
    job: Callable[[], Awaitable[object]],
    *,
    what: str,
    at_once: bool = False,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Run ``job`` every ``interval_s`` until cancelled (first at once, or after one
    interval); a run that fails is logged and the next one goes ahead as planned.

    ``sleep`` waits between runs; tests pass a fake clock's, so that a schedule is
    checked without waiting for it.
    """
    if not at_once:
        await sleep(interval_s)
    while True:
        try:
            await job()
        except Exception as exc:
            log.warning("%s failed; trying again in %gs: %s", what, interval_s, exc)
        await sleep(interval_s)
