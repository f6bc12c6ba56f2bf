"""Background tasks tied to a lifetime: started on entry, cancelled and awaited on exit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def running(job: Coroutine[Any, Any, object], *, name: str) -> AsyncIterator[None]:
    """Run ``job`` in the background for as long as the context lasts (as in an
    ``AsyncExitStack``); on exit it is cancelled and awaited, so nothing outlives
    the resources it uses."""
    task = asyncio.get_running_loop().create_task(job, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
