"""Stage: record every request, answered or failed, in the ledger and in metrics.

It is the outermost stage so that it sees every outcome, including a request
refused by authentication. The record is written when the answer ends: for a
stream, when the last upstream event has passed, before the client's stream
is closed, so that a complete answer always has its ledger row.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sluicegate.canonical import (
    ErrorKind,
    GatewayError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from sluicegate.canonical.tokens import estimate_input_tokens
from sluicegate.observability.metrics import Metrics
from sluicegate.pipeline import Events, Next, RequestContext
from sluicegate.state.ledger import Ledger, LedgerRecord

# nginx's code for "client closed the connection before the answer was complete".
CLIENT_CLOSED = 499

log = logging.getLogger("sluicegate")
_NOTHING = Usage()
# What _watch yields once to Settle itself, so that its finally is armed.
_STARTED = Usage()


class Settle:
    def __init__(self, ledger: Ledger, metrics: Metrics) -> None:
        self.ledger = ledger
        self.metrics = metrics

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Events:
        self.metrics.in_flight += 1
        try:
            events = await call_next(ctx)
        except GatewayError as err:
            ctx.error = err
            self.settle(ctx)
            raise
        except Exception as exc:
            internal = _internal(exc)
            ctx.error = internal
            self.settle(ctx)
            raise internal from exc
        except asyncio.CancelledError:
            # The client went away before the first event (aiohttp cancels its handler).
            ctx.client_closed = True
            self.settle(ctx)
            raise
        watched = self._watch(ctx, events)
        # Start the generator now: an async generator closed before its first
        # step never runs its ``finally``, and a client that goes away before
        # egress reads anything must still leave a ledger record.
        await anext(watched)
        return watched

    async def _watch(self, ctx: RequestContext, events: Events) -> Events:
        try:
            yield _STARTED
            async for event in events:
                kind = type(event)
                if kind is TextDelta:
                    ctx.output_chars += len(event.text)  # type: ignore[union-attr]
                elif kind is ToolCallDelta:
                    ctx.output_chars += len(event.arguments)  # type: ignore[union-attr]
                elif kind is Usage:
                    ctx.usage = event  # type: ignore[assignment]
                yield event
        except GatewayError as err:
            ctx.error = err
            raise
        except Exception as exc:
            internal = _internal(exc)
            ctx.error = internal
            raise internal from exc
        except BaseException:
            # GeneratorExit or cancellation: the client went away mid-answer.
            ctx.client_closed = True
            raise
        finally:
            self.settle(ctx)
            await events.aclose()  # at once, not when the garbage collector gets to it
            if ctx.finalizers:
                for finalizer in ctx.finalizers:
                    await finalizer(ctx)

    def settle(self, ctx: RequestContext) -> None:
        usage = ctx.usage
        if ctx.replayed or ctx.cache == "hit":
            usage = _NOTHING  # the first request paid; a replay never charges twice
        elif usage is None:
            usage = _estimate(ctx)
        alias = ctx.serving_alias or ctx.alias
        cost = (
            alias.cost_usd(
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_tokens,
                usage.cache_write_tokens,
            )
            if alias is not None
            else 0.0
        )
        ctx.usage, ctx.cost_usd = usage, cost
        err = ctx.error
        status = (
            CLIENT_CLOSED
            if ctx.client_closed and err is None
            else (err.status if err is not None else 200)
        )
        now = time.perf_counter()
        latency_ms = (now - ctx.started) * 1000
        ttft_ms = None if ctx.first_event_at is None else (ctx.first_event_at - ctx.started) * 1000
        tenant = ctx.tenant.name if ctx.tenant else None
        alias_name = ctx.alias.name if ctx.alias else None
        target = ctx.target.label if ctx.target and ctx.first_event_at is not None else None
        self.ledger.record(
            LedgerRecord(
                id=ctx.id,
                request_id=ctx.request_id,
                ts=ctx.received_at,
                tenant=tenant,
                key_name=ctx.api_key.name if ctx.api_key else None,
                alias=alias_name,
                target=target,
                protocol=ctx.protocol,
                operation=ctx.operation,
                stream=ctx.streaming,
                tags=ctx.tags,
                status=status,
                error_code=err.code if err is not None else None,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cached_tokens=usage.cached_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                estimated=usage.estimated,
                cost_usd=cost,
                latency_ms=latency_ms,
                ttft_ms=ttft_ms,
                attempts=tuple(ctx.attempt_log),
                cache=ctx.cache,
                saved_usd=ctx.saved_usd,
            )
        )
        self._observe(
            ctx,
            tenant or "",
            alias_name or "",
            target or "",
            status,
            usage,
            cost,
            latency_ms,
            ttft_ms,
        )

    def _observe(
        self,
        ctx: RequestContext,
        tenant: str,
        alias: str,
        target: str,
        status: int,
        usage: Usage,
        cost: float,
        latency_ms: float,
        ttft_ms: float | None,
    ) -> None:
        m = self.metrics
        m.in_flight -= 1
        m.requests[tenant, alias, target, str(status)] += 1
        if ctx.attempts:
            m.attempts[target] += ctx.attempts
        if usage.input_tokens:
            m.tokens[tenant, alias, "input"] += usage.input_tokens
        if usage.output_tokens:
            m.tokens[tenant, alias, "output"] += usage.output_tokens
        if usage.cached_tokens:
            m.tokens[tenant, alias, "cached"] += usage.cached_tokens
        if cost:
            m.cost[tenant, alias] += cost
        if alias:
            m.duration[alias].observe(latency_ms / 1000)
            if ttft_ms is not None:
                m.ttft[alias].observe(ttft_ms / 1000)


def _internal(exc: Exception) -> GatewayError:
    """A bug, not a client's or an upstream's failure: logged in full, recorded, and
    answered as a 500 in the client's protocol without its details."""
    log.error("internal error while serving a request", exc_info=exc)
    return GatewayError(ErrorKind.INTERNAL, "internal error in the gateway", code="internal_error")


def _estimate(ctx: RequestContext) -> Usage:
    """Usage counted locally, for answers whose upstream reported none.

    Nothing is counted for requests that never reached an upstream.
    """
    if ctx.first_event_at is None:
        return Usage()
    return Usage(
        input_tokens=estimate_input_tokens(ctx.decoded),
        output_tokens=(ctx.output_chars + 3) // 4,
        estimated=True,
    )
