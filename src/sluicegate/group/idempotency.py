"""``Idempotency-Key`` answers shared by the workers of one ``sluicegate serve
--workers N`` without Redis: the supervisor holds the one
``MemoryIdempotencyStore``, and each worker's ``GroupIdempotencyStore`` asks
it over a Unix socket pair of its own.

So a retry that lands on another worker is replayed, and a duplicate sent
while the first runs elsewhere waits for it, exactly as in one process: the
decisions are the in-process store's own (same code, same caps on each
answer and on all of them together, same leases), made in one place.

The channel carries one JSON array per line (``sluicegate.group.wire.Lines``),
each message with an id that its answer repeats (a wait is answered long
after later messages):

    ["b", id, tenant id, key, fingerprint]                   begin
        -> [id, "started", claim] | [id, "replay", "", answer] | [id, "conflict"]
         | [id, "running"], then later [id, "replay", "", answer] | [id, "retry"]
    ["c", id, tenant id, key, fingerprint, claim, answer]    complete -> [id, "done"]
    ["a", id, tenant id, key, fingerprint, claim]            abandon  -> [id, "done"]

``answer`` is ``sluicegate.idempotency.wire``'s encoding, embedded as it is.
``[id, "error"]`` answers a message the supervisor failed on (a bug): ``begin``
then fails closed.
``complete`` and ``abandon`` are answered, and awaited as the Redis store's
are, so that the answer is stored before the stream's end reaches the client:
its retry, on whichever worker, finds it. An answer over ``max_entry_bytes``
never travels: the worker releases its claim instead, as the store would.

When a worker's connection closes (it exited or crashed), the claims it held
are abandoned at once: the requests waiting on them, on other workers, run
again instead of waiting for the lease. When the supervisor is gone, ``begin``
fails closed, as the Redis store does when Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import Awaitable
from typing import cast

import msgspec

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.group.at_once import at_once
from sluicegate.group.wire import Lines
from sluicegate.idempotency.store import (
    MAX_ENTRY_BYTES,
    RETRY,
    Begin,
    Conflict,
    InProgress,
    MemoryIdempotencyStore,
    Oversized,
    Replay,
    Retry,
    Scope,
    Started,
    StoredAnswer,
    Token,
    kept_size,
)
from sluicegate.idempotency.wire import decode_answer, encode_answer

__all__ = ["GroupIdempotencyStore", "IdempotencyService"]

log = logging.getLogger("sluicegate.idempotency")

_NULL = msgspec.Raw(b"null")


class _Begin(msgspec.Struct, array_like=True, tag="b"):
    id: int
    tenant_id: str
    key: str
    fingerprint: str


class _Complete(msgspec.Struct, array_like=True, tag="c"):
    id: int
    tenant_id: str
    key: str
    fingerprint: str
    claim: str
    answer: msgspec.Raw


class _Abandon(msgspec.Struct, array_like=True, tag="a"):
    id: int
    tenant_id: str
    key: str
    fingerprint: str
    claim: str


class _Reply(msgspec.Struct, array_like=True):
    id: int
    kind: str  # started | replay | conflict | running | retry | done | error
    claim: str = ""
    answer: msgspec.Raw = _NULL


_encode = msgspec.json.Encoder().encode
_decode_request = msgspec.json.Decoder(_Begin | _Complete | _Abandon).decode
_decode_reply = msgspec.json.Decoder(_Reply).decode


class GroupIdempotencyStore(asyncio.Protocol):
    """A worker's ``IdempotencyStore``: every decision is the supervisor's store's."""

    def __init__(self, *, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.max_entry_bytes = max_entry_bytes
        self.oversized = Oversized(max_entry_bytes)
        self._transport: asyncio.Transport | None = None
        self._lines = Lines()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[_Reply]] = {}
        self._lost = "not connected to the supervisor"

    @classmethod
    async def connect(
        cls, sock: socket.socket, *, max_entry_bytes: int = MAX_ENTRY_BYTES
    ) -> GroupIdempotencyStore:
        """The store over ``sock``, this worker's end of its socket pair."""
        store = cls(max_entry_bytes=max_entry_bytes)
        await asyncio.get_running_loop().create_unix_connection(lambda: store, sock=sock)
        return store

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- IdempotencyStore ----------------------------------------------------

    async def begin(self, scope: Scope, fingerprint: str) -> Begin:
        call = next(self._ids)
        reply = await self._ask(_Begin(call, scope.tenant_id, scope.key, fingerprint))
        if reply.kind == "started":
            return Started(Token(scope, fingerprint, reply.claim))
        if reply.kind == "replay":
            return Replay(decode_answer(reply.answer))
        if reply.kind == "conflict":
            return Conflict()
        # Running elsewhere: the supervisor answers this id again once it ends.
        return InProgress(self._outcome(call, self._expect(call)))

    async def complete(self, token: Token, answer: StoredAnswer) -> None:
        encoded = encode_answer(answer)
        size = kept_size(token, encoded)
        if size > self.max_entry_bytes:  # not worth the trip: the store would refuse it
            self.oversized.note(token.scope, size)
            await self.abandon(token)
            return
        scope = token.scope
        message = _Complete(
            next(self._ids),
            scope.tenant_id,
            scope.key,
            token.fingerprint,
            token.claim,
            msgspec.Raw(encoded),
        )
        await self._tell(message)

    async def abandon(self, token: Token) -> None:
        scope = token.scope
        await self._tell(
            _Abandon(next(self._ids), scope.tenant_id, scope.key, token.fingerprint, token.claim)
        )

    # -- the channel ---------------------------------------------------------

    async def _ask(self, message: _Begin | _Complete | _Abandon) -> _Reply:
        transport = self._transport
        if transport is None:
            raise GatewayError(
                ErrorKind.UNAVAILABLE,
                f"the idempotency store is unreachable: {self._lost}",
                code=ErrorCode.IDEMPOTENCY_STORE_UNAVAILABLE,
            )
        future = self._expect(message.id)
        transport.write(_encode(message) + b"\n")
        try:
            reply = await future
        finally:
            self._waiting.pop(message.id, None)
        if reply.kind == "error":
            raise GatewayError(
                ErrorKind.UNAVAILABLE,
                "the group's idempotency store failed (see the supervisor's log)",
                code=ErrorCode.IDEMPOTENCY_STORE_UNAVAILABLE,
            )
        return reply

    async def _tell(self, message: _Complete | _Abandon) -> None:
        """Complete or abandon: the answer has gone to the client, so a failure is
        logged, not raised (the claim ends with its lease, or with the supervisor)."""
        try:
            await self._ask(message)
        except GatewayError as exc:
            log.warning("idempotency: could not %s a claim: %s", type(message).__name__, exc)

    def _expect(self, call: int) -> asyncio.Future[_Reply]:
        future: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        self._waiting[call] = future
        return future

    async def _outcome(self, call: int, waiter: asyncio.Future[_Reply]) -> Replay | Retry:
        try:
            reply = await waiter
        finally:
            self._waiting.pop(call, None)  # given up (the stage's wait timed out)
        if reply.kind == "replay":
            return Replay(decode_answer(reply.answer))
        return RETRY

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            reply = _decode_reply(line)
            future = self._waiting.pop(reply.id, None)
            if future is not None and not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._lost = "the worker group's supervisor is gone"
        error = GatewayError(
            ErrorKind.UNAVAILABLE,
            f"the idempotency store is unreachable: {self._lost}",
            code=ErrorCode.IDEMPOTENCY_STORE_UNAVAILABLE,
        )
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)


class IdempotencyService:
    """The supervisor's side: one ``MemoryIdempotencyStore`` for every worker."""

    def __init__(self, store: MemoryIdempotencyStore | None = None) -> None:
        # Not `store or ...`: a store with no answers yet has len() 0, so is falsy.
        self.store = store if store is not None else MemoryIdempotencyStore()
        self._tasks: set[asyncio.Task[None]] = set()  # waits, while they run

    async def serve(self, sock: socket.socket) -> asyncio.Event:
        """Answer the worker at the other end of ``sock`` until it goes away; the
        event is set when it has."""
        connection = _Connection(self)
        await asyncio.get_running_loop().create_unix_connection(lambda: connection, sock=sock)
        return connection.gone

    def handle(self, message: _Begin | _Complete | _Abandon, connection: _Connection) -> _Reply:
        """One message from a worker; its answer. The store's methods never suspend
        (it is one process's), so each is run to its end here."""
        store = self.store
        scope = Scope(message.tenant_id, message.key)
        if isinstance(message, _Begin):
            begun = at_once(store.begin(scope, message.fingerprint))
            if isinstance(begun, Started):
                connection.claims[scope] = begun.token
                return _Reply(message.id, "started", begun.token.claim)
            if isinstance(begun, Replay):
                return _Reply(message.id, "replay", "", msgspec.Raw(encode_answer(begun.answer)))
            if isinstance(begun, Conflict):
                return _Reply(message.id, "conflict")
            self._wait(connection, message.id, begun.waiter)
            return _Reply(message.id, "running")
        token = Token(scope, message.fingerprint, message.claim)
        if connection.claims.get(scope) == token:
            del connection.claims[scope]
        if isinstance(message, _Complete):
            at_once(store.complete(token, decode_answer(message.answer)))
        else:
            at_once(store.abandon(token))
        return _Reply(message.id, "done")

    def abandon(self, connection: _Connection) -> int:
        """A worker is gone: release its claims, so that their waiters run again."""
        claims, connection.claims = connection.claims, {}
        for token in claims.values():
            at_once(self.store.abandon(token))
        return len(claims)

    def _wait(self, connection: _Connection, call: int, waiter: Awaitable[Replay | Retry]) -> None:
        async def wait() -> None:
            outcome = await waiter  # ends by the claim's lease at the latest
            if isinstance(outcome, Replay):
                connection.send(
                    _Reply(call, "replay", "", msgspec.Raw(encode_answer(outcome.answer)))
                )
            else:
                connection.send(_Reply(call, "retry"))

        task = asyncio.get_running_loop().create_task(wait())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Connection(asyncio.Protocol):
    """One worker's idempotency channel, on the supervisor's side."""

    def __init__(self, service: IdempotencyService) -> None:
        self.service = service
        self.claims: dict[Scope, Token] = {}  # begun over this connection, not yet ended
        self._lines = Lines()
        self._transport: asyncio.Transport | None = None
        self.gone = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, reply: _Reply) -> None:
        if self._transport is not None:
            self._transport.write(_encode(reply) + b"\n")

    def data_received(self, data: bytes) -> None:
        replies: list[bytes] = []
        for line in self._lines.feed(data):
            try:
                message = _decode_request(line)
            except (msgspec.DecodeError, ValueError):  # a bug: nothing to answer by id
                log.exception("unreadable idempotency message %r", line[:200])
                continue
            try:
                reply = self.service.handle(message, self)
            except Exception:  # a bug: answer it, so the worker is not left waiting
                log.exception("the group idempotency store failed on %r", line[:200])
                reply = _Reply(message.id, "error")
            replies.append(_encode(reply))
        if replies and self._transport is not None:
            replies.append(b"")
            self._transport.write(b"\n".join(replies))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        released = self.service.abandon(self)
        if released:
            log.warning("a worker went away holding %d Idempotency-Key claims; released", released)
        self.gone.set()
