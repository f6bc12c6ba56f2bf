"""The in-process index with the real local model."""

from __future__ import annotations

import numpy as np
import pytest

from sluicegate.cache.semantic import (
    DEFAULT_THRESHOLD,
    CallableEmbedder,
    LocalEmbedder,
    MemorySemanticIndex,
)


class Clock:
    """Time that passes only when a test moves it: an entry's TTL never runs out
    while a slow machine (or an emulated CPU) is still embedding."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_paraphrase_finds_the_stored_answer(embedder: LocalEmbedder) -> None:
    index = MemorySemanticIndex(embedder, clock=Clock())
    await index.store("t1:smart:abc", "How do I reset my password?", "answer-1", ttl_s=60)
    hit = await index.lookup("t1:smart:abc", "How can I reset my password?")
    assert hit is not None
    assert hit.entry_key == "answer-1"
    assert hit.text == "How do I reset my password?"
    assert DEFAULT_THRESHOLD <= hit.similarity <= 1.0


async def test_other_scopes_and_other_questions_miss(embedder: LocalEmbedder) -> None:
    index = MemorySemanticIndex(embedder, clock=Clock())
    await index.store("t1:smart:abc", "How do I delete my account?", "answer-1", ttl_s=60)
    assert await index.lookup("t2:smart:abc", "How do I delete my account?") is None
    assert await index.lookup("t1:smart:abc", "How do I create my account?") is None
    assert await index.lookup("t1:smart:abc", "What are your opening hours?") is None


async def test_the_threshold_can_be_set_per_lookup(embedder: LocalEmbedder) -> None:
    index = MemorySemanticIndex(embedder, clock=Clock())
    await index.store("s", "What are your opening hours?", "answer-1", ttl_s=60)
    assert await index.lookup("s", "When are you open?") is None
    assert await index.lookup("s", "When are you open?", threshold=0.6) is not None


async def test_entries_expire_with_their_ttl(embedder: LocalEmbedder) -> None:
    clock = Clock()
    index = MemorySemanticIndex(embedder, clock=clock)
    await index.store("s", "Why is the sky blue?", "answer-1", ttl_s=30)
    clock.now += 29
    assert await index.lookup("s", "Why does the sky look blue?") is not None
    clock.now += 2
    assert await index.lookup("s", "Why does the sky look blue?") is None


async def test_each_scope_keeps_at_most_its_cap(embedder: LocalEmbedder) -> None:
    index = MemorySemanticIndex(embedder, max_entries_per_scope=2, clock=Clock())
    for i, text in enumerate(["Why is the sky blue?", "What is inflation?", "What is Docker?"]):
        await index.store("s", text, f"answer-{i}", ttl_s=60 + i)
    assert len(index) == 2
    assert await index.lookup("s", "Why is the sky blue?") is None  # closest to expiry: gone


async def test_invalidate_by_prefix_counts_what_it_dropped(embedder: LocalEmbedder) -> None:
    index = MemorySemanticIndex(embedder, clock=Clock())
    await index.store("acme:smart:1", "What is inflation?", "a", ttl_s=60)
    await index.store("acme:smart:2", "What is Docker?", "b", ttl_s=60)
    await index.store("globex:smart:1", "What is inflation?", "c", ttl_s=60)
    assert await index.invalidate("acme:") == 2
    assert await index.lookup("acme:smart:1", "What is inflation?") is None
    assert await index.lookup("globex:smart:1", "What is inflation?") is not None
    assert await index.invalidate() == 1


async def test_a_callable_embedder_is_normalised_and_checked() -> None:
    async def call(texts: list[str]) -> list[list[float]]:
        return [[3.0, 4.0] if "blue" in t else [4.0, 3.0] for t in texts]

    embedder = CallableEmbedder(call, dimensions=2)
    vectors = await embedder.embed(["blue", "red"])
    assert vectors.dtype == np.float32
    assert np.allclose(vectors, [[0.6, 0.8], [0.8, 0.6]])
    index = MemorySemanticIndex(embedder, threshold=0.99, clock=Clock())
    await index.store("s", "sky blue", "a", ttl_s=60)
    hit = await index.lookup("s", "blue sky")
    assert hit is not None and hit.entry_key == "a"
    with pytest.raises(ValueError, match="expected"):
        await CallableEmbedder(call, dimensions=3).embed(["x"])


async def test_scopes_left_empty_are_swept_away(embedder: LocalEmbedder) -> None:
    clock = Clock()
    index = MemorySemanticIndex(embedder, clock=clock)
    for i in range(3):
        await index.store(f"conversation-{i}", "What is inflation?", f"a{i}", ttl_s=10)
    clock.now += 120  # past the TTL and the sweep interval
    await index.store("other", "What is Docker?", "b", ttl_s=10)
    assert index.scopes == 1 and len(index) == 1


async def test_texts_longer_than_the_model_reads_are_left_to_the_exact_cache(
    embedder: LocalEmbedder,
) -> None:
    # The model reads ~256 tokens: these two differ only after that, and embed alike.
    document = "Summarize this report. " + "The quarter went as planned. " * 60
    index = MemorySemanticIndex(embedder, clock=Clock())
    await index.store("s", document + "Revenue fell.", "a", ttl_s=60)
    assert len(index) == 0
    assert await index.lookup("s", document + "Revenue rose.") is None
    loose = MemorySemanticIndex(embedder, max_text_chars=100_000, clock=Clock())
    await loose.store("s", document + "Revenue fell.", "a", ttl_s=60)
    assert await loose.lookup("s", document + "Revenue rose.") is not None  # the danger
