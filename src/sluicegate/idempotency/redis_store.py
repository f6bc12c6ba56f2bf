"""The idempotency store shared by replicas: claims and answers in Redis.

One Redis hash per scope, at ``{prefix}{len(tenant_id)}:{tenant_id}:{key}`` (the
length keeps ``a:b`` + ``c`` apart from ``a`` + ``b:c``):

- ``state=running, fp, claim[, waiters]`` while the first request runs; the key
  expires with the lease (``lease_s``), so a replica that died mid-request
  frees its keys by itself;
- ``state=done, fp, answer`` once it completed; the key expires ``ttl_s``
  after that.

Each of :meth:`~RedisIdempotencyStore.begin`, ``complete`` and ``abandon`` is
one Lua script, hence one atomic round trip: two replicas racing for a key
cannot both be first, and a holder whose lease ran out cannot overwrite (or
delete) the claim of the one that followed it, because the scripts compare the
claim token.

Waiters (:class:`~sluicegate.idempotency.store.InProgress`) re-read the entry
(the "peek" script) when woken, until it is done (a replay) or no longer the
claim they waited for (:data:`~sluicegate.idempotency.store.RETRY`). They are
woken by a message on one pub/sub channel, ``{prefix}notify``, carrying the
key: ``complete`` and ``abandon`` publish it only when ``begin`` counted a
waiter, so keys nobody waits for cost no message. Each store keeps one
subscribed connection, opened on the first wait. Polling is the fallback: every
``poll_s`` while that subscription is not (yet) confirmed, otherwise at least
once a second and when the lease ends (expiry publishes nothing).

Size: an answer whose encoding is over ``max_entry_bytes`` is served but not
kept: ``complete`` releases the claim instead, as ``abandon`` does, so a retry
runs again. The total is Redis's to bound, with ``maxmemory`` and its eviction
policy (the store sets a TTL on every key, so ``volatile-*`` policies apply);
an answer evicted early is a key that runs again, never a wrong replay.

Redis unreachable: ``begin`` (and a waiter) raises
``GatewayError(UNAVAILABLE, code=ErrorCode.IDEMPOTENCY_STORE_UNAVAILABLE)``: a request
that carries an Idempotency-Key is refused rather than run without the
guarantee that it runs once (fail closed; failing open could be made a
setting). ``complete`` and ``abandon`` log and carry on instead: the answer has
already gone to the client, and the claim ends with its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Generator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.idempotency.store import (
    MAX_ENTRY_BYTES,
    RETRY,
    Begin,
    Conflict,
    InProgress,
    Oversized,
    Replay,
    Retry,
    Scope,
    Started,
    StoredAnswer,
    Token,
)
from sluicegate.idempotency.wire import decode_answer, encode_answer

log = logging.getLogger("sluicegate.idempotency")

# --- Scripts ----------------------------------------------------------------------------
#
# KEYS[1] is always the scope's hash. Fields: state, fp, claim, waiters, answer.

# ARGV: fingerprint, new claim, lease (ms).
_BEGIN = """
local entry = redis.call('HMGET', KEYS[1], 'state', 'fp', 'claim')
if not entry[1] then
  redis.call('HSET', KEYS[1], 'state', 'running', 'fp', ARGV[1], 'claim', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'started'}
end
if entry[2] ~= ARGV[1] then
  return {'conflict'}
end
if entry[1] == 'done' then
  return {'replay', redis.call('HGET', KEYS[1], 'answer')}
end
redis.call('HINCRBY', KEYS[1], 'waiters', 1)
return {'running', entry[3]}
"""

# ARGV: fingerprint, the claim waited for. Gives the lease left (ms) while it runs.
_PEEK = """
local entry = redis.call('HMGET', KEYS[1], 'state', 'fp', 'claim')
if entry[1] == 'done' and entry[2] == ARGV[1] then
  return {'replay', redis.call('HGET', KEYS[1], 'answer')}
end
if entry[1] == 'running' and entry[3] == ARGV[2] then
  return {'running', redis.call('PTTL', KEYS[1])}
end
return {'retry'}
"""

# ARGV: claim, answer, ttl (ms), channel.
_COMPLETE = """
local entry = redis.call('HMGET', KEYS[1], 'state', 'claim', 'waiters')
if entry[1] ~= 'running' or entry[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'answer', ARGV[2])
redis.call('HDEL', KEYS[1], 'claim', 'waiters')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if entry[3] then
  redis.call('PUBLISH', ARGV[4], KEYS[1])
end
return 1
"""

# ARGV: claim, channel.
_ABANDON = """
local entry = redis.call('HMGET', KEYS[1], 'state', 'claim', 'waiters')
if entry[1] ~= 'running' or entry[2] ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if entry[3] then
  redis.call('PUBLISH', ARGV[2], KEYS[1])
end
return 1
"""

# While the subscription is confirmed, a waiter still re-reads this often: a key
# can vanish without a message (evicted under maxmemory, flushed by hand).
_LIVE_POLL_S = 1.0
# Backoff between attempts to re-open a broken subscription.
_RESUBSCRIBE_MAX_S = 5.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _unavailable() -> GatewayError:
    return GatewayError(
        ErrorKind.UNAVAILABLE,
        "the idempotency store is unreachable; a request with an Idempotency-Key "
        "is not run without it, so that it cannot run twice",
        code=ErrorCode.IDEMPOTENCY_STORE_UNAVAILABLE,
    )


def _replay(data: bytes | str) -> Replay:
    try:
        return Replay(decode_answer(data))
    except ValueError as exc:
        # Written by a newer release, or damaged: not ours to run again while it is kept.
        log.error("idempotency: %s", exc)
        raise GatewayError(
            ErrorKind.INTERNAL,
            "the answer stored for this Idempotency-Key cannot be read",
            code=ErrorCode.IDEMPOTENCY_ANSWER_UNREADABLE,
        ) from exc


class _Waiter:
    """Awaitable that waits only once awaited: dropping it unawaited costs nothing."""

    __slots__ = ("_claim", "_fingerprint", "_key", "_store")

    def __init__(
        self, store: RedisIdempotencyStore, key: str, fingerprint: str, claim: str
    ) -> None:
        self._store = store
        self._key = key
        self._fingerprint = fingerprint
        self._claim = claim

    def __await__(self) -> Generator[Any, None, Replay | Retry]:
        return self._store._wait(self._key, self._fingerprint, self._claim).__await__()


class RedisIdempotencyStore:
    """An :class:`~sluicegate.idempotency.store.IdempotencyStore` in Redis, shared by replicas.

    ``client`` is not owned: the caller closes it, after :meth:`aclose`.
    ``ttl_s``: how long a completed answer is kept; ``lease_s``: how long a
    claim lasts at most (longer than the longest request should take);
    ``poll_s``: how often a waiter re-reads the entry when no notification can
    reach it; ``prefix``: the namespace of the keys and of the channel;
    ``max_entry_bytes``: the largest answer kept (its JSON encoding).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        ttl_s: float = 86400.0,
        lease_s: float = 900.0,
        poll_s: float = 0.05,
        prefix: str = "sluicegate:idem:",
        max_entry_bytes: int = MAX_ENTRY_BYTES,
    ) -> None:
        if ttl_s <= 0 or lease_s <= 0 or poll_s <= 0:
            raise ValueError("ttl_s, lease_s and poll_s must be positive")
        self.client = client
        self.ttl_s = ttl_s
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.prefix = prefix
        self.channel = f"{prefix}notify"
        self.max_entry_bytes = max_entry_bytes
        self.oversized = Oversized(max_entry_bytes)
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._lease_ms = max(1, round(lease_s * 1000))
        self._begin = client.register_script(_BEGIN)
        self._peek = client.register_script(_PEEK)
        self._complete = client.register_script(_COMPLETE)
        self._abandon = client.register_script(_ABANDON)
        # Local waiters by key, each with the event the listener sets to wake it.
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._live = False  # the listener's subscription is confirmed
        self._closed = False

    def key(self, scope: Scope) -> str:
        """The Redis key of ``scope``."""
        return f"{self.prefix}{len(scope.tenant_id)}:{scope.tenant_id}:{scope.key}"

    async def begin(self, scope: Scope, fingerprint: str) -> Begin:
        key = self.key(scope)
        claim = secrets.token_hex(12)
        try:
            reply = await self._begin(keys=[key], args=[fingerprint, claim, self._lease_ms])
        except (RedisError, OSError) as exc:
            raise _unavailable() from exc
        outcome = _text(reply[0])
        if outcome == "started":
            return Started(Token(scope, fingerprint, claim))
        if outcome == "conflict":
            return Conflict()
        if outcome == "replay":
            return _replay(reply[1])
        return InProgress(_Waiter(self, key, fingerprint, _text(reply[1])))

    async def complete(self, token: Token, answer: StoredAnswer) -> None:
        data = encode_answer(answer)
        if len(data) > self.max_entry_bytes:
            self.oversized.note(token.scope, len(data))
            await self.abandon(token)
            return
        try:
            await self._complete(
                keys=[self.key(token.scope)],
                args=[token.claim, data, self._ttl_ms, self.channel],
            )
        except (RedisError, OSError) as exc:
            # The client has its answer; a repeat runs again once the lease ends.
            log.warning(
                "idempotency: could not store the answer for tenant id %r key %r: %r",
                token.scope.tenant_id,
                token.scope.key,
                exc,
            )

    async def abandon(self, token: Token) -> None:
        try:
            await self._abandon(keys=[self.key(token.scope)], args=[token.claim, self.channel])
        except (RedisError, OSError) as exc:
            log.warning(
                "idempotency: could not release the claim on tenant id %r key %r: %r",
                token.scope.tenant_id,
                token.scope.key,
                exc,
            )

    async def aclose(self) -> None:
        """Stop listening for notifications (waiters left fall back to polling)."""
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    # --- Waiting ---------------------------------------------------------------------

    async def _wait(self, key: str, fingerprint: str, claim: str) -> Replay | Retry:
        wake = asyncio.Event()
        wakes = self._waiting.setdefault(key, set())
        wakes.add(wake)
        self._listen()
        try:
            while True:
                # Read before the entry: a message sent after a confirmed
                # subscription cannot be missed, so a long sleep is safe.
                live = self._live
                wake.clear()
                try:
                    reply = await self._peek(keys=[key], args=[fingerprint, claim])
                except (RedisError, OSError) as exc:
                    raise _unavailable() from exc
                outcome = _text(reply[0])
                if outcome == "replay":
                    return _replay(reply[1])
                if outcome != "running":
                    return RETRY
                lease_left_s = max(0, int(reply[1])) / 1000 + 0.001
                nap = min(lease_left_s, _LIVE_POLL_S if live else self.poll_s)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(nap):
                        await wake.wait()
        finally:
            wakes.discard(wake)
            if not wakes and self._waiting.get(key) is wakes:
                del self._waiting[key]

    def _listen(self) -> None:
        if self._closed or (self._listener is not None and not self._listener.done()):
            return
        self._listener = asyncio.get_running_loop().create_task(self._subscribe())

    def _wake(self, key: str | None = None) -> None:
        groups = self._waiting.values() if key is None else [self._waiting.get(key, set())]
        for wakes in groups:
            for wake in wakes:
                wake.set()

    async def _subscribe(self) -> None:
        """Hold the subscription and wake local waiters; reopen it when it breaks."""
        backoff = self.poll_s
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "message":
                        self._wake(_text(message["data"]))
                    elif message["type"] == "subscribe":
                        # Also after redis-py reconnected by itself: what was
                        # published in between is lost, so everyone re-reads.
                        self._live = True
                        backoff = self.poll_s
                        self._wake()
            except (RedisError, OSError) as exc:
                log.warning("idempotency: notifications interrupted, polling: %r", exc)
            finally:
                self._live = False
                self._wake()
                await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _RESUBSCRIBE_MAX_S)
