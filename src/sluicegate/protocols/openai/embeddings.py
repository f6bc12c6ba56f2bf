"""OpenAI ``POST /v1/embeddings`` as the gateway serves it: the request in, the vectors out.

The request is validated with OpenAI's own error style (see :mod:`.fields`);
fields without a canonical meaning are kept in ``request.extra["openai"]``.
The other direction, the gateway as a client of an OpenAI-compatible
upstream, is in :mod:`.chat_upstream`.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from sluicegate.canonical import EmbeddingRequest, EmbeddingResponse, ErrorCode, GatewayError
from sluicegate.protocols.openai.fields import (
    bad_value,
    missing,
    model_of,
    opt_int,
    opt_str,
    parse_json,
    wrong_type,
)

__all__ = ["decode_embeddings_request", "encode_embeddings_response"]

_EMBEDDING_HANDLED = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


def _decode_input(value: Any) -> list[Any]:
    """``input`` as a list of items, each a string or a token array."""
    if value is None:
        raise missing("input")
    if isinstance(value, str):
        if not value:
            raise bad_value("input", "expected a non-empty string.")
        return [value]
    if not isinstance(value, list):
        raise wrong_type("input", value, "a string or an array")
    if not value:
        raise GatewayError.invalid(
            "Invalid 'input': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.", param="input", code=ErrorCode.EMPTY_ARRAY)
    first = value[0]
    if isinstance(first, int) and not isinstance(first, bool):
        for i, token in enumerate(value):  # one pre-tokenized input
            if isinstance(token, bool) or not isinstance(token, int):
                raise wrong_type(f"input[{i}]", token, "an integer")
        return [value]
    for i, item in enumerate(value):
        if isinstance(item, str):
            if not item:
                raise bad_value(f"input[{i}]", "expected a non-empty string.")
        elif isinstance(item, list):
            if not item:
                raise bad_value(f"input[{i}]", "expected a non-empty array of tokens.")
            for j, token in enumerate(item):
                if isinstance(token, bool) or not isinstance(token, int):
                    raise wrong_type(f"input[{i}][{j}]", token, "an integer")
        else:
            raise wrong_type(f"input[{i}]", item, "a string or an array of integers")
    return value


def decode_embeddings_request(body: bytes) -> EmbeddingRequest:
    """Parse and validate an OpenAI ``POST /v1/embeddings`` body."""
    data = parse_json(body)
    model = model_of(data)
    inputs = _decode_input(data.get("input"))
    encoding_format: Literal["float", "base64"] = "float"
    raw_format = data.get("encoding_format")
    if raw_format == "base64":
        encoding_format = "base64"
    elif raw_format not in (None, "float"):
        raise bad_value("encoding_format",
                         f"'{raw_format}'. Supported values are: 'float' and 'base64'.")
    extra = {k: v for k, v in data.items() if k not in _EMBEDDING_HANDLED}
    return EmbeddingRequest(
        model=model,
        inputs=inputs,
        encoding_format=encoding_format,
        dimensions=opt_int(data, "dimensions", 1),
        user=opt_str(data, "user", "user"),
        extra={"openai": extra} if extra else {},
    )


def encode_embeddings_response(resp: EmbeddingResponse) -> bytes:
    """The ``list`` of ``embedding`` objects (float arrays or base64 strings, as asked)."""
    return orjson.dumps({
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v}
                 for i, v in enumerate(resp.vectors)],
        "model": resp.model,
        "usage": {"prompt_tokens": resp.usage.input_tokens,
                  "total_tokens": resp.usage.input_tokens},
    })

