"""Client-side deadlines: how long a client may take to send its request and to take its answer.

- request head, ``header_timeout_s``: the connection is closed;
- request body, ``body_timeout_s``: 408 (:mod:`sluicegate.server.body`);
- idle keep-alive, ``keepalive_timeout_s``: the connection is closed
  (aiohttp's own ``keepalive_timeout``);
- stalled write, ``write_timeout_s``: the connection is aborted, so the answer
  ends as a client disconnect (499), which cancels its upstream call and
  frees its capacity.

A head is due ``header_timeout_s`` after the connection opened or after the
head's first byte, so a client trickling header bytes (or sending none)
cannot hold a connection; between requests only the keep-alive deadline runs. A write
stalls when the client stops reading: the kernel's socket buffer and then the
transport's fill, the transport pauses the protocol, and every further write
waits. Nothing here costs a timer per request: the head deadline is one
lazily re-armed timer per connection, and the write deadline is armed only
while the transport is paused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sluicegate.config.schema import ServerConfig

# A loop timer may fire up to its clock's resolution early.
_EARLY = 0.005


@dataclass(frozen=True, slots=True)
class ClientDeadlines:
    """The deadlines a connection keeps (the body's is kept where it is read)."""

    header_s: float
    keepalive_s: float
    write_s: float

    @classmethod
    def of(cls, server: ServerConfig) -> ClientDeadlines:
        return cls(
            header_s=server.header_timeout_s,
            keepalive_s=server.keepalive_timeout_s,
            write_s=server.write_timeout_s,
        )


class HeadDeadline:
    """The deadline of the request head a connection is waiting for.

    :meth:`start` notes when a head became due (cheap, and a no-op while one
    is already due); :meth:`done` when it arrived. One timer per connection,
    armed when none is, fires at the due time of the head it was armed for and
    then either expires the current head, re-arms for a later one, or stops
    while no head is due. With requests milliseconds apart it fires about once
    per ``limit_s``.
    """

    __slots__ = ("_handle", "_limit_s", "_loop", "_on_expiry", "_since")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, limit_s: float, on_expiry: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._limit_s = limit_s
        self._on_expiry = on_expiry
        self._since: float | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._since is None:
            self._since = since = self._loop.time()
            if self._handle is None:
                self._handle = self._loop.call_at(since + self._limit_s, self._fire)

    def done(self) -> None:
        self._since = None

    def close(self) -> None:
        self._since = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        since = self._since
        if since is None:
            return  # no head is due: the next one arms again
        due = since + self._limit_s
        if self._loop.time() + _EARLY >= due:
            self._since = None
            self._on_expiry()
        else:
            self._handle = self._loop.call_at(due, self._fire)  # a later head than armed for


class WriteDeadline:
    """Runs out when the transport has stayed paused (the client taking no bytes)
    for ``limit_s``; armed on pause, disarmed on resume."""

    __slots__ = ("_handle", "_limit_s", "_loop", "_on_expiry")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, limit_s: float, on_expiry: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._limit_s = limit_s
        self._on_expiry = on_expiry
        self._handle: asyncio.TimerHandle | None = None

    def paused(self) -> None:
        if self._handle is None:
            self._handle = self._loop.call_later(self._limit_s, self._fire)

    def resumed(self) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._on_expiry()
