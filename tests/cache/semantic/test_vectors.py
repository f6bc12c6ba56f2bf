"""One scope's vectors: search, replacement, expiry and the cap."""

from __future__ import annotations

import numpy as np

from sluicegate.cache.semantic.guard import signature
from sluicegate.cache.semantic.vectors import (
    BITS,
    BLOCK,
    FIRST_BLOCK,
    PREFILTER_ABOVE,
    Entry,
    ScopeVectors,
    max_differing_bits,
)

DIMS = 8


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIMS, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def entry(text: str, expires_at: float = 100.0, key: str | None = None) -> Entry:
    return Entry(text, key or f"k:{text}", expires_at, text, signature(text))


def test_finds_the_nearest_entry_above_the_threshold() -> None:
    vectors = ScopeVectors(DIMS, max_entries=10)
    vectors.add(entry("a"), unit(1, 0), now=0)
    vectors.add(entry("b"), unit(0, 1), now=0)
    found = vectors.search(unit(1, 0.1), signature("x"), threshold=0.9, now=0)
    assert found is not None and found[0].text == "a" and found[1] > 0.99
    assert vectors.search(unit(1, 1), signature("x"), threshold=0.9, now=0) is None


def test_looks_past_a_nearer_neighbour_that_the_guard_refuses() -> None:
    vectors = ScopeVectors(DIMS, max_entries=10)
    vectors.add(entry("Convert 50 miles to km"), unit(1, 0.01), now=0)
    vectors.add(entry("Convert 5 miles to km"), unit(1, 0.05), now=0)
    found = vectors.search(unit(1, 0), signature("Convert 5 miles to km!"), threshold=0.9, now=0)
    assert found is not None and found[0].text == "Convert 5 miles to km"


def test_storing_the_same_text_again_replaces_it() -> None:
    vectors = ScopeVectors(DIMS, max_entries=10)
    vectors.add(entry("a", key="old"), unit(1, 0), now=0)
    vectors.add(entry("a", key="new"), unit(1, 0), now=0)
    assert len(vectors) == 1
    found = vectors.search(unit(1, 0), signature("a"), threshold=0.9, now=0)
    assert found is not None and found[0].entry_key == "new"


def test_expired_entries_are_not_found_and_are_dropped() -> None:
    vectors = ScopeVectors(DIMS, max_entries=10)
    vectors.add(entry("a", expires_at=10), unit(1, 0), now=0)
    assert vectors.search(unit(1, 0), signature("a"), threshold=0.9, now=11) is None
    vectors.add(entry("b", expires_at=50), unit(0, 1), now=11)
    assert len(vectors) == 1 and vectors.entry("a") is None


def test_over_the_cap_the_entries_closest_to_expiry_go_first() -> None:
    vectors = ScopeVectors(DIMS, max_entries=2)
    vectors.add(entry("late", expires_at=90), unit(1, 0), now=0)
    vectors.add(entry("soon", expires_at=20), unit(0, 1), now=0)
    vectors.add(entry("mid", expires_at=50), unit(0, 0, 1), now=0)
    assert len(vectors) == 2
    assert vectors.entry("soon") is None
    assert vectors.entry("late") is not None and vectors.entry("mid") is not None


def test_bulk_load_skips_expired_entries() -> None:
    vectors = ScopeVectors(DIMS, max_entries=10)
    entries = [entry("a", expires_at=5), entry("b", expires_at=50)]
    vectors.add_many(entries, np.stack([unit(1, 0), unit(0, 1)]), now=10)
    assert len(vectors) == 1
    found = vectors.search(unit(0, 1), signature("b"), threshold=0.9, now=10)
    assert found is not None and found[0].text == "b"


def test_large_scopes_find_every_neighbour_through_the_prefilter() -> None:
    # A dense cluster of near-duplicates (an HNSW graph lost up to half of the
    # entries added near one, bench/semantic.py) plus noise; entries
    # added afterwards, near the cluster, must be found by their own vector.
    rng = np.random.default_rng(1)
    dims = 64
    centre = rng.standard_normal(dims).astype(np.float32)
    centre /= np.linalg.norm(centre)
    cluster = centre + 0.15 * rng.standard_normal((3000, dims)).astype(np.float32) / 8
    noise = rng.standard_normal((PREFILTER_ABOVE + 2000, dims)).astype(np.float32)
    rows = np.concatenate([cluster, noise])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    vectors = ScopeVectors(dims, max_entries=100_000)
    vectors.add_many([entry(f"q{i}") for i in range(len(rows))], rows, now=0)
    late = centre + 0.3 * rng.standard_normal((50, dims)).astype(np.float32) / 8
    late /= np.linalg.norm(late, axis=1, keepdims=True)
    for i, v in enumerate(late):
        vectors.add(entry(f"late{i}"), v, now=0)
    for i, v in enumerate(late):
        found = vectors.search(v, signature("x"), threshold=0.999, now=0)
        assert found is not None and found[0].text == f"late{i}"
    for i in (0, 2999, len(rows) - 1):
        found = vectors.search(rows[i], signature("x"), threshold=0.999, now=0)
        assert found is not None and found[0].text == f"q{i}"


def test_removal_keeps_every_other_entry_findable() -> None:
    rng = np.random.default_rng(2)
    rows = rng.standard_normal((FIRST_BLOCK + BLOCK + 10, DIMS * 4)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    vectors = ScopeVectors(DIMS * 4, max_entries=100_000)
    vectors.add_many([entry(f"q{i}") for i in range(len(rows))], rows, now=0)
    removed = set(range(0, len(rows), 3))
    for i in sorted(removed, reverse=True):
        assert vectors.remove(f"q{i}")
    assert len(vectors) == len(rows) - len(removed)
    for i in range(0, len(rows), 97):
        found = vectors.search(rows[i], signature("x"), threshold=0.999, now=0)
        assert (found is None) == (i in removed)
        assert found is None or found[0].text == f"q{i}"


def test_the_bit_budget_covers_the_threshold() -> None:
    assert max_differing_bits(1.0) < max_differing_bits(0.92) < max_differing_bits(0.8) < BITS
