"""Terminal stage: call the routed targets in order until one answers.

A target that fails before its first event is passed over for the next when
the failure is retryable (429, 5xx, transport errors, timeouts). Once the first
event has arrived the answer is committed to that target: nothing is retried
after a byte may have reached the client.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from sluicegate.canonical import ChatRequest, ErrorKind, Event, GatewayError
from sluicegate.pipeline import Events, RequestContext
from sluicegate.routing.aliases import Target


class CallUpstream:
    async def __call__(self, ctx: RequestContext) -> Events:
        last_error: GatewayError | None = None
        for alias, target in ctx.targets:
            ctx.attempts += 1
            ctx.target, ctx.serving_alias = target, alias
            events = _start(ctx, target)
            try:
                first = await _first_event(events, target)
            except GatewayError as err:
                await close(events)
                if not err.retryable:
                    raise
                last_error = err
                continue
            ctx.first_event_at = time.perf_counter()
            return _primed(first, events)
        if last_error is not None:
            raise last_error
        raise GatewayError(
            ErrorKind.UNAVAILABLE, "no healthy target for this model", code="no_healthy_target"
        )


def _start(ctx: RequestContext, target: Target) -> AsyncIterator[Event]:
    request = ctx.decoded
    if isinstance(request, ChatRequest):
        return target.provider.chat(request, target.model)
    return target.provider.embed(request, target.model)


async def _first_event(events: AsyncIterator[Event], target: Target) -> Event:
    # The first-token deadline is the provider's to keep: only it can tell an
    # answer from a keep-alive comment on the wire.
    try:
        return await anext(events)
    except StopAsyncIteration as exc:
        raise GatewayError(
            ErrorKind.UPSTREAM,
            f"upstream {target.label!r} ended its answer without content",
            code="upstream_bad_response",
            retryable=True,
        ) from exc


async def close(events: AsyncIterator[Event]) -> None:
    """Close a provider's event iterator (async generators hold the upstream connection)."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


async def _primed(first: Event, rest: AsyncIterator[Event]) -> Events:
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        # Closing releases the upstream connection at once when the client goes away.
        await close(rest)
