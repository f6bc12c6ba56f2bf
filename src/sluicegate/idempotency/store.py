"""Where idempotent answers are kept: claims on keys, and the answers they produced.

The store decides, atomically per scope, which of the requests carrying one
Idempotency-Key runs upstream. :meth:`IdempotencyStore.begin` answers with

- :class:`Started`: the caller is first and owns a claim on the scope; it must
  later :meth:`~IdempotencyStore.complete` or :meth:`~IdempotencyStore.abandon` it;
- :class:`Replay`: a complete answer to the same request is stored; serve it;
- :class:`Conflict`: the key was used for a different request (finished or running);
- :class:`InProgress`: the same request is running; await ``waiter``, which gives
  a :class:`Replay` once the first completes, or :data:`RETRY` when it gave up
  (failed, or its client went away), after which the caller calls ``begin``
  again: one of the waiters becomes the new first, the others wait again.

The interface is made so that a Redis implementation can follow without
changing callers: every method is a coroutine, and each is a single atomic step
on the store (a Lua script, or ``SET NX PX``): ``begin`` reads the stored answer
or sets a claim key with a lease; ``complete`` checks that the token still owns
the claim, writes the answer with the TTL and deletes the claim; waiters learn
of the outcome through a pub/sub message or by polling, and a claim whose owner
died (a replica crashed) ends with its lease. Such a store needs a wire encoding
for :class:`StoredAnswer`: the canonical ``Event`` union is not tagged, so the
encoding must name each event's type.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sluicegate.canonical import Event, Usage, last_usage

log = logging.getLogger("sluicegate.idempotency")

# Defaults of the idempotency config: an answer over MAX_ENTRY_BYTES is served
# but not kept; the in-process store keeps at most MAX_BYTES of answers.
MAX_ENTRY_BYTES = 4 * 1024 * 1024
MAX_BYTES = 64 * 1024 * 1024


class Scope(NamedTuple):
    """Whose key it is: keys of different tenants never meet, nor those of a deleted
    tenant and one later created under its name."""

    tenant_id: str  # Tenant.id
    key: str


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A complete, successful answer, kept to be served again.

    ``events`` are the canonical events exactly as the first request received
    them, so a repeat is encoded by egress like a fresh answer: as a stream for
    a streaming client, as one JSON body for the others.
    """

    events: tuple[Event, ...]
    target: str | None  # label ("provider/model") of the target that served it
    alias: str | None  # the alias that target belongs to (a fallback's, perhaps)
    request_id: str  # RequestContext.id of the request that ran upstream
    attempts: int  # upstream attempts that request made
    first_event_s: float | None  # its time from start to the first upstream event

    @property
    def usage(self) -> Usage | None:
        """The usage the upstream reported for the first request (the last one given)."""
        return last_usage(self.events)


@dataclass(frozen=True, slots=True)
class Token:
    """Proof of a claim: only its holder may complete or abandon it.

    ``claim`` tells successive claims on one scope apart, so that a holder whose
    lease ran out cannot overwrite the work of the one that followed it.
    """

    scope: Scope
    fingerprint: str
    claim: str


@dataclass(frozen=True, slots=True)
class Started:
    token: Token


@dataclass(frozen=True, slots=True)
class Replay:
    answer: StoredAnswer


@dataclass(frozen=True, slots=True)
class Conflict:
    """The key was used for a different request; the stored answer is not for this one."""


class Retry:
    """The first request gave up without an answer: call ``begin`` again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY = Retry()


@dataclass(frozen=True, slots=True)
class InProgress:
    """The same request is running. ``waiter`` may be awaited once."""

    waiter: Awaitable[Replay | Retry]


Begin = Started | Replay | Conflict | InProgress


class IdempotencyStore(Protocol):
    # The largest answer kept (its encoding), and the log of those too large.
    max_entry_bytes: int
    oversized: Oversized

    async def begin(self, scope: Scope, fingerprint: str) -> Begin:
        """Claim ``scope`` for a request, or tell the caller why it may not."""
        ...

    async def complete(self, token: Token, answer: StoredAnswer) -> None:
        """Store the claim's answer for the TTL and hand it to the waiters.

        Ignored when the token no longer owns the claim (its lease ran out). An
        answer too large to keep releases the claim instead, as :meth:`abandon`.
        """
        ...

    async def abandon(self, token: Token) -> None:
        """Release the claim without an answer; waiters retry. Idempotent."""
        ...


def kept_size(token: Token, encoded: bytes) -> int:
    """What an answer takes once kept: its wire encoding (``encoded``) and its key."""
    scope = token.scope
    return len(encoded) + len(scope.tenant_id) + len(scope.key) + len(token.fingerprint)


class _Claim:
    __slots__ = ("done", "lease_ends", "token")

    def __init__(self, token: Token, lease_ends: float) -> None:
        self.token = token
        self.lease_ends = lease_ends
        # Created by the first waiter only: most claims never have one.
        self.done: asyncio.Future[Replay | Retry] | None = None

    def settle(self, outcome: Replay | Retry) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(outcome)


class _Entry:
    __slots__ = ("answer", "expires", "fingerprint", "size")

    def __init__(self, fingerprint: str, answer: StoredAnswer, expires: float, size: int) -> None:
        self.fingerprint = fingerprint
        self.answer = answer
        self.expires = expires
        self.size = size


class Oversized:
    """Answers too large to keep: served, not stored, their key released.

    The first is logged as a warning (the operator may want a larger
    ``idempotency.max_entry_bytes``), later ones at debug level: one client
    asking for huge answers must not flood the log.
    """

    def __init__(self, max_entry_bytes: int) -> None:
        self.max_entry_bytes = max_entry_bytes
        self.count = 0

    def note(self, scope: Scope, size: int) -> None:
        self.count += 1
        log.log(
            logging.WARNING if self.count == 1 else logging.DEBUG,
            "idempotency: the answer for tenant %r (%d bytes) is over max_entry_bytes (%d): "
            "served but not kept, so a retry with its key runs again%s",
            scope.tenant_id,
            size,
            self.max_entry_bytes,
            "; further ones are logged at debug level" if self.count == 1 else "",
        )


class _Waiter:
    """Awaitable that waits only once awaited: dropping it unawaited costs nothing."""

    __slots__ = ("_claim", "_store")

    def __init__(self, store: MemoryIdempotencyStore, claim: _Claim) -> None:
        self._store = store
        self._claim = claim

    def __await__(self) -> Generator[Any, None, Replay | Retry]:
        return self._store._wait(self._claim).__await__()


class MemoryIdempotencyStore:
    """The in-process store: one replica's claims and answers, in two ordered dicts.

    Answers expire ``ttl_s`` after they were stored. They are bounded by their
    size, counted as the Redis store would keep them: one over
    ``max_entry_bytes`` is not kept at all (its key is released, as for a
    failed answer, so a retry runs again), and once the answers kept take more
    than ``max_bytes``, or number more than ``max_entries``, the least recently
    used go first. Claims are bounded by the requests in flight, and each holds
    a lease of ``lease_s`` (longer than the longest request should take) after
    which it counts as abandoned, so that a claim whose holder vanished cannot
    block its key for ever.

    Claims are created in the order they expire (same lease, a monotonic
    clock), so their expiry only ever looks at the oldest. Answers are kept in
    the order they were last used, which is about the order they expire; the
    sweep stops at the first live one, so an expired answer behind it goes when
    it is next looked up, or evicted (it counts against ``max_bytes`` until then).
    """

    def __init__(
        self,
        *,
        ttl_s: float = 86400.0,
        max_entries: int = 100_000,
        lease_s: float = 900.0,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        # The wire module needs this one's StoredAnswer: imported once both exist.
        from sluicegate.idempotency.wire import encode_answer

        self._encoded = encode_answer
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.lease_s = lease_s
        self.max_entry_bytes = max_entry_bytes
        self.max_bytes = max_bytes
        self.bytes = 0  # the size of the answers kept
        self.oversized = Oversized(max_entry_bytes)
        self._clock = clock
        self._claims: OrderedDict[Scope, _Claim] = OrderedDict()
        self._answers: OrderedDict[Scope, _Entry] = OrderedDict()
        self._claim_ids = itertools.count(1)

    def __len__(self) -> int:
        """The number of answers stored."""
        return len(self._answers)

    async def begin(self, scope: Scope, fingerprint: str) -> Begin:
        now = self._clock()
        self._expire(now)
        claim = self._claims.get(scope)
        if claim is not None:
            if claim.token.fingerprint != fingerprint:
                return Conflict()
            return InProgress(_Waiter(self, claim))
        entry = self._answers.get(scope)
        if entry is not None and entry.expires <= now:
            self._drop(scope)  # expired behind a live one (see the class's docstring)
            entry = None
        if entry is not None:
            if entry.fingerprint != fingerprint:
                return Conflict()
            self._answers.move_to_end(scope)
            return Replay(entry.answer)
        token = Token(scope, fingerprint, str(next(self._claim_ids)))
        self._claims[scope] = _Claim(token, now + self.lease_s)
        return Started(token)

    async def complete(self, token: Token, answer: StoredAnswer) -> None:
        claim = self._release(token)
        if claim is None:
            return
        scope = token.scope
        size = kept_size(token, self._encoded(answer))
        if size > self.max_entry_bytes or size > self.max_bytes:
            self.oversized.note(scope, size)
            claim.settle(RETRY)  # as for a failed answer: one waiter runs it again
            return
        if scope in self._answers:
            self._drop(scope)
        self._answers[scope] = _Entry(token.fingerprint, answer, self._clock() + self.ttl_s, size)
        self.bytes += size
        while self.bytes > self.max_bytes or len(self._answers) > self.max_entries:
            self._drop(next(iter(self._answers)))
        claim.settle(Replay(answer))

    async def abandon(self, token: Token) -> None:
        claim = self._release(token)
        if claim is not None:
            claim.settle(RETRY)

    def _release(self, token: Token) -> _Claim | None:
        claim = self._claims.get(token.scope)
        if claim is None or claim.token != token:
            return None
        del self._claims[token.scope]
        return claim

    def _drop(self, scope: Scope) -> None:
        self.bytes -= self._answers.pop(scope).size

    def _expire(self, now: float) -> None:
        answers = self._answers
        while answers:
            scope, entry = next(iter(answers.items()))
            if entry.expires > now:
                break
            self._drop(scope)
        claims = self._claims
        while claims:
            scope, claim = next(iter(claims.items()))
            if claim.lease_ends > now:
                break
            del claims[scope]
            claim.settle(RETRY)

    async def _wait(self, claim: _Claim) -> Replay | Retry:
        if claim.done is None:
            claim.done = asyncio.get_running_loop().create_future()
        # Shielded: one waiter giving up must not cancel the outcome for the others.
        done = asyncio.shield(claim.done)
        try:
            return await asyncio.wait_for(done, max(0.0, claim.lease_ends - self._clock()))
        except TimeoutError:
            # The lease ran out with no word from the holder: the next begin() ends it.
            return RETRY
