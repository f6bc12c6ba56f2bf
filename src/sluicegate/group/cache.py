"""The response cache of a worker in a group without Redis.

Each worker keeps its own answers (a ``MemoryCache``: a hit stays a dict
lookup, no round trip), but an invalidation must empty what the whole gateway
keeps, or a worker would go on serving what an operator removed. So
``invalidate`` asks the supervisor, which has every worker remove what the
selector matches from its own cache (``invalidate_here``) and sums what they
removed.

The semantic index needs nothing of the kind: it only points at entries of
this cache, and a lookup whose entry was removed is a miss.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sluicegate.cache.store import MemoryCache, Selector

__all__ = ["GroupCache", "Invalidate"]

Invalidate = Callable[[Selector], Awaitable[int]]
"""Removes what a selector matches from every worker's cache; how many went."""


class GroupCache(MemoryCache):
    def __init__(self, everywhere: Invalidate, *, max_bytes: int, max_entry_bytes: int) -> None:
        super().__init__(max_bytes=max_bytes, max_entry_bytes=max_entry_bytes)
        self._everywhere = everywhere

    async def invalidate(self, selector: Selector) -> int:
        """Invalidate in every worker of the group (this one included)."""
        return await self._everywhere(selector)

    async def invalidate_here(self, selector: Selector) -> int:
        """Invalidate this worker's own entries (the supervisor asks each worker)."""
        return await super().invalidate(selector)
