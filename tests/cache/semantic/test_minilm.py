"""The packaged model, run on onnxruntime, against sentence-transformers' own output.

The floors come from bench/semantic_paths.py, run natively (AVX2+FMA) and under
qemu-x86_64 as SandyBridge (AVX) and Nehalem (SSE4.2), which makes onnxruntime
take other kernels: float32 embeddings agreed between them to 1.4e-7 an element;
the int8 graph's came within cosine 0.987 of float32 on every labelled text, and
within 0.993 of its own on another CPU (it is not CPU-independent, see minilm.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sluicegate.cache.semantic import LocalEmbedder
from sluicegate.cache.semantic.minilm import MiniLMEncoder, quantize_columns

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "data" / "minilm_reference.json").read_text()
)
FLOAT_FLOOR = 0.99999  # measured 0.9999999 and above
INT8_FLOOR = 0.98  # measured 0.987 and above, over all 577 labelled texts


@pytest.mark.parametrize("quantized, floor", [(False, FLOAT_FLOOR), (True, INT8_FLOOR)])
def test_embeddings_match_sentence_transformers(quantized: bool, floor: float) -> None:
    encoder = MiniLMEncoder(quantized=quantized)
    expected = np.array(REFERENCE["vectors"], dtype=np.float32)
    for text, want in zip(REFERENCE["texts"], expected, strict=True):
        got = encoder.encode([text])[0]
        assert got.shape == (384,) and got.dtype == np.float32
        assert abs(float(np.linalg.norm(got)) - 1.0) < 1e-5
        assert float(got @ want) >= floor, text


def test_the_default_embedder_is_the_float_model(embedder: LocalEmbedder) -> None:
    # What the gateway runs: float32 gives the same vectors on every CPU, where
    # int8's re-quantization turns a last-bit difference of one kernel into
    # another rounding of an activation, and so a different vector.
    got = embedder.encode(REFERENCE["texts"])
    expected = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert np.sum(got * expected, axis=1).min() >= FLOAT_FLOOR


def test_int8_products_are_exact_on_this_cpu() -> None:
    # One int8 matmul of the model against exact integer arithmetic. int8
    # weights sent onnxruntime to kernels that saturate pairs of products at
    # 16 bits on AVX2 and AVX-512BW CPUs without VNNI (errors up to ~0.7 here).
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime import InferenceSession

    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((384, 1536)) * 0.05).astype(np.float32)
    weight[rng.integers(0, 384, 40), rng.integers(0, 1536, 40)] = 0.4  # outliers, as BERT has
    q, scale, zero = quantize_columns(weight)
    node = helper.make_node("DynamicQuantizeMatMul", ["x", "q", "scale", "zero"], ["y"],
                            domain="com.microsoft")
    graph = helper.make_graph(
        [node], "one-matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 384])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 1536])],
        [numpy_helper.from_array(a, n) for a, n in ((q, "q"), (scale, "scale"), (zero, "zero"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    session = InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = (rng.standard_normal((16, 384)) * 2.0 + 0.5).astype(np.float32)
    (got,) = session.run(["y"], {"x": x})

    # onnxruntime's own dynamic quantization of x: uint8, the range widened to hold 0.
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    x_scale = np.float32((high - low) / 255)
    x_zero = int(np.clip(np.rint(-low / x_scale), 0, 255))
    xq = np.clip(np.rint(x / x_scale) + x_zero, 0, 255).astype(np.int64)
    exact = (xq - x_zero) @ (q.astype(np.int64) - zero.astype(np.int64))
    want = exact.astype(np.float32) * (x_scale * scale)
    # The same int32 sums, each scaled once in float32: a few units of the last place.
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_padded_batch_embeds_each_text_as_alone() -> None:
    encoder = MiniLMEncoder()
    texts = ["short", "a much longer sentence that needs padding in a batch"]
    batch = encoder.encode(texts)
    for row, text in zip(batch, texts, strict=True):
        assert float(row @ encoder.encode([text])[0]) > 0.99999


def test_long_texts_are_truncated_not_refused() -> None:
    encoder = MiniLMEncoder()
    assert encoder.encode(["word " * 2000]).shape == (1, 384)
    assert encoder.encode([]).shape == (0, 384)
