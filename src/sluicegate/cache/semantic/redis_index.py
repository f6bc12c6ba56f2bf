"""The semantic index shared by replicas: entries in Redis, searched in a local mirror.

Redis 7.0 here has no vector search (no RediSearch module), and a lookup must
not pay a round trip per candidate anyway, so Redis only stores and relays;
every replica searches its own in-memory copy (:class:`ScopeVectors`).

Keys, under ``prefix`` (default ``sg:sem:``):

- ``e:{scope}`` hash: text digest -> entry record (msgpack: entry key, expiry,
  text, float16 vector); ``x:{scope}`` sorted set: digest by expiry. Both keys
  expire with their last entry.
- ``scopes`` sorted set (all scores 0): scope names, so ``invalidate`` finds a
  prefix with ZRANGEBYLEX.
- ``log`` stream of changes (``add`` with the record, ``inv`` with a prefix),
  each with a number from the ``seq`` counter; capped near ``log_max`` entries.

``store`` and ``invalidate`` are one Lua script each: the record, its expiry,
the cap (entries closest to expiry go first, the same rule the mirror applies),
the scope name and the log entry change together or not at all.

A replica's mirror: ``start`` loads every scope (decoded and inserted off the
event loop), then one task follows the log with a blocking XREAD, so an entry
stored by one replica is searchable on the others within one Redis round trip
plus an insert, a few milliseconds (test_redis_index.py prints the figure).
A gap in the sequence numbers (the log was trimmed past this replica, or Redis
restarted empty) makes the replica load everything again; so does a lost
connection, once it is back.

Redis unreachable: lookups go on against the mirror as it was; a store is
applied to this replica's mirror only and logged. The cache is best effort:
it never fails a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sluicegate.cache.semantic.base import DEFAULT_THRESHOLD, Embedder, SemanticHit, Vectors
from sluicegate.cache.semantic.guard import signature
from sluicegate.cache.semantic.memory import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_TEXT_CHARS,
    MemorySemanticIndex,
    text_digest,
)
from sluicegate.cache.semantic.vectors import Entry, ScopeVectors

log = logging.getLogger("sluicegate.cache.semantic")

# How long one XREAD waits for changes: the most a close() waits for the follower.
_BLOCK_MS = 250


class _Record(msgspec.Struct, array_like=True):
    entry_key: str
    expires_at: float
    text: str
    vector: bytes  # float16, little-endian


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Record).decode

# KEYS: e:{scope}, x:{scope}, scopes, log, seq
# ARGV: scope, digest, record, expires_at, now, max_entries, origin, log_max
_STORE = """
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
for _, d in ipairs(expired) do redis.call('HDEL', KEYS[1], d) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if over > 0 then
  for _, d in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('HDEL', KEYS[1], d)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  local at = math.ceil(tonumber(last[2]) * 1000)
  redis.call('PEXPIREAT', KEYS[1], at)
  redis.call('PEXPIREAT', KEYS[2], at)
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
local seq = redis.call('INCR', KEYS[5])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*', 'seq', seq, 'op', 'add',
  'scope', ARGV[1], 'digest', ARGV[2], 'rec', ARGV[3], 'origin', ARGV[7])
return seq
"""

# KEYS: scopes, log, seq.  ARGV: scope prefix ('' = all), key prefix, origin, log_max
_INVALIDATE = """
local scopes
if ARGV[1] == '' then
  scopes = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  scopes = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[1], '[' .. ARGV[1] .. '\\255')
end
local n = 0
for _, s in ipairs(scopes) do
  n = n + redis.call('HLEN', ARGV[2] .. 'e:' .. s)
  redis.call('DEL', ARGV[2] .. 'e:' .. s, ARGV[2] .. 'x:' .. s)
  redis.call('ZREM', KEYS[1], s)
end
local seq = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'seq', seq, 'op', 'inv',
  'scope', ARGV[1], 'origin', ARGV[3])
return n
"""

# KEYS: scopes.  ARGV: key prefix, scope names that looked empty.
# Atomic so that a store racing with the load keeps its scope listed.
_PRUNE = """
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. 'e:' .. ARGV[i]) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return 0
"""


class RedisSemanticIndex:
    """A :class:`~sluicegate.cache.semantic.base.SemanticIndex` shared through Redis.

    ``await start()`` before use (loads the mirror and follows the log);
    ``await close()`` at shutdown.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        max_entries_per_scope: int = DEFAULT_MAX_ENTRIES,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        prefix: str = "sg:sem:",
        log_max: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self.mirror = MemorySemanticIndex(
            embedder,
            threshold=threshold,
            max_entries_per_scope=max_entries_per_scope,
            max_text_chars=max_text_chars,
            clock=clock,
        )
        self.max_entries_per_scope = max_entries_per_scope
        self._prefix = prefix
        self._log_key = f"{prefix}log"
        self._log_max = log_max
        self._clock = clock
        self._origin = secrets.token_hex(6)
        self._store_script = client.register_script(_STORE)
        self._invalidate_script = client.register_script(_INVALIDATE)
        self._prune_script = client.register_script(_PRUNE)
        self._last_id = "0-0"
        self._last_seq = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Load every scope from Redis, then follow changes in the background."""
        if self._task is None:
            try:
                await self._load()
            except RedisError:
                # Start empty; the follower retries the load with backoff.
                log.warning("semantic cache: Redis unreachable at start", exc_info=True)
                self._last_seq = -1
            self._task = asyncio.create_task(self._follow(), name="semantic-index-follow")

    async def close(self) -> None:
        """Stop following the log (within one XREAD block, 250 ms).

        The follower is asked to stop rather than cancelled: cancelling a blocked
        XREAD could leave redis-py waiting forever (seen here, redis-py 8.1).
        """
        if self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=_BLOCK_MS / 1000 + 2)
        except TimeoutError:  # pragma: no cover - a follower stuck in Redis
            self._task.cancel()
        self._task = None
        self._stop = asyncio.Event()

    # --- SemanticIndex -------------------------------------------------------------

    async def lookup(
        self, scope: str, text: str, *, threshold: float | None = None
    ) -> SemanticHit | None:
        """Searches this replica's mirror only: no Redis round trip."""
        return await self.mirror.lookup(scope, text, threshold=threshold)

    async def store(self, scope: str, text: str, entry_key: str, ttl_s: float) -> None:
        if not self.mirror.accepts(text):
            return
        vector = await self.mirror.vector(text)
        now = self._clock()
        record = _Record(entry_key, now + ttl_s, text, vector.astype("<f2").tobytes())
        digest = text_digest(text)
        # Locally first: this replica finds it at once, whatever Redis does.
        self._apply_add(scope, digest, record, vector, now)
        p = self._prefix
        try:
            await self._store_script(
                keys=[f"{p}e:{scope}", f"{p}x:{scope}", f"{p}scopes", self._log_key, f"{p}seq"],
                args=[scope, digest, _encode(record), record.expires_at, now,
                      self.max_entries_per_scope, self._origin, self._log_max],
            )
        except RedisError:
            log.warning("semantic cache: could not share an entry through Redis", exc_info=True)

    async def invalidate(self, scope_prefix: str | None = None) -> int:
        local = self.mirror.drop(scope_prefix or "")
        p = self._prefix
        try:
            shared = await self._invalidate_script(
                keys=[f"{p}scopes", self._log_key, f"{p}seq"],
                args=[scope_prefix or "", p, self._origin, self._log_max],
            )
        except RedisError:
            log.warning("semantic cache: invalidation reached this replica only", exc_info=True)
            return local
        return max(local, int(shared))

    # --- the mirror ----------------------------------------------------------------

    def _apply_add(
        self, scope: str, digest: str, record: _Record, vector: Vectors, now: float
    ) -> None:
        current = self.mirror.entry(scope, digest)
        if current is not None and current.expires_at == record.expires_at:
            return  # already applied (our own store, or a replay after a reload)
        entry = Entry(digest, record.entry_key, record.expires_at, record.text,
                      signature(record.text))
        self.mirror.put(scope, entry, vector, now)

    async def _load(self) -> None:
        """Replace the mirror with what Redis holds now.

        The log position is read first, so changes made during the load are
        replayed afterwards (applying one twice is harmless).
        """
        p = self._prefix
        last: Any = await self._redis.xrevrange(self._log_key, count=1)
        if last:
            self._last_id = _text(last[0][0])
            self._last_seq = int(last[0][1][b"seq"])
        else:
            self._last_id, self._last_seq = "0-0", int(await self._redis.get(f"{p}seq") or 0)
        loaded: dict[str, list[tuple[bytes, bytes]]] = {}
        empty: list[str] = []
        raw_scopes: Any = await self._redis.zrange(f"{p}scopes", 0, -1)
        for raw_scope in raw_scopes:
            scope = _text(raw_scope)
            records = [
                (digest, raw)
                async for digest, raw in self._redis.hscan_iter(f"{p}e:{scope}", count=1000)
            ]
            if records:
                loaded[scope] = records
            else:
                empty.append(scope)
        if empty:  # their keys expired with their last entry
            await self._prune_script(keys=[f"{p}scopes"], args=[p, *empty])
        self.mirror.replace(await asyncio.to_thread(self._build, loaded, self._clock()))

    def _build(
        self, loaded: dict[str, list[tuple[bytes, bytes]]], now: float
    ) -> dict[str, ScopeVectors]:
        """Decode and insert, in a worker thread, so that the loop keeps serving
        while a large mirror loads (numpy releases the GIL for the bulk work)."""
        scopes: dict[str, ScopeVectors] = {}
        for scope, records in loaded.items():
            entries: list[Entry] = []
            blobs: list[bytes] = []
            for digest, raw in records:
                record = _decode(raw)
                if record.expires_at > now:
                    entries.append(Entry(_text(digest), record.entry_key, record.expires_at,
                                         record.text, signature(record.text)))
                    blobs.append(record.vector)
            if entries:
                vectors = self.mirror.new_scope()
                matrix = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), -1)
                vectors.add_many(entries, matrix.astype(np.float32), now)
                scopes[scope] = vectors
        return scopes

    async def _follow(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                if self._last_seq < 0:
                    await self._load()
                reply: Any = await self._redis.xread(
                    {self._log_key: self._last_id}, count=500, block=_BLOCK_MS
                )
                backoff = 0.1
                for _stream, messages in reply or ():
                    for n, (message_id, fields) in enumerate(messages):
                        if not self._apply_message(_text(message_id), fields):
                            log.info("semantic cache: change log gap; reloading the mirror")
                            await self._load()
                            break
                        if n % 8 == 7:
                            await asyncio.sleep(0)  # inserts take ~1-3 ms: let requests in
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("semantic cache: following the change log failed", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)
                self._last_seq = -1  # load everything again once Redis answers

    def _apply_message(self, message_id: str, fields: dict[bytes, bytes]) -> bool:
        """Apply one change; False when changes were missed (a reload is needed)."""
        seq = int(fields[b"seq"])
        if seq != self._last_seq + 1:
            return False
        self._last_id, self._last_seq = message_id, seq
        # This replica's own changes are applied again too (an add it already
        # has is skipped by _apply_add): a reload in between may have lost them,
        # and replaying in log order keeps an add that followed an invalidation.
        op = fields[b"op"]
        scope = fields[b"scope"].decode()
        if op == b"add":
            record = _decode(fields[b"rec"])
            vector = np.frombuffer(record.vector, dtype="<f2").astype(np.float32)
            self._apply_add(scope, fields[b"digest"].decode(), record, vector, self._clock())
        elif op == b"inv":
            self.mirror.drop(scope)
        return True

    def __len__(self) -> int:
        return len(self.mirror)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
