"""Where cached answers are kept: the interface, what selects entries, the in-process LRU.

Stores are keyed by :func:`sluicegate.cache.key.cache_key` strings. They never
raise for being unreachable: a cache that cannot answer is a miss, and an answer
that cannot be stored is simply not stored; the request goes on either way.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sluicegate.cache.entry import CachedAnswer, encode
from sluicegate.cache.key import tag


@dataclass(frozen=True, slots=True)
class Selector:
    """Which entries an invalidation removes: those matching every field given.

    ``scope`` is a scope string (``tenant_scope(tenant id)`` or ``SHARED_SCOPE``),
    ``alias`` the requested alias, ``tag`` one of the storing request's tags.
    No field at all selects every entry.
    """

    scope: str | None = None
    alias: str | None = None
    tag: str | None = None

    def prefix_tags(self) -> tuple[str | None, str | None]:
        """The key's first two segments that entries must have (None: any)."""
        return (
            tag(self.scope) if self.scope is not None else None,
            tag(self.alias) if self.alias is not None else None,
        )

    def matches_key(self, key: str) -> bool:
        scope_tag, alias_tag = self.prefix_tags()
        first, _, rest = key.partition(":")
        second = rest.partition(":")[0]
        return (scope_tag is None or first == scope_tag) and (
            alias_tag is None or second == alias_tag
        )


class CacheStore(Protocol):
    max_entry_bytes: int  # larger answers (their encoding) are not kept

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer stored under ``key`` and not expired; None on a miss or a failure."""
        ...

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> bool:
        """Keep ``answer`` for ``ttl_s`` seconds; False when it was not kept (too large,
        or the store failed)."""
        ...

    async def invalidate(self, selector: Selector) -> int:
        """Remove the entries ``selector`` matches; how many were removed."""
        ...

    async def aclose(self) -> None: ...


class _Entry:
    __slots__ = ("answer", "expires", "size")

    def __init__(self, answer: CachedAnswer, size: int, expires: float) -> None:
        self.answer = answer
        self.size = size
        self.expires = expires


class MemoryCache:
    """One process's answers, least recently used first out once they take more than
    ``max_bytes`` (their encoded size, the same bytes Redis would keep).

    Entries live as decoded objects, so a hit costs a dict lookup and no parsing.
    An expired entry is dropped when it is next looked up, or when it comes up
    for eviction. Each worker of ``--workers N`` holds its own copy, and its
    cache is a ``sluicegate.group.cache.GroupCache``, whose invalidation
    reaches every worker; replicas need Redis to share one cache.
    """

    def __init__(
        self,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        max_entry_bytes: int = 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedAnswer | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.answer

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> bool:
        size = len(key) + len(encode(answer))
        if size > self.max_entry_bytes or size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(answer, size, self._clock() + ttl_s)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def invalidate(self, selector: Selector) -> int:
        doomed = [
            key
            for key, entry in self._entries.items()
            if selector.matches_key(key)
            and (selector.tag is None or selector.tag in entry.answer.tags)
        ]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    async def aclose(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.size
