"""The innermost call: ask the provider, and wait for the answer's first event.

The call's deadlines are the provider's timeouts with its alias's overrides
(:class:`~sluicegate.providers.deadlines.Deadlines`, worked out once per
target), kept by the provider's
transport and stream loop. Once the first event has arrived the answer is
committed to this target: nothing is retried after a byte may have reached the
client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sluicegate.canonical import ChatRequest, ErrorCode, ErrorKind, Event, GatewayError
from sluicegate.pipeline import Stream
from sluicegate.upstream.call import Call


async def call_target(call: Call) -> Stream:
    request, target = call.request, call.target
    provider = target.provider
    deadlines = target.deadlines
    body = request.decoded
    upstream: AsyncIterator[Event] = (
        provider.chat(body, target.model, deadlines)
        if isinstance(body, ChatRequest)
        else provider.embed(body, target.model, deadlines)
    )
    try:
        first = await anext(upstream)
    except StopAsyncIteration:
        raise GatewayError(
            ErrorKind.UPSTREAM,
            f"upstream {target.label!r} ended its answer without content",
            code=ErrorCode.UPSTREAM_BAD_RESPONSE,
            retryable=True,
        ) from None
    except BaseException:
        await close(upstream)
        raise
    return Stream(upstream, request.outcome, first=first)


async def close(events: AsyncIterator[Event]) -> None:
    """Close a provider's event iterator (async generators hold the upstream connection)."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
