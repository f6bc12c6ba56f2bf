"""``GET /v1/models``: the model aliases a key may use, as OpenAI lists models."""

from __future__ import annotations

import orjson

__all__ = ["encode_models"]


def encode_models(names: list[str], *, created: int, owned_by: str = "sluicegate") -> bytes:
    """``GET /v1/models``: the aliases a key may use, as OpenAI model objects."""
    return orjson.dumps({
        "object": "list",
        "data": [{"id": n, "object": "model", "created": created, "owned_by": owned_by}
                 for n in names],
    })
