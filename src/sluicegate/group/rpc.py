"""The control channel between the supervisor and one worker: calls both ways.

Each end is a ``Peer``: it calls the other end's handlers by name
(``await peer.call("scrape")``) and answers the other end's calls with its
own. Messages are ``Frames`` (``sluicegate.group.wire``): ``(name, id, args)``
for a call (id 0: a notification, not answered), ``("=", id, result)`` for
its result and ``("!", id, message)`` for a handler's failure. Traffic here
is rare (readiness, scrapes, reloads): a task per call is fine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from sluicegate.group.wire import Frames, frame

log = logging.getLogger("sluicegate")

Handler = Callable[..., Awaitable[Any]]


class ChannelClosed(Exception):
    """The other end has gone (its process exited)."""


class RemoteError(Exception):
    """The other end's handler failed; the message says how."""


class Peer(asyncio.Protocol):
    def __init__(
        self, handlers: Mapping[str, Handler], *, on_lost: Callable[[], None] | None = None
    ) -> None:
        self._handlers = dict(handlers)
        self._on_lost = on_lost
        self._frames = Frames()
        self._transport: asyncio.Transport | None = None
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()  # strong references while they run

    @classmethod
    async def connect(
        cls,
        sock: socket.socket,
        handlers: Mapping[str, Handler],
        *,
        on_lost: Callable[[], None] | None = None,
    ) -> Peer:
        peer = cls(handlers, on_lost=on_lost)
        await asyncio.get_running_loop().create_unix_connection(lambda: peer, sock=sock)
        return peer

    @property
    def connected(self) -> bool:
        return self._transport is not None

    async def call(self, name: str, *args: Any) -> Any:
        """The other end's ``name`` handler's result; raises ``RemoteError`` when
        it failed and ``ChannelClosed`` when the other end is gone."""
        if self._transport is None:
            raise ChannelClosed("the other end of the control channel is gone")
        call_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._calls[call_id] = future
        try:
            self._transport.write(frame((name, call_id, args)))
            return await future
        finally:
            del self._calls[call_id]

    def notify(self, name: str, *args: Any) -> None:
        """Call ``name`` on the other end without waiting for (or getting) a result."""
        if self._transport is not None:
            self._transport.write(frame((name, 0, args)))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        for name, call_id, payload in self._frames.feed(data):
            if name == "=" or name == "!":
                future = self._calls.get(call_id)
                if future is None or future.done():
                    continue  # its caller gave up
                if name == "=":
                    future.set_result(payload)
                else:
                    future.set_exception(RemoteError(payload))
                continue
            task = asyncio.get_running_loop().create_task(self._answer(name, call_id, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, name: str, call_id: int, args: tuple[Any, ...]) -> None:
        try:
            handler = self._handlers[name]
            reply = ("=", call_id, await handler(*args))
        except Exception as exc:
            log.exception("control call %r failed", name)
            reply = ("!", call_id, f"{exc.__class__.__name__}: {exc}")
        if call_id and self._transport is not None:
            self._transport.write(frame(reply))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for future in self._calls.values():
            if not future.done():
                future.set_exception(ChannelClosed("the other end of the control channel left"))
        if self._on_lost is not None:
            self._on_lost()
