"""Gemini embeddings: the ``batchEmbedContents`` request out, its answer in as events."""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical.embeddings import EmbeddingRequest
from sluicegate.canonical.errors import GatewayError
from sluicegate.canonical.events import EmbeddingsResult, Event, Usage
from sluicegate.canonical.tokens import estimate_text_tokens
from sluicegate.protocols.gemini.errors import error_from_object

__all__ = ["decode_embed_response", "encode_embed_request"]

JSON = dict[str, Any]


def encode_embed_request(req: EmbeddingRequest, model: str) -> bytes:
    """The body of ``models/{model}:batchEmbedContents``: one request per input."""
    name = model if model.startswith("models/") else f"models/{model}"
    requests: list[JSON] = []
    for i, item in enumerate(req.inputs):
        if not isinstance(item, str):
            raise GatewayError.invalid(
                "Gemini embeds text only; send strings, not token arrays", param=f"input[{i}]"
            )
        entry: JSON = {"model": name, "content": {"parts": [{"text": item}]}}
        if req.dimensions is not None:
            entry["outputDimensionality"] = req.dimensions
        requests.append(entry)
    return orjson.dumps({"requests": requests})


def decode_embed_response(body: bytes, *, model: str, inputs: list[str]) -> list[Event]:
    """An EmbeddingsResult and a Usage from a ``batchEmbedContents`` answer.

    Gemini reports no tokens for embeddings (newer models may send
    ``usageMetadata``, which is used when present), so usage is estimated
    locally and marked so.
    """
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a BatchEmbedContentsResponse, got {type(data).__name__}")
    if isinstance(data.get("error"), dict):
        raise error_from_object(data["error"], None)
    embeddings = data.get("embeddings")
    if not isinstance(embeddings, list) or len(embeddings) != len(inputs):
        raise ValueError(f"expected {len(inputs)} embeddings in the answer")
    vectors = [(e.get("values") if isinstance(e, dict) else None) or [] for e in embeddings]
    meta = data.get("usageMetadata")
    prompt_tokens = meta.get("promptTokenCount") if isinstance(meta, dict) else None
    if isinstance(prompt_tokens, int):
        usage = Usage(input_tokens=prompt_tokens)
    else:
        tokens = sum(estimate_text_tokens(text) for text in inputs if isinstance(text, str))
        usage = Usage(input_tokens=tokens, estimated=True)
    return [EmbeddingsResult(model=model, vectors=vectors), usage]
