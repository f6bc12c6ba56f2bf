"""The access log with a SERVER span per request, used only when tracing is on.

The span begins where the request does (:meth:`AccessLog.begin`, its parent
the incoming ``traceparent`` if any) and ends where the request is recorded,
with what its :class:`~sluicegate.pipeline.Outcome` says: named
``{gen_ai.operation.name} {gen_ai.request.model}`` (the alias the client
asked for), with the GenAI conventions' attributes and Sluicegate's own
(``sluicegate.tenant``, ``.alias``, ``.cache``, ``.prompt``, ``.target``,
``.request_id``). The upstream attempts' CLIENT spans are its children
(:mod:`sluicegate.upstream.layers.trace`).

A subclass, chosen by the chain when the gateway has a Tracing: without one the
plain access log runs and no span work happens at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from sluicegate.accounting.access_log import AccessLog
from sluicegate.canonical import ChatRequest, Usage
from sluicegate.observability.genai import provider_name
from sluicegate.observability.metrics import Metrics
from sluicegate.observability.tracing import Tracing
from sluicegate.pipeline import Outcome, Request, StateKey
from sluicegate.signals.served_models import ServedModels
from sluicegate.state.ledger import Ledger, LedgerRecord

# The request's SERVER span, for its CLIENT spans and for record().
SERVER_SPAN: StateKey[Span] = StateKey("server_span")


class TracedAccessLog(AccessLog):
    __slots__ = ("tracing",)

    def __init__(
        self,
        ledger: Ledger,
        metrics: Metrics,
        tracing: Tracing,
        served_models: ServedModels | None = None,
        sink: Callable[[LedgerRecord], None] | None = None,
    ) -> None:
        super().__init__(ledger, metrics, served_models, sink)
        self.tracing = tracing

    def begin(self, request: Request) -> None:
        super().begin(request)
        span = self.tracing.start_server(request.operation, request.headers)
        request.outcome.set(SERVER_SPAN, span)

    def record(self, outcome: Outcome) -> None:
        span = outcome.get(SERVER_SPAN)
        request = outcome.request
        if span is not None and request is not None and span.is_recording():
            # Before the record: settle() is computed once and the request unlinked there.
            usage, _ = outcome.settle()
            _describe(span, request, outcome, usage)
        super().record(outcome)
        if span is not None and span.is_recording():
            if request is not None:
                self.tracing.remember(request.request_id, span)
            span.end()


def _describe(span: Span, request: Request, outcome: Outcome, usage: Usage) -> None:
    alias = request.alias
    body = request.body
    model = alias.name if alias is not None else (body.model if body is not None else None)
    operation = request.operation
    span.update_name(f"{operation} {model}" if model else operation)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "sluicegate.request_id": request.request_id,
    }
    if model:
        attributes["gen_ai.request.model"] = model
    target = outcome.target if outcome.served else None
    if target is not None:
        attributes["gen_ai.provider.name"] = provider_name(target.provider.config.type)
        attributes["sluicegate.target"] = target.label
    if isinstance(body, ChatRequest):
        attributes.update(request_params(body))
    attributes.update(response_attributes(outcome))
    attributes.update(usage_attributes(usage))
    if request.tenant is not None:
        attributes["sluicegate.tenant"] = request.tenant.name
    if alias is not None:
        attributes["sluicegate.alias"] = alias.name
    if outcome.serving_alias is not None and outcome.serving_alias is not alias:
        attributes["sluicegate.served_by"] = outcome.serving_alias.name
    if outcome.cache is not None:
        attributes["sluicegate.cache"] = outcome.cache
    if request.prompt is not None:
        attributes["sluicegate.prompt"] = request.prompt
    err = outcome.error
    if err is not None:
        attributes["error.type"] = err.code or err.kind.name.lower()
        attributes["http.response.status_code"] = err.status
        span.set_status(Status(StatusCode.ERROR, err.message))
    elif outcome.client_closed:
        attributes["error.type"] = "client_closed"
        span.set_status(Status(StatusCode.ERROR, "the client went away"))
    else:
        attributes["http.response.status_code"] = 200
    span.set_attributes(attributes)


def request_params(body: ChatRequest) -> dict[str, Any]:
    """The request's parameters, as ``gen_ai.request.*``, where it sets them."""
    params: dict[str, Any] = {"gen_ai.request.stream": body.stream}
    if body.max_tokens is not None:
        params["gen_ai.request.max_tokens"] = body.max_tokens
    if body.temperature is not None:
        params["gen_ai.request.temperature"] = body.temperature
    if body.top_p is not None:
        params["gen_ai.request.top_p"] = body.top_p
    if body.top_k is not None:
        params["gen_ai.request.top_k"] = float(body.top_k)
    if body.seed is not None:
        params["gen_ai.request.seed"] = body.seed
    if body.stop:
        params["gen_ai.request.stop_sequences"] = tuple(body.stop)
    if body.n != 1:
        params["gen_ai.request.choice.count"] = body.n
    return params


def response_attributes(outcome: Outcome) -> dict[str, Any]:
    """``gen_ai.response.*``: what the upstream said of the answer, where it said it."""
    attributes: dict[str, Any] = {}
    if outcome.served_model:
        attributes["gen_ai.response.model"] = outcome.served_model
    if outcome.response_id:
        attributes["gen_ai.response.id"] = outcome.response_id
    if outcome.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = (outcome.finish_reason,)
    return attributes


def usage_attributes(usage: Usage) -> dict[str, int]:
    """``gen_ai.usage.*``: input and output always, the cache and reasoning counts when
    the upstream reported them."""
    attributes = {
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }
    if usage.cached_tokens:
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
    if usage.cache_write_tokens:
        attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens:
        attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    return attributes
