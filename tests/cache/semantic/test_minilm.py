"""The packaged model, run on onnxruntime, against sentence-transformers' own output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sluicegate.cache.semantic.minilm import MiniLMEncoder

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "data" / "minilm_reference.json").read_text()
)


@pytest.mark.parametrize("quantized, floor", [(False, 0.99999), (True, 0.985)])
def test_embeddings_match_sentence_transformers(quantized: bool, floor: float) -> None:
    encoder = MiniLMEncoder(quantized=quantized)
    expected = np.array(REFERENCE["vectors"], dtype=np.float32)
    for text, want in zip(REFERENCE["texts"], expected, strict=True):
        got = encoder.encode([text])[0]
        assert got.shape == (384,) and got.dtype == np.float32
        assert abs(float(np.linalg.norm(got)) - 1.0) < 1e-5
        assert float(got @ want) >= floor, text


def test_a_padded_batch_embeds_each_text_as_alone() -> None:
    encoder = MiniLMEncoder(quantized=False)
    texts = ["short", "a much longer sentence that needs padding in a batch"]
    batch = encoder.encode(texts)
    for row, text in zip(batch, texts, strict=True):
        assert float(row @ encoder.encode([text])[0]) > 0.99999


def test_long_texts_are_truncated_not_refused() -> None:
    encoder = MiniLMEncoder()
    assert encoder.encode(["word " * 2000]).shape == (1, 384)
    assert encoder.encode([]).shape == (0, 384)
