"""The deadlines of one upstream call, beyond its provider's own.

An alias may set (``timeouts``) how long its first event may take, how long a
stream may stay silent between two events (default: the provider's
``idle_timeout_s``), and how long the whole answer may take. All of them are
kept by one :class:`~sluicegate.upstream.stall.StallWatch` per call, armed
lazily, and only when the call has a deadline at all: a first wait with the
first-event limit, every later wait with the idle limit, each capped by the
total. An expired first wait is a retryable 504 (another target may answer in
time); a stream that stalls once it has started is a 504 error event.
"""

from __future__ import annotations

import asyncio

from sluicegate.canonical import ErrorKind, GatewayError
from sluicegate.runtime.aliases import Alias, Target
from sluicegate.upstream.stall import StallWatch


class Deadlines:
    __slots__ = ("_started", "deadline", "first_s", "idle_s", "target", "total_s")

    def __init__(
        self,
        target: Target,
        first_s: float | None,
        idle_s: float | None,
        total_s: float | None,
    ) -> None:
        self.target = target
        self.first_s, self.idle_s, self.total_s = first_s, idle_s, total_s
        self.deadline = None if total_s is None else asyncio.get_running_loop().time() + total_s
        self._started = False  # the first event has arrived

    @classmethod
    def of(cls, alias: Alias, target: Target, *, streaming: bool) -> Deadlines:
        timeouts = alias.config.timeouts
        idle = alias.idle_timeout_s(target) if streaming else None
        return cls(target, timeouts.first_token_s, idle, timeouts.total_s)

    def watch(self) -> StallWatch | None:
        """The watch for the first event's wait, or None when there is nothing to keep."""
        if self.first_s is None and self.deadline is None:
            return None
        return StallWatch(asyncio.get_running_loop(), self.first_s, self.deadline, self.expired)

    def stream_watch(self, first: StallWatch | None) -> StallWatch | None:
        """After the first event: the watch for the rest of the answer, if any."""
        self._started = True
        if self.idle_s is None and self.deadline is None:
            if first is not None:
                first.close()
            return None
        if first is None:
            return StallWatch(asyncio.get_running_loop(), self.idle_s, self.deadline, self.expired)
        first.set_limit(self.idle_s)
        return first

    def expired(self) -> GatewayError:
        label = self.target.label
        if self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline:
            return GatewayError(
                ErrorKind.TIMEOUT,
                f"upstream {label!r} did not finish within {self.total_s:g}s",
                code="upstream_timeout",
                retryable=not self._started,
            )
        if not self._started:
            return GatewayError(
                ErrorKind.TIMEOUT,
                f"upstream {label!r} sent nothing within {self.first_s:g}s",
                code="upstream_timeout",
                retryable=True,
            )
        return GatewayError(
            ErrorKind.TIMEOUT,
            f"upstream {label!r} stalled for {self.idle_s:g}s mid-stream",
            code="upstream_stream_stalled",
        )
