"""The innermost call: ask the provider, and wait for the answer's first event.

Once the first event has arrived the answer is committed to this target:
nothing is retried after a byte may have reached the client. The rest of the
answer is the Stream's, with the call's deadlines as its guard.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sluicegate.canonical import ChatRequest, ErrorKind, Event, GatewayError
from sluicegate.pipeline import Stream
from sluicegate.upstream.call import Call
from sluicegate.upstream.deadlines import Deadlines


async def call_target(call: Call) -> Stream:
    request, target = call.request, call.target
    deadlines = Deadlines.of(call.alias, target, streaming=request.streaming)
    body = request.decoded
    upstream: AsyncIterator[Event] = (
        target.provider.chat(body, target.model)
        if isinstance(body, ChatRequest)
        else target.provider.embed(body, target.model)
    )
    watch = deadlines.watch()
    try:
        first = await (anext(upstream) if watch is None else watch.wait(anext(upstream)))
    except StopAsyncIteration:
        if watch is not None:
            watch.close()
        raise GatewayError(
            ErrorKind.UPSTREAM,
            f"upstream {target.label!r} ended its answer without content",
            code="upstream_bad_response",
            retryable=True,
        ) from None
    except BaseException:
        if watch is not None:
            watch.close()
        await close(upstream)
        raise
    guard = deadlines.stream_watch(watch)
    return Stream(upstream, request.outcome, first=first, guard=guard)


async def close(events: AsyncIterator[Event]) -> None:
    """Close a provider's event iterator (async generators hold the upstream connection)."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
