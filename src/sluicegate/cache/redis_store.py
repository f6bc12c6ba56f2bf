"""The response cache shared by replicas: answers in Redis, one string per entry.

- ``{prefix}e:{key}``: the encoded answer (:mod:`sluicegate.cache.entry`), with
  the entry's TTL as its Redis expiry; a hit is one ``GET``;
- ``{prefix}tag:{tag(tag)}``: a set of the entry keys stored by requests with
  that tag, expiring with the longest-lived of them, so invalidating a tag does
  not scan the keyspace.

Storing is one pipelined round trip (``SET PX`` plus the tag sets). Invalidating
by tenant or alias scans with ``MATCH`` on the key's tags (see
:mod:`sluicegate.cache.key`): an admin operation, never on the request path.
How much Redis keeps in all is Redis's ``maxmemory`` (with an ``allkeys-lru`` or
``volatile-lru`` policy, entries are evicted like the in-process LRU's).

Redis unreachable: a lookup is a miss and a store is skipped, logged at most
once a minute, and for ``bypass_s`` after a failure the cache is not even
tried, so an outage costs the requests of that moment one failed round trip
(bounded by the client's one-second timeouts), not every request one each.
Requests never fail because of the cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sluicegate.cache.entry import CachedAnswer, decode, encode
from sluicegate.cache.key import tag
from sluicegate.cache.store import Selector

log = logging.getLogger("sluicegate.cache")

PREFIX = "sluicegate:cache:"
_SCAN_COUNT = 1000
_WARN_EVERY_S = 60.0
BYPASS_S = 5.0


class RedisCache:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = PREFIX,
        max_entry_bytes: int = 1024 * 1024,
        bypass_s: float = BYPASS_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_entry_bytes = max_entry_bytes
        self.bypass_s = bypass_s
        self._clock = clock
        self._warned_at = -_WARN_EVERY_S
        self._down_until = 0.0

    def entry_key(self, key: str) -> str:
        return f"{self.prefix}e:{key}"

    async def get(self, key: str) -> CachedAnswer | None:
        if self._down_until and self._clock() < self._down_until:
            return None
        try:
            data = await self.redis.get(self.entry_key(key))
        except (RedisError, OSError) as exc:
            self._failed("lookup", exc)
            return None
        if data is None:
            return None
        try:
            return decode(data)
        except ValueError as exc:
            log.warning("unreadable cache entry %s dropped: %s", key, exc)
            return None

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> bool:
        if self._down_until and self._clock() < self._down_until:
            return False
        data = encode(answer)
        if len(data) > self.max_entry_bytes:
            return False
        ttl_ms = max(1, int(ttl_s * 1000))
        name = self.entry_key(key)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(name, data, px=ttl_ms)
                for value in answer.tags:
                    members = self._tag_key(value)
                    pipe.sadd(members, name)
                    # A fresh set gets the entry's TTL; an older one only ever grows.
                    pipe.pexpire(members, ttl_ms, nx=True)
                    pipe.pexpire(members, ttl_ms, gt=True)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("store", exc)
            return False
        return True

    async def invalidate(self, selector: Selector) -> int:
        """Every matching entry, by scanning (tenant, alias) or reading a tag's set."""
        scope_tag, alias_tag = selector.prefix_tags()
        pattern = f"{self.prefix}e:{scope_tag or '*'}:{alias_tag or '*'}:*"
        removed = 0
        if selector.tag is not None:
            members = self._tag_key(selector.tag)
            names = [_text(n) for n in await self.redis.smembers(members)]
            start = len(self.prefix) + 2
            doomed = [n for n in names if selector.matches_key(n[start:])]
            if doomed:
                removed = int(await self.redis.unlink(*doomed))
                await self.redis.srem(members, *doomed)
            return removed
        batch: list[str] = []
        async for name in self.redis.scan_iter(match=pattern, count=_SCAN_COUNT):
            batch.append(_text(name))
            if len(batch) >= _SCAN_COUNT:
                removed += int(await self.redis.unlink(*batch))
                batch.clear()
        if batch:
            removed += int(await self.redis.unlink(*batch))
        return removed

    async def aclose(self) -> None:
        """Nothing of its own to close: the connection pool is the gateway's."""

    def _tag_key(self, value: str) -> str:
        return f"{self.prefix}tag:{tag(value)}"

    def _failed(self, what: str, exc: BaseException) -> None:
        now = self._clock()
        self._down_until = now + self.bypass_s
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("response cache %s skipped, Redis unreachable: %s", what, exc)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
