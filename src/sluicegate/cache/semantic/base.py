"""What a semantic index promises, and what it needs from an embedding model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

# Chosen on the dev half of tests/cache/data/paraphrase_pairs.tsv with the
# default embedder (all-MiniLM-L6-v2, float32) and the guard: the most similar
# non-paraphrase that the guard let through scored 0.8975; 0.93 leaves a 0.03
# margin for what the set does not hold. At 0.93: dev 0 false hits of 106,
# 64.4% of 87 paraphrases hit; test (held out, measured once the threshold
# and the guard were fixed) 1 false hit of 107 (0.93%), 65.2% of 89 hit
# (tests/cache/semantic/test_paraphrase_set.py prints and asserts them). The
# same on every CPU: no guarded pair lies within what a CPU moves a float32
# similarity (bench/semantic_paths.py) of 0.93.
DEFAULT_THRESHOLD = 0.93


@dataclass(frozen=True, slots=True)
class SemanticHit:
    """A stored text close enough to the query: ``entry_key`` names the answer in the
    exact cache; ``text`` is the stored text (for logs and headers)."""

    entry_key: str
    similarity: float
    text: str


class SemanticIndex(Protocol):
    async def lookup(
        self, scope: str, text: str, *, threshold: float | None = None
    ) -> SemanticHit | None:
        """The best entry of ``scope`` whose similarity reaches the threshold (the
        index's unless given) and that the guard finds to ask the same question."""
        ...

    async def store(self, scope: str, text: str, entry_key: str, ttl_s: float) -> None:
        """Remember ``text`` in ``scope`` for ``ttl_s`` seconds; storing the same text
        again replaces its entry."""
        ...

    async def invalidate(self, scope_prefix: str | None = None) -> int:
        """Forget every scope starting with ``scope_prefix`` (all: None); returns the
        number of entries dropped."""
        ...


class Embedder(Protocol):
    """Turns texts into unit vectors: (len(texts), dimensions), float32, L2 norm 1."""

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: list[str]) -> Vectors: ...
