"""The vectors of one scope: exact nearest-neighbour search, entries, expiry and a cap.

Search is exact, with a prefilter once a scope is large. Each vector also gets
a 384-bit signature, the signs of its products with 384 fixed random
hyperplanes (SimHash): two vectors at angle t differ in each bit with
probability t/pi, so the number of differing bits (Hamming distance) estimates
the angle. A lookup counts differing bits against every entry (numpy XOR and
popcount over 6 machine words an entry), keeps those within six standard
deviations of what its threshold allows (at 0.93: 93 of 384 bits; a real
neighbour is missed with probability below 1e-9), at most the 1,024 nearest,
and scores those exactly in float32. Scopes up to 8,192 entries skip the
prefilter: one matrix-vector product is cheaper.

Measured on this project's 2-core VM at 100,000 entries of 384 dimensions
(bench/semantic.py, clustered entries, other work on the machine): ~0.7 ms a
search with the guard, where the float32 product over all entries takes
~6-16 ms (memory-bound: 150 MB a query). An HNSW graph (usearch,
tried first) searched in ~0.1-0.4 ms but, with many near-duplicates in a scope
(questions that differ only in a number, which the guard keeps apart), could
not reach 16-50% of newly inserted entries even by their own vector; exact
search has no such failure, and an entry costs ~1.6 kB (float32 row, bits,
label).

Rows live in blocks so that a scope grows without ever copying all of it: the
first starts at 4 rows and doubles up to 4,096 (most scopes hold few entries),
the next ones hold 32,768 each (few numpy calls per search: at 4,096 rows a
block, call overhead made a search at 100,000 entries cost ~1.3 ms).
Not thread-safe: the indexes call it from the event loop only (a search or a
single insert stays well under a few ms); bulk loads build new objects off the
loop and swap them in.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from sluicegate.cache.semantic.base import Vectors
from sluicegate.cache.semantic.guard import Signature, same_question

FIRST_BLOCK = 4096
BLOCK = 32768
BITS = 384
PREFILTER_ABOVE = 8192
CANDIDATES = 1024
_WORDS = BITS // 64
Bits = npt.NDArray[np.uint64]


@cache
def _hyperplanes(dimensions: int) -> Vectors:
    """The fixed random hyperplanes for one dimension count (seeded: every
    replica and every run computes the same signatures)."""
    rng = np.random.default_rng(0x5EED_5E3A)
    planes: Vectors = rng.standard_normal((dimensions, BITS)).astype(np.float32)
    return planes


def signs(vectors: Vectors) -> Bits:
    """SimHash bits of each row, as (rows, 6) uint64."""
    packed = np.packbits(vectors @ _hyperplanes(vectors.shape[1]) > 0, axis=1)
    words: Bits = np.ascontiguousarray(packed).view(np.uint64)
    return words


def max_differing_bits(threshold: float) -> int:
    """Bits in which a vector at cosine >= ``threshold`` differs from the query,
    at most, but for a chance below 1e-9 (mean + 6 standard deviations)."""
    p = math.acos(max(-1.0, min(1.0, threshold))) / math.pi
    return math.ceil(BITS * p + 6 * math.sqrt(BITS * p * (1 - p)) + 8)


@dataclass(slots=True)
class Entry:
    digest: str  # of the stored text: the same text stored again replaces the entry
    entry_key: str
    expires_at: float
    text: str
    signature: Signature


class VectorTable:
    """Labelled unit vectors with exact top-k search above a similarity threshold."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._rows: list[Vectors] = []
        self._bits: list[Bits] = []  # per block: (6, block size), word-major
        self._labels: list[npt.NDArray[np.int64]] = []
        self._position: dict[int, int] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _capacity(self) -> int:
        return sum(len(b) for b in self._labels)

    def _reserve(self, need: int) -> None:
        while self._capacity() < need:
            if not self._rows:
                self._append(min(FIRST_BLOCK, max(4, need)))
            elif len(self._rows) == 1 and len(self._labels[0]) < FIRST_BLOCK:
                # The first block doubles up to FIRST_BLOCK rows; the next ones are
                # allocated whole (np.empty: pages cost memory only once written).
                old = len(self._labels[0])
                size = min(FIRST_BLOCK, max(need, 2 * old))
                rows, bits, labels = self._rows[0], self._bits[0], self._labels[0]
                self._rows, self._bits, self._labels = [], [], []
                self._append(size)
                self._rows[0][:old] = rows
                self._bits[0][:, :old] = bits
                self._labels[0][:old] = labels
            else:
                self._append(BLOCK)

    def _append(self, size: int) -> None:
        self._rows.append(np.empty((size, self.dimensions), dtype=np.float32))
        self._bits.append(np.empty((_WORDS, size), dtype=np.uint64))
        self._labels.append(np.empty(size, dtype=np.int64))

    def _slot(self, position: int) -> tuple[int, int]:
        if position < len(self._labels[0]):
            return 0, position
        rest = position - len(self._labels[0])
        return 1 + rest // BLOCK, rest % BLOCK

    def add(self, labels: list[int], vectors: Vectors) -> None:
        self._reserve(self._n + len(labels))
        words = signs(vectors)
        for i, label in enumerate(labels):
            block, at = self._slot(self._n)
            self._rows[block][at] = vectors[i]
            self._bits[block][:, at] = words[i]
            self._labels[block][at] = label
            self._position[label] = self._n
            self._n += 1

    def remove(self, label: int) -> None:
        """Move the last row into the hole: O(1), no copy of the table."""
        position = self._position.pop(label)
        self._n -= 1
        if position != self._n:
            src, s = self._slot(self._n)
            dst, d = self._slot(position)
            moved = int(self._labels[src][s])
            self._rows[dst][d] = self._rows[src][s]
            self._bits[dst][:, d] = self._bits[src][:, s]
            self._labels[dst][d] = moved
            self._position[moved] = position
        if len(self._rows) > 1 and self._capacity() - self._n >= BLOCK + FIRST_BLOCK:
            for part in (self._rows, self._bits, self._labels):
                part.pop()  # an empty last block, with one spare kept

    def _blocks(self) -> list[tuple[int, int, int]]:
        """(block, rows used, first position) for the blocks holding rows."""
        out = []
        start = 0
        for block, labels in enumerate(self._labels):
            used = min(len(labels), self._n - start)
            if used <= 0:
                break
            out.append((block, used, start))
            start += len(labels)
        return out

    def search(self, vector: Vectors, k: int, threshold: float) -> list[tuple[int, float]]:
        """Up to ``k`` (label, similarity) at or above ``threshold``, most similar first."""
        if self._n == 0:
            return []
        if self._n <= PREFILTER_ABOVE:
            candidates = [
                (block, np.arange(used), self._rows[block][:used] @ vector)
                for block, used, _ in self._blocks()
            ]
        else:
            candidates = self._prefiltered(vector, threshold)
        found: list[tuple[int, float]] = []
        for block, rows, similarities in candidates:
            keep = similarities >= threshold
            labels = self._labels[block][rows[keep]]
            found.extend(zip(labels.tolist(), similarities[keep].tolist(), strict=True))
        found.sort(key=lambda item: -item[1])
        return found[:k]

    def _prefiltered(
        self, vector: Vectors, threshold: float
    ) -> list[tuple[int, npt.NDArray[np.intp], Vectors]]:
        query = signs(vector.reshape(1, -1))[0]
        limit = max_differing_bits(threshold)
        near: list[tuple[int, npt.NDArray[np.intp], npt.NDArray[np.uint16]]] = []
        for block, used, _ in self._blocks():
            words = self._bits[block]
            distance = np.bitwise_count(words[0, :used] ^ query[0]).astype(np.uint16)
            for w in range(1, _WORDS):
                distance += np.bitwise_count(words[w, :used] ^ query[w])
            rows = np.flatnonzero(distance <= limit)
            if len(rows):
                near.append((block, rows, distance[rows]))
        total = sum(len(rows) for _, rows, _ in near)
        if total > CANDIDATES:  # keep the nearest by bits: one cut over all blocks
            cut = np.partition(np.concatenate([d for _, _, d in near]), CANDIDATES - 1)[
                CANDIDATES - 1
            ]
            near = [(b, rows[d <= cut], d[d <= cut]) for b, rows, d in near]
        return [(block, rows, self._rows[block][rows] @ vector) for block, rows, _ in near]


class ScopeVectors:
    """Entries of one scope, searchable by vector."""

    def __init__(self, dimensions: int, max_entries: int) -> None:
        self.dimensions = dimensions
        self.max_entries = max_entries
        self._table = VectorTable(dimensions)
        self._entries: dict[int, Entry] = {}
        self._labels: dict[str, int] = {}
        self._expiry: list[tuple[float, int]] = []  # a heap; stale items skipped on pop
        self._next_label = 0

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, digest: str) -> Entry | None:
        label = self._labels.get(digest)
        return None if label is None else self._entries[label]

    def add(self, entry: Entry, vector: Vectors, now: float) -> None:
        """Insert or replace (by digest); then drop what expired and, over the cap,
        the entries closest to expiry."""
        self.add_many([entry], vector.reshape(1, -1), now)

    def add_many(self, entries: list[Entry], vectors: Vectors, now: float) -> None:
        """Insert many at once (a mirror's initial load, a benchmark): one bulk insert."""
        latest: dict[str, int] = {}  # the last of several entries for one text wins
        for i, e in enumerate(entries):
            if e.expires_at > now:
                latest[e.digest] = i
        if not latest:
            return
        labels: list[int] = []
        for digest, i in latest.items():
            self.remove(digest)
            label = self._next_label
            self._next_label += 1
            labels.append(label)
            self._entries[label] = entries[i]
            self._labels[digest] = label
            heapq.heappush(self._expiry, (entries[i].expires_at, label))
        rows = np.ascontiguousarray(vectors[list(latest.values())], dtype=np.float32)
        self._table.add(labels, rows)
        self.expire(now)

    def remove(self, digest: str) -> bool:
        label = self._labels.pop(digest, None)
        if label is None:
            return False
        del self._entries[label]
        self._table.remove(label)
        return True

    def expire(self, now: float) -> None:
        """Drop expired entries, then the soonest to expire while over the cap."""
        while self._expiry:
            expires_at, label = self._expiry[0]
            entry = self._entries.get(label)
            if entry is None or entry.expires_at != expires_at:
                heapq.heappop(self._expiry)  # replaced or removed: a stale heap item
                continue
            if expires_at > now and len(self._entries) <= self.max_entries:
                break
            heapq.heappop(self._expiry)
            self.remove(entry.digest)
        if len(self._expiry) > 2 * len(self._entries) + 64:
            self._expiry = [(e.expires_at, lb) for lb, e in self._entries.items()]
            heapq.heapify(self._expiry)

    def search(
        self, vector: Vectors, signature: Signature, threshold: float, now: float, k: int = 16
    ) -> tuple[Entry, float] | None:
        """The most similar live entry at or above ``threshold`` that the guard accepts.

        ``k`` neighbours are examined, not one: the nearest may differ in a number
        ("5 miles" vs "50 miles") while the next is the true paraphrase.
        """
        for label, similarity in self._table.search(vector.reshape(-1), k, threshold):
            entry = self._entries.get(label)
            if entry is None or entry.expires_at <= now:
                continue
            if same_question(signature, entry.signature):
                return entry, float(similarity)
        return None
