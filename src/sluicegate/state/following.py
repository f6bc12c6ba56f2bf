"""Keeping an in-memory index in step with its store, the way every replica does.

The tenant directory and the prompt registry each poll their store's change
counter and reload when it moves. A store that cannot be reached leaves the
index as it was (requests go on being served from memory) and is said once,
not at every poll, and once more when it answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def follow(
    refresh: Callable[[], Awaitable[object]], interval_s: float, what: str, log: logging.Logger
) -> None:
    """Call ``refresh`` every ``interval_s`` until cancelled; ``what`` names the index."""
    failing = False
    while True:
        await asyncio.sleep(interval_s)
        try:
            await refresh()
        except Exception as exc:
            if not failing:
                log.warning("%s not refreshed; serving the last one: %s", what, exc)
            failing = True
        else:
            if failing:
                log.info("%s refreshed again", what)
            failing = False
