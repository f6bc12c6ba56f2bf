"""Embedders: the local model, and an adapter for any async embedding call.

The local model runs in a thread: a short query costs a few ms of CPU
(minilm.py has the figures; a long one several times that), too long to hold
the event loop, which meanwhile relays other requests' stream chunks.
onnxruntime releases the GIL while it runs, so the loop keeps going at the
cost of one thread hand-off (~50 us).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from sluicegate.cache.semantic.base import Vectors

if TYPE_CHECKING:
    from sluicegate.cache.semantic.minilm import MiniLMEncoder


def normalize(vectors: Vectors | Sequence[Sequence[float]]) -> Vectors:
    """``vectors`` as float32 rows of L2 norm 1 (a zero row stays zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    out: Vectors = array / np.maximum(norms, 1e-12)
    return out


class LocalEmbedder:
    """all-MiniLM-L6-v2 from site-packages (``sluicegate[semantic]``), off the event loop.

    Each text is encoded on its own, so that a stored vector is exactly the one
    its lookup computes: a padded batch agrees only to ~1e-7, and with the int8
    graph, whose activations are quantized per call, a text's vector would
    depend on its batch-mates.
    """

    def __init__(self, encoder: MiniLMEncoder | None = None, *, threads: int = 1) -> None:
        if encoder is None:
            from sluicegate.cache.semantic.minilm import MiniLMEncoder

            encoder = MiniLMEncoder()
        self._encoder = encoder
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sg-embed")

    @property
    def dimensions(self) -> int:
        return self._encoder.dimensions

    def encode(self, texts: list[str]) -> Vectors:
        """Synchronous: for benchmarks and batch jobs, not for the event loop."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.concatenate([self._encoder.encode([t]) for t in texts])

    async def embed(self, texts: list[str]) -> Vectors:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.encode, texts)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


EmbedCall = Callable[[list[str]], Awaitable[Vectors | Sequence[Sequence[float]]]]


class CallableEmbedder:
    """Any async ``texts -> vectors`` call as an Embedder, e.g. the gateway's own
    ``/v1/embeddings`` for an embedding alias. The result is checked and normalised."""

    def __init__(self, call: EmbedCall, dimensions: int) -> None:
        self._call = call
        self._dimensions = dimensions

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: list[str]) -> Vectors:
        vectors = normalize(await self._call(texts))
        if vectors.shape != (len(texts), self._dimensions):
            raise ValueError(
                f"embedding call returned shape {vectors.shape}, "
                f"expected ({len(texts)}, {self._dimensions})"
            )
        return vectors
