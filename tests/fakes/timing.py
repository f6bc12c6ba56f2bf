"""Time for tests that must not depend on how fast (or how busy) the machine is.

- :class:`VirtualTimeLoop`: an event loop whose clock only moves when every
  task is waiting on a timer, and then jumps straight to the next one. A test
  on it (``@pytest.mark.virtual_time``) sees exactly the timeouts, sleeps and
  polls the code asks for, in the order their times say, however slowly its
  callbacks run. For code that waits only on the loop's own timers: real I/O
  (sockets, threads) would still be pending when the clock jumps past it.
- :func:`eventually`: wait for a condition that real I/O makes true, with one
  generous overall bound that only a bug (a condition that never holds) reaches.
"""

from __future__ import annotations

import asyncio
import inspect
import selectors
import time
from collections.abc import Awaitable, Callable

import pytest

NEVER_S = 30.0
"""The bound of :func:`eventually`: far past any wait a working system needs,
on any machine; reaching it means the awaited thing never happened."""

NO_ANSWER_S = 3600.0
"""A fake upstream's delay that no test outlives (the fakes' waits end when they
close): a test that gets past it was cut off by a timeout, however slow it ran."""


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """Polls for I/O without blocking; instead of sleeping until the next timer,
    moves the virtual clock to it."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.now = start

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only I/O (a thread's wake-up) can go on
            return list(super().select(None))
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """``loop.time()`` is virtual: it stands still while anything is ready to run
    and jumps to the next timer when nothing is."""

    def __init__(self) -> None:
        self._virtual = _VirtualSelector(start=1_000.0)
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], what: str, *, within: float = NEVER_S
) -> None:
    """Return once ``check()`` holds; fail with ``what`` if it still does not
    after ``within`` seconds (a bound a working system never comes near)."""
    give_up = time.monotonic() + within
    while True:
        held = check()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > give_up:
            pytest.fail(f"{what} (not within {within:g}s)")
        await asyncio.sleep(0.005)
