"""An embeddings call."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from sluicegate.canonical.events import Usage


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    model: str
    # Strings, or token arrays when the client sends pre-tokenized input.
    inputs: list[Any]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None
    extra: dict[str, dict[str, Any]] = {}


class EmbeddingResponse(msgspec.Struct, kw_only=True):
    model: str
    vectors: list[Any]
    usage: Usage
