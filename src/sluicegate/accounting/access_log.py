"""The access log: every request, answered or failed, in the ledger and in metrics.

The chain hands it every request twice: when it begins, and once it is over
(an error before any answer, or the end of the answer stream, as its last
observer). The record is written when the answer ends: for a stream, when
the last upstream event has passed, before the client's stream is closed, so
that a complete answer always has its ledger row. Everything it writes comes
from the request's :class:`~sluicegate.pipeline.Outcome`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sluicegate.canonical import Usage
from sluicegate.observability.genai import provider_name
from sluicegate.observability.metrics import Metrics
from sluicegate.pipeline import Observer, Outcome, Request, Stream
from sluicegate.pipeline.outcome import NOT_CALLED
from sluicegate.signals import is_refusal
from sluicegate.signals.served_models import ServedModels
from sluicegate.state.ledger import Ledger, LedgerRecord

# nginx's code for "client closed the connection before the answer was complete".
CLIENT_CLOSED = 499


class AccessLog(Observer):
    __slots__ = ("ledger", "metrics", "served_models", "sink")

    def __init__(
        self,
        ledger: Ledger,
        metrics: Metrics,
        served_models: ServedModels | None = None,
        sink: Callable[[LedgerRecord], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self.served_models = served_models
        # Also given every finished record (log_format: json's access lines); None: nothing.
        self.sink = sink

    @property
    def observer(self) -> Observer:
        return self

    def begin(self, request: Request) -> None:
        self.metrics.in_flight += 1

    def on_end(self, stream: Stream) -> None:
        self.record(stream.outcome)

    def record(self, outcome: Outcome) -> None:
        request = outcome.request
        assert request is not None  # every version of the request is given to its outcome
        usage, cost = outcome.settle()
        err = outcome.error
        status = (
            CLIENT_CLOSED
            if outcome.client_closed and err is None
            else (err.status if err is not None else 200)
        )
        latency_ms = (time.perf_counter() - request.started) * 1000
        first = outcome.first_event_at
        ttft_ms = None if first is None else (first - request.started) * 1000
        tenant = request.tenant.name if request.tenant else None
        alias = request.alias.name if request.alias else None
        target = outcome.target.label if outcome.target and first is not None else None
        priced_by = outcome.serving_alias or request.alias
        record = LedgerRecord(
            id=request.id,
            request_id=request.request_id,
            ts=request.received_at,
            tenant=tenant,
            key_name=request.api_key.name if request.api_key else None,
            alias=alias,
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
            attempts=tuple(outcome.attempts),
            cache=outcome.cache,
            saved_usd=outcome.saved_usd,
            unpriced=priced_by is not None and not priced_by.priced,
            tenant_id=request.tenant.id if request.tenant else None,
            prompt=request.prompt,
        )
        if outcome.contract is not None or outcome.guardrails is not None:
            # Set only when there is something to say: three keyword arguments on every
            # record measured 2,000 instructions a request.
            record.contract = outcome.contract
            record.contract_attempts = tuple(outcome.contract_attempts or ())
            record.guardrails = outcome.guardrails
        if target is not None:
            # Behaviour signals, of an answer an upstream gave (not of a stored one).
            finish = outcome.finish_reason
            record.finish_reason = finish
            record.refusal = is_refusal(finish, outcome.answer_head)
            record.served_model = served = outcome.served_model
            record.response_id = outcome.response_id
            if self.served_models is not None:
                self.served_models.saw(target, record.alias, served)
        if request.session is not None:
            record.session = request.session
        if outcome.bodies is not None:  # storage.bodies (sluicegate.bodies.capture)
            record.bodies = outcome.bodies
        self.ledger.record(record)
        if self.sink is not None:
            self.sink(record)
        self._observe(
            outcome, request.operation, tenant or "", alias or "", target or "", status, usage,
            cost, latency_ms, ttft_ms,
        )
        # The request is over: the outcome's link to its latest version is the one
        # cycle between them; cut, both are freed by reference counting at once
        # instead of waiting, 13 objects a request, for the cycle collector.
        outcome.request = None

    def _observe(
        self,
        outcome: Outcome,
        operation: str,
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
            for tried, result in outcome.attempts:
                if result not in NOT_CALLED:
                    m.attempts[tried, result] += 1
        if usage.input_tokens:
            m.tokens[tenant, alias, "input"] += usage.input_tokens
        if usage.output_tokens:
            m.tokens[tenant, alias, "output"] += usage.output_tokens
        if usage.cached_tokens:
            m.tokens[tenant, alias, "cached"] += usage.cached_tokens
        if cost:
            m.cost[tenant, alias] += cost
        latency_s = latency_ms / 1000
        # The gateway's own time: everything but the upstream calls (see Outcome.upstream_s).
        m.overhead.observe(max(latency_s - outcome.upstream_s, 0.0))
        if alias:
            served = outcome.target if target else None
            provider = provider_name(served.provider.config.type) if served is not None else ""
            err = outcome.error
            # error.type: the gateway's own error code (a bounded set), else the status.
            error = "" if status == 200 else (err.code if err and err.code else str(status))
            m.duration[operation, provider, alias, error].observe(latency_s)
            if ttft_ms is not None:
                m.ttft[operation, provider, alias].observe(ttft_ms / 1000)
            if served is not None and (usage.input_tokens or usage.output_tokens):
                # The conventions' client token usage: billable tokens by the model asked of
                # the upstream, once per answered request (re-asks included in its usage).
                model = served.model
                m.token_usage[operation, provider, model, "input"].observe(usage.input_tokens)
                m.token_usage[operation, provider, model, "output"].observe(usage.output_tokens)
