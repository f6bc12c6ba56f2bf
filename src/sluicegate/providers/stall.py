"""Deadlines on a stream's waits for its upstream, with one timer per stream.

A stream waits on its upstream once per event: hundreds of times for one
answer. ``asyncio.timeout()`` around each wait costs a Timeout, a timer armed
and cancelled, and on Python 3.11 a ``getpid`` system call (``current_task``
checks the process id): about 17k instructions an event, a twelfth of a
streamed request's CPU. Here a wait only notes when it began. The one timer,
when it fires, cancels the waiting task if the wait it was armed for is still
the current one and has lasted its limit; otherwise it re-arms for the current
wait, or not at all while nobody waits. With events a few milliseconds apart
and a limit of seconds, a stream arms its timer about once per limit.

Time spent between waits (the client reading slowly) never counts: only a wait
on the upstream can expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class StallExpired(Exception):
    """A wait on the upstream outlasted its limit or the deadline."""


class StallWatch:
    """Watches the waits of one stream. ``limit_s``: how long one wait may take;
    ``deadline``: loop time by which every wait must be over (either may be None).

    Each wait goes through :meth:`wait`: ``event = await watch.wait(anext(upstream))``.
    ``expired`` makes the exception an expired wait raises (default
    :class:`StallExpired`), so that a stream can raise its own error without
    another layer of coroutines around every wait.
    """

    __slots__ = (
        "_armed_due",
        "_cancelling",
        "_deadline",
        "_expired_error",
        "_fired",
        "_handle",
        "_limit_s",
        "_loop",
        "_since",
        "_task",
        "timers",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit_s: float | None,
        deadline: float | None,
        expired: Callable[[], BaseException] = StallExpired,
    ) -> None:
        self._loop = loop
        self._expired_error = expired
        self._limit_s = limit_s
        self._deadline = deadline
        self._since: float | None = None  # when the current wait began; None: not waiting
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._armed_due = 0.0
        self._fired = False
        self._cancelling = 0
        self.timers = 0  # timers armed so far, for tests and curiosity

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """``await awaitable``, or raise ``expired()`` once it has taken too long."""
        self._begin()
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._expired():
                raise self._expired_error() from None
            raise
        finally:
            self._end()

    def _begin(self) -> None:
        """A wait on the upstream begins, in the current task."""
        loop = self._loop
        self._since = since = loop.time()
        # With the loop given, current_task() makes no system call.
        self._task = asyncio.current_task(loop)
        if self._handle is None:
            self._arm(self._due(since))

    def _end(self) -> None:
        self._since = None
        if self._fired:
            # Cancelled by this watch, but a layer below turned the CancelledError
            # into an error of its own: that error stands; take the request back.
            self._fired = False
            assert self._task is not None
            self._task.uncancel()

    def _expired(self) -> bool:
        """Whether the CancelledError being handled came from this watch (and not
        also from someone else); if so, the task's cancellation is taken back."""
        if not self._fired:
            return False
        self._fired = False
        task = self._task
        assert task is not None
        return task.uncancel() <= self._cancelling

    def set_limit(self, limit_s: float | None, deadline: float | None = None) -> None:
        """Give the waits from now on another limit and deadline (between waits: a
        stream's first event has a deadline of its own, the silences after it a limit)."""
        self._limit_s = limit_s
        self._deadline = deadline
        if self._handle is not None:  # armed for the old limit: the next wait re-arms
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _due(self, since: float) -> float:
        limit, deadline = self._limit_s, self._deadline
        if limit is None:
            assert deadline is not None, "a watch needs a limit or a deadline"
            return deadline
        due = since + limit
        return due if deadline is None or due < deadline else deadline

    def _arm(self, due: float) -> None:
        self._armed_due = due
        self._handle = self._loop.call_at(due, self._fire)
        self.timers += 1

    def _fire(self) -> None:
        self._handle = None
        since, task = self._since, self._task
        if since is None or task is None:
            return  # nobody waits: the next wait arms again
        due = self._due(since)
        if due > self._armed_due:
            self._arm(due)  # a later wait than the one this timer was for
            return
        self._fired = True
        self._cancelling = task.cancelling()
        task.cancel()
