"""The deadlines of one upstream call: one rule for every provider and every alias.

A provider sets ``first_token_timeout_s`` (how long the answer may take to
begin), ``idle_timeout_s`` (how long a started stream may stay silent) and
``timeout_s`` (the whole call); an alias may shorten the first and the last and
set its own idle limit (``models[].timeouts``). :meth:`Deadlines.of` works them
out once per target of an alias, and they are kept where it is cheapest:

- a non-streamed call's by its transport (the unary client's one watchdog, or
  aiohttp's timeouts through a proxy), since its first byte is its first token;
- a stream's by one :class:`~sluicegate.providers.stall.StallWatch`, armed
  lazily: until the first event (keep-alive comments do not count) the waits
  are bounded by the first-token deadline, then each by the idle limit, all by
  the total.

An expired first wait is a retryable 504 (another target may answer in time);
a stream that stalls once it has started is a 504 error event.
"""

from __future__ import annotations

import asyncio

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.config import ProviderConfig
from sluicegate.config.schema import TimeoutsConfig
from sluicegate.providers.stall import StallWatch
from sluicegate.providers.transport import Limits


class Deadlines:
    """The timeouts of calls to one target of one alias, worked out once (the
    runtime keeps them on the target), with the transport limits they give."""

    __slots__ = ("connect_s", "first_s", "idle_s", "opening", "provider", "total_s", "unary")

    def __init__(
        self,
        provider: str,
        *,
        connect_s: float | None,
        first_s: float,
        idle_s: float,
        total_s: float,
    ) -> None:
        self.provider = provider
        self.connect_s, self.first_s, self.idle_s, self.total_s = (
            connect_s,
            first_s,
            idle_s,
            total_s,
        )
        # A non-streamed call's transport keeps them all: its first byte is its first token.
        self.unary = Limits(connect_s, first_s, total_s)
        # A stream's transport only connects; its waits are the StallWatch's.
        self.opening = Limits(connect_s)

    @classmethod
    def of(cls, config: ProviderConfig, alias: TimeoutsConfig | None = None) -> Deadlines:
        """A provider's deadlines, with an alias's overrides when given."""
        first, idle, total = config.first_token_timeout_s, config.idle_timeout_s, config.timeout_s
        if alias is not None:
            if alias.first_token_s is not None:
                first = min(first, alias.first_token_s)
            if alias.idle_s is not None:
                idle = alias.idle_s
            if alias.total_s is not None:
                total = min(total, alias.total_s)
        return cls(
            config.name,
            connect_s=config.connect_timeout_s,
            first_s=first,
            idle_s=idle,
            total_s=total,
        )

    def stream(self) -> tuple[StreamDeadlines, StallWatch]:
        """The deadlines of one stream, starting now, and the watch that keeps them."""
        clock = StreamDeadlines(self)
        return clock, StallWatch(asyncio.get_running_loop(), None, clock.first_at, clock.expired)


class StreamDeadlines:
    """One stream's: until its first event the first-token deadline, then the
    idle limit for each wait, all within the total. It holds no reference to its
    watch (the watch holds its ``expired``): no cycle for the collector."""

    __slots__ = ("_deadlines", "_started", "_total_at", "first_at")

    def __init__(self, deadlines: Deadlines) -> None:
        now = asyncio.get_running_loop().time()
        self._deadlines = deadlines
        self._started = False  # the first event has arrived
        self._total_at = now + deadlines.total_s
        self.first_at = min(now + deadlines.first_s, self._total_at)

    def started(self, watch: StallWatch) -> None:
        """The stream's first event has arrived: from now on, the idle limit."""
        self._started = True
        watch.set_limit(self._deadlines.idle_s, self._total_at)

    def expired(self) -> GatewayError:
        d = self._deadlines
        name = d.provider
        if asyncio.get_running_loop().time() >= self._total_at:
            return GatewayError(
                ErrorKind.TIMEOUT,
                f"upstream {name!r} did not finish within {d.total_s:g}s",
                code=ErrorCode.UPSTREAM_TIMEOUT,
                retryable=not self._started,
            )
        if not self._started:
            return GatewayError(
                ErrorKind.TIMEOUT,
                f"upstream {name!r} sent nothing within {d.first_s:g}s",
                code=ErrorCode.UPSTREAM_TIMEOUT,
                retryable=True,
            )
        return GatewayError(
            ErrorKind.TIMEOUT,
            f"upstream {name!r} stalled for {d.idle_s:g}s mid-stream",
            code=ErrorCode.UPSTREAM_STREAM_STALLED,
        )
