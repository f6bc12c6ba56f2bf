"""Limits shared exactly by the workers of one ``sluicegate serve --workers N``
without Redis: the supervisor holds the one ``MemoryLimiter`` and answers
every worker's admissions over a Unix socket pair.

Why the supervisor rather than shared memory or the database: the state
then is the in-process limiter itself, so the group decides exactly as one
process would (same code, same arithmetic, nothing to keep in step); a worker
that dies holds no lock, and the supervisor sees its socket close and frees
its concurrency slots at once instead of waiting for their leases; and SQLite
would put a write transaction on every admission.

The channel carries one JSON array per line (``sluicegate.group.wire.Lines``).
A worker sends, and the supervisor answers in order (so answers need no ids:
the worker keeps a queue of the futures waiting for them):

    ["a", rules, tokens, cost_usd, now]  -> [1, ticket id, remaining, reset_s, limit]
                                         or [0, rule, subject, retry_after_s,
                                             remaining, reset_s, limit]
    ["s", ticket id, tokens, cost_usd]   -> null    settle
    ["r", ticket id]                     -> null    release
    ["p", subject, period, now]          -> USD     spent
    ["c"]                                -> bool    cold (budgets not yet rebuilt)
    ["b", [[key, micro, ttl_s], ...]]    -> bool    seed budgets (once)

and without an answer:

    ["S", ticket id, tokens, cost_usd]   settle_later
    ["n", ticket id, now]                renew
    ["R", ticket id]                     release (an admission whose caller went away)

A rule travels as ``[subject, rpm, tpm, max_concurrency, budget_usd,
budget_period]``. A reply ``{"error": message}`` means the supervisor failed
to handle the message; the caller gets ``LimiterUnavailable``.

One round trip per admission, as with Redis: ``settle_later`` queues its
message, which goes in the same write as this worker's next admission, or at
the end of the event loop's current pass when none comes first. Not 50 ms
later as the Redis limiter does: behind one listening socket, a client's next
connection may land on another worker, and a strictly sequential client at
``max_concurrency: 1`` should find its previous request's slot already free.
Settlement runs as the answer's events end, so the message leaves in the same
pass of the loop as the answer's last bytes, long before the client's next
request can reach another worker's admission (likely, not guaranteed: nothing
on the request path waits for it, as nothing does with Redis).

Tickets live in the supervisor; a worker's ``Ticket`` carries only the id.
A ticket may be settled over another worker's connection (the supervisor
looks it up by id). When a worker's connection closes (the worker exited or
crashed), its unsettled tickets are settled at what they reserved: their
concurrency slots come free, and their requests and reserved tokens and cost
stay counted, since the requests were admitted and may have run.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import orjson

from sluicegate.admission.budget_periods import usd_to_micro
from sluicegate.admission.limiter import Ask, Decision, LimiterUnavailable, Rule, Ticket
from sluicegate.admission.memory_limiter import MemoryLimiter
from sluicegate.group.at_once import at_once
from sluicegate.group.wire import Lines

if TYPE_CHECKING:
    from sluicegate.admission.rebuild import BudgetSeed

__all__ = ["GroupLimiter", "LimiterService"]

log = logging.getLogger("sluicegate.admission")


class GroupLimiter(asyncio.Protocol):
    """A worker's ``Limiter``: every call is answered by the supervisor's."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._lines = Lines()
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._outbox: list[bytes] = []  # messages without an answer, not yet written
        self._flush_soon: asyncio.Handle | None = None
        self._lost = "not connected to the supervisor"
        self.round_trips = 0  # to the supervisor, for the metrics

    @classmethod
    async def connect(cls, sock: socket.socket) -> GroupLimiter:
        """The limiter over ``sock``, this worker's end of its socket pair."""
        limiter = cls()
        await asyncio.get_running_loop().create_unix_connection(lambda: limiter, sock=sock)
        return limiter

    def close(self) -> None:
        """Leave the group's limiter (the supervisor frees what is still held)."""
        if self._transport is not None:
            self._transport.close()

    # -- Limiter ------------------------------------------------------------

    async def admit(self, rules: Sequence[Rule], ask: Ask) -> Decision:
        specs = [
            [r.subject, r.rpm, r.tpm, r.max_concurrency, r.budget_usd, r.budget_period]
            for r in rules
        ]
        reply = await self._ask(orjson.dumps(["a", specs, ask.tokens, ask.cost_usd, ask.now]))
        if reply[0]:
            _, tid, remaining, reset_s, limit = reply
            ticket = Ticket(
                tid, math.floor(ask.now), ask.tokens, usd_to_micro(ask.cost_usd), (), (), (), ()
            )
            return Decision(True, None, None, None, remaining, reset_s, ticket, limit)
        _, rule, subject, retry_after_s, remaining, reset_s, limit = reply
        return Decision(False, rule, subject, retry_after_s, remaining, reset_s, None, limit)

    async def settle(self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float) -> None:
        if not ticket.end():
            return
        await self._ask(orjson.dumps(["s", ticket.id, tokens, cost_usd]))

    async def settle_later(
        self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float
    ) -> None:
        if not ticket.end():
            return
        self._later(orjson.dumps(["S", ticket.id, tokens, cost_usd]))

    async def flush(self) -> None:
        if self._outbox and self._transport is not None:
            self._transport.write(b"\n".join([*self._outbox, b""]))
        self._outbox.clear()

    async def release(self, ticket: Ticket) -> None:
        if not ticket.end():
            return
        await self._ask(orjson.dumps(["r", ticket.id]))

    async def renew(self, ticket: Ticket, now: float) -> None:
        if not ticket.done:
            self._later(orjson.dumps(["n", ticket.id, now]))

    async def spent(self, subject: str, period: str, now: float) -> float:
        usd: float = await self._ask(orjson.dumps(["p", subject, period, now]))
        return usd

    # -- BudgetSeeding (the rebuild from the ledger) -------------------------

    async def cold(self) -> bool:
        cold: bool = await self._ask(b'["c"]')
        return cold

    async def seed_budgets(self, seeds: list[BudgetSeed]) -> bool:
        spec = [[s.key, s.micro, s.ttl_s] for s in seeds]
        seeded: bool = await self._ask(orjson.dumps(["b", spec]))
        return seeded

    # -- the channel ---------------------------------------------------------

    async def _ask(self, message: bytes) -> Any:
        transport = self._transport
        if transport is None:
            raise LimiterUnavailable(self._lost)
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        outbox = self._outbox
        if outbox:  # what is waiting goes first, in the same write
            outbox.append(message)
            outbox.append(b"")
            transport.write(b"\n".join(outbox))
            outbox.clear()
        else:
            transport.write(message + b"\n")
        self.round_trips += 1
        reply = await future
        if type(reply) is dict:
            raise LimiterUnavailable(f"the supervisor's limiter failed: {reply.get('error')}")
        return reply

    def _later(self, message: bytes) -> None:
        if self._transport is None:
            return  # the supervisor is gone, and with it every reservation
        self._outbox.append(message)
        if self._flush_soon is None:
            self._flush_soon = asyncio.get_running_loop().call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_soon = None
        if self._outbox and self._transport is not None:
            self._transport.write(b"\n".join([*self._outbox, b""]))
        self._outbox.clear()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        waiting = self._waiting
        for line in self._lines.feed(data):
            reply = orjson.loads(line)
            future = waiting.popleft()
            if not future.cancelled():
                future.set_result(reply)
            elif type(reply) is list and reply[0] == 1:
                # Its caller went away while it was admitted: give the reservation back.
                self._later(orjson.dumps(["R", reply[1]]))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._lost = "the worker group's supervisor is gone"
        self._outbox.clear()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(LimiterUnavailable(self._lost))


class LimiterService:
    """The supervisor's side: one ``MemoryLimiter`` for every worker's connection."""

    def __init__(self, limiter: MemoryLimiter | None = None) -> None:
        self.limiter = limiter or MemoryLimiter()
        self._tickets: dict[str, tuple[Ticket, _Connection]] = {}
        self._rules: dict[tuple[Any, ...], Rule] = {}

    async def serve(self, sock: socket.socket) -> asyncio.Event:
        """Answer the worker at the other end of ``sock`` until it goes away; the
        event is set when it has."""
        connection = _Connection(self)
        await asyncio.get_running_loop().create_unix_connection(lambda: connection, sock=sock)
        return connection.gone

    @property
    def unsettled(self) -> int:
        """Tickets admitted and not yet settled or released (requests in flight)."""
        return len(self._tickets)

    def handle(self, message: list[Any], connection: _Connection) -> bytes | None:
        """One message from a worker; its answer, or None when it has none."""
        op = message[0]
        limiter = self.limiter
        if op == "a":
            rules = [self._rule(spec) for spec in message[1]]
            d = at_once(limiter.admit(rules, Ask(message[2], message[3], message[4])))
            if d.ticket is not None:
                self._tickets[d.ticket.id] = (d.ticket, connection)
                return orjson.dumps([1, d.ticket.id, d.remaining, d.reset_s, d.limit])
            return orjson.dumps(
                [0, d.rule, d.subject, d.retry_after_s, d.remaining, d.reset_s, d.limit]
            )
        if op == "S" or op == "s":
            held = self._tickets.pop(message[1], None)
            if held is not None:
                at_once(
                    limiter.settle(held[0], tokens=message[2], cost_usd=message[3], now=0.0)
                )
            return None if op == "S" else b"null"
        if op == "r" or op == "R":
            held = self._tickets.pop(message[1], None)
            if held is not None:
                at_once(limiter.release(held[0]))
            return b"null" if op == "r" else None
        if op == "n":
            held = self._tickets.get(message[1])
            if held is not None:
                at_once(limiter.renew(held[0], message[2]))
            return None
        if op == "p":
            return orjson.dumps(at_once(limiter.spent(message[1], message[2], message[3])))
        if op == "c":
            return orjson.dumps(at_once(limiter.cold()))
        if op == "b":
            from sluicegate.admission.rebuild import BudgetSeed

            seeds = [BudgetSeed(key, micro, ttl) for key, micro, ttl in message[1]]
            return orjson.dumps(at_once(limiter.seed_budgets(seeds)))
        raise ValueError(f"unknown limiter message {op!r}")

    def abandon(self, connection: _Connection) -> int:
        """A worker is gone: settle its tickets at what they reserved (frees their
        concurrency slots, keeps their requests, tokens and cost counted)."""
        mine = [tid for tid, (_, owner) in self._tickets.items() if owner is connection]
        for tid in mine:
            ticket, _ = self._tickets.pop(tid)
            at_once(
                self.limiter.settle(
                    ticket, tokens=ticket.tokens, cost_usd=ticket.cost_micro / 1e6, now=0.0
                )
            )
        return len(mine)

    def _rule(self, spec: list[Any]) -> Rule:
        key = tuple(spec)
        rule = self._rules.get(key)
        if rule is None:
            if len(self._rules) >= 4096:  # tenants' limits changed many times: start over
                self._rules.clear()
            rule = self._rules[key] = Rule(*spec)
        return rule


class _Connection(asyncio.Protocol):
    """One worker's limiter channel, on the supervisor's side."""

    def __init__(self, service: LimiterService) -> None:
        self.service = service
        self._lines = Lines()
        self._transport: asyncio.Transport | None = None
        self.gone = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        handle = self.service.handle
        replies: list[bytes] = []
        for line in self._lines.feed(data):
            try:
                reply = handle(orjson.loads(line), self)
            except Exception as exc:  # a bug: answer it, so the worker is not left waiting
                log.exception("the group limiter failed on %r", line[:200])
                reply = orjson.dumps({"error": f"{exc.__class__.__name__}: {exc}"})
            if reply is not None:
                replies.append(reply)
        if replies and self._transport is not None:
            replies.append(b"")
            self._transport.write(b"\n".join(replies))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        freed = self.service.abandon(self)
        if freed:
            log.warning(
                "a worker went away with %d admitted requests unsettled; their "
                "concurrency slots are free, their reservations stay counted",
                freed,
            )
        self.gone.set()
