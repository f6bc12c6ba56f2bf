"""Stage: record every request, answered or failed, in the ledger and in metrics.

It is the outermost stage so that it sees every outcome, including a request
refused by authentication. The record is written when the answer ends: for a
stream, when the last upstream event has passed, before the client's stream
is closed, so that a complete answer always has its ledger row.
"""

from __future__ import annotations

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
from sluicegate.pipeline import Events, Next, Outcome, Request
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

    async def __call__(self, request: Request, call_next: Next) -> Events:
        self.metrics.in_flight += 1
        outcome = request.outcome
        try:
            events = await call_next(request)
        except GatewayError as err:
            outcome.error = err
            self.settle(outcome)
            raise
        except Exception as exc:
            internal = _internal(exc)
            outcome.error = internal
            self.settle(outcome)
            raise internal from exc
        watched = self._watch(outcome, events)
        # Start the generator now: an async generator closed before its first
        # step never runs its ``finally``, and a client that goes away before
        # egress reads anything must still leave a ledger record.
        await anext(watched)
        return watched

    async def _watch(self, outcome: Outcome, events: Events) -> Events:
        try:
            yield _STARTED
            async for event in events:
                kind = type(event)
                if kind is TextDelta:
                    outcome.output_chars += len(event.text)  # type: ignore[union-attr]
                elif kind is ToolCallDelta:
                    outcome.output_chars += len(event.arguments)  # type: ignore[union-attr]
                elif kind is Usage:
                    outcome.usage = event  # type: ignore[assignment]
                yield event
        except GatewayError as err:
            outcome.error = err
            raise
        except Exception as exc:
            internal = _internal(exc)
            outcome.error = internal
            raise internal from exc
        except BaseException:
            # GeneratorExit or cancellation: the client went away mid-answer.
            outcome.client_closed = True
            raise
        finally:
            self.settle(outcome)
            await events.aclose()  # at once, not when the garbage collector gets to it
            if outcome.finalizers:
                for finalizer in outcome.finalizers:
                    await finalizer(outcome)

    def settle(self, outcome: Outcome) -> None:
        request = outcome.request
        assert request is not None  # every version is given to its outcome
        usage = outcome.usage
        if outcome.replayed or outcome.cache == "hit":
            usage = _NOTHING  # the first request paid; a replay never charges twice
        elif usage is None:
            usage = _estimate(request)
        alias = outcome.serving_alias or request.alias
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
        outcome.usage, outcome.cost_usd = usage, cost
        err = outcome.error
        status = (
            CLIENT_CLOSED
            if outcome.client_closed and err is None
            else (err.status if err is not None else 200)
        )
        now = time.perf_counter()
        latency_ms = (now - request.started) * 1000
        first = outcome.first_event_at
        ttft_ms = None if first is None else (first - request.started) * 1000
        tenant = request.tenant.name if request.tenant else None
        alias_name = request.alias.name if request.alias else None
        target = outcome.target.label if outcome.target and first is not None else None
        self.ledger.record(
            LedgerRecord(
                id=request.id,
                request_id=request.request_id,
                ts=request.received_at,
                tenant=tenant,
                key_name=request.api_key.name if request.api_key else None,
                alias=alias_name,
                target=target,
                protocol=request.protocol,
                operation=request.operation,
                stream=request.streaming,
                tags=request.tags,
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
                attempts=tuple((a.target, a.result) for a in outcome.attempts),
                cache=outcome.cache,
                saved_usd=outcome.saved_usd,
            )
        )
        self._observe(
            outcome,
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
        outcome: Outcome,
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
        if outcome.calls:
            m.attempts[target] += outcome.calls
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


def _estimate(request: Request) -> Usage:
    """Usage counted locally, for answers whose upstream reported none.

    Nothing is counted for requests that never reached an upstream.
    """
    outcome = request.outcome
    if outcome.first_event_at is None:
        return Usage()
    return Usage(
        input_tokens=estimate_input_tokens(request.decoded),
        output_tokens=(outcome.output_chars + 3) // 4,
        estimated=True,
    )
