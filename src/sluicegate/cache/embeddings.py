"""Embeddings for the semantic cache from one of the gateway's own embedding aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sluicegate.canonical import EmbeddingRequest, EmbeddingsResult, ErrorKind, GatewayError
from sluicegate.runtime import Runtime


def alias_embeddings(
    runtime: Callable[[], Runtime], alias: str
) -> Callable[[list[str]], Any]:
    """An ``texts -> vectors`` call on ``alias``'s targets, tried in order.

    It calls the providers directly rather than through the request pipeline: a
    cache lookup is part of the request being served, not a request of a tenant.
    """

    async def embed(texts: list[str]) -> list[list[float]]:
        current = runtime().aliases.get(alias)
        if current is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"embeddings alias {alias!r} is gone")
        last: GatewayError | None = None
        for target in current.targets:
            request = EmbeddingRequest(model=target.model, inputs=list(texts))
            try:
                async for event in target.provider.embed(request, target.model):
                    if isinstance(event, EmbeddingsResult):
                        return [list(v) for v in event.vectors]
            except GatewayError as err:
                last = err
        raise last or GatewayError(
            ErrorKind.UPSTREAM, f"embeddings alias {alias!r} returned no vectors"
        )

    return embed
