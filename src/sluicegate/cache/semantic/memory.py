"""The in-process semantic index: one replica, nothing shared.

Also the mirror inside :class:`~sluicegate.cache.semantic.redis_index.RedisSemanticIndex`,
which adds sharing around it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from sluicegate.cache.semantic.base import DEFAULT_THRESHOLD, Embedder, SemanticHit, Vectors
from sluicegate.cache.semantic.guard import signature
from sluicegate.cache.semantic.vectors import Entry, ScopeVectors

DEFAULT_MAX_ENTRIES = 10_000
# all-MiniLM-L6-v2 reads 256 tokens (~1,000 characters of English) and ignores
# the rest: two long texts that differ only after that embed the same. Longer
# texts are neither looked up nor stored (the exact cache still serves them).
DEFAULT_MAX_TEXT_CHARS = 1000
_SWEEP_EVERY_S = 60.0


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class RecentVectors:
    """The last few embeddings, by text: a store after a lookup miss (the usual
    order: miss, call upstream, store) reuses the lookup's vector."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._items: OrderedDict[str, Vectors] = OrderedDict()

    def get(self, text: str) -> Vectors | None:
        vector = self._items.get(text)
        if vector is not None:
            self._items.move_to_end(text)
        return vector

    def put(self, text: str, vector: Vectors) -> None:
        self._items[text] = vector
        self._items.move_to_end(text)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


class MemorySemanticIndex:
    """A :class:`~sluicegate.cache.semantic.base.SemanticIndex` in this process.

    ``threshold`` is the default for lookups that give none (an alias's own
    threshold is passed per lookup). Scopes whose entries all expired are
    dropped by a sweep at most once a minute, run by ``store``.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        max_entries_per_scope: int = DEFAULT_MAX_ENTRIES,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.max_entries_per_scope = max_entries_per_scope
        self.max_text_chars = max_text_chars
        self.clock = clock
        self.recent = RecentVectors()
        self._scopes: dict[str, ScopeVectors] = {}
        self._swept_at = clock()

    # --- SemanticIndex -------------------------------------------------------------

    async def lookup(
        self, scope: str, text: str, *, threshold: float | None = None
    ) -> SemanticHit | None:
        vectors = self._scopes.get(scope)
        if vectors is None or not len(vectors) or not self.accepts(text):
            return None  # nothing to compare with: skip the embedding
        vector = await self.vector(text)
        found = vectors.search(
            vector,
            signature(text),
            self.threshold if threshold is None else threshold,
            self.clock(),
        )
        if found is None:
            return None
        entry, similarity = found
        return SemanticHit(entry_key=entry.entry_key, similarity=similarity, text=entry.text)

    async def store(self, scope: str, text: str, entry_key: str, ttl_s: float) -> None:
        if not self.accepts(text):
            return
        vector = await self.vector(text)
        now = self.clock()
        self.put(scope, Entry(text_digest(text), entry_key, now + ttl_s, text, signature(text)),
                 vector, now)

    async def close(self) -> None:
        """Nothing runs in the background; here so both indexes close alike."""

    async def invalidate(self, scope_prefix: str | None = None) -> int:
        return self.drop(scope_prefix or "")

    # --- for the Redis mirror, loads and benchmarks --------------------------------------

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is short enough for the model to read all of it."""
        return 0 < len(text) <= self.max_text_chars

    async def vector(self, text: str) -> Vectors:
        """The embedding of ``text`` (recent ones are remembered)."""
        vector = self.recent.get(text)
        if vector is None:
            vector = (await self.embedder.embed([text]))[0]
            self.recent.put(text, vector)
        return vector

    def new_scope(self) -> ScopeVectors:
        return ScopeVectors(self.embedder.dimensions, self.max_entries_per_scope)

    def entry(self, scope: str, digest: str) -> Entry | None:
        vectors = self._scopes.get(scope)
        return None if vectors is None else vectors.entry(digest)

    def put(self, scope: str, entry: Entry, vector: Vectors, now: float) -> None:
        """Insert or replace one entry with its precomputed vector."""
        vectors = self._scopes.get(scope)
        if vectors is None:
            vectors = self._scopes[scope] = self.new_scope()
        vectors.add(entry, vector, now)
        if now - self._swept_at >= _SWEEP_EVERY_S:
            self.sweep(now)

    def add_vectors(
        self, scope: str, texts: list[str], entry_keys: list[str], vectors: Vectors, ttl_s: float
    ) -> None:
        """Store precomputed vectors in bulk (one multi-threaded insert). Each
        (entry key, text) pair is its own entry. Blocks while it inserts: not
        for the event loop with large batches."""
        now = self.clock()
        entries = [
            Entry(text_digest(f"{key}\x00{text}"), key, now + ttl_s, text, signature(text))
            for text, key in zip(texts, entry_keys, strict=True)
        ]
        scope_vectors = self._scopes.get(scope)
        if scope_vectors is None:
            scope_vectors = self._scopes[scope] = self.new_scope()
        scope_vectors.add_many(entries, vectors, now)

    def replace(self, scopes: dict[str, ScopeVectors]) -> None:
        """Swap in a whole new set of scopes (a mirror's reload)."""
        self._scopes = scopes

    def drop(self, prefix: str) -> int:
        """Forget the scopes starting with ``prefix``; returns how many entries went."""
        doomed = [s for s in self._scopes if s.startswith(prefix)]
        return sum(len(self._scopes.pop(s)) for s in doomed)

    def sweep(self, now: float) -> None:
        """Expire entries in every scope and forget the scopes left empty."""
        self._swept_at = now
        for scope in list(self._scopes):
            vectors = self._scopes[scope]
            vectors.expire(now)
            if not len(vectors):
                del self._scopes[scope]

    @property
    def scopes(self) -> int:
        return len(self._scopes)

    def __len__(self) -> int:
        return sum(len(v) for v in self._scopes.values())
