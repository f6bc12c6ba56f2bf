"""Layer: a CLIENT span per upstream call, only when tracing is on.

Innermost but for the health layer: a target passed over (breaker open, retry
budget spent, capacity queue full) makes no span, a call that was made does,
from asking the provider to the end of its answer or its failure. The span is
a child of the request's SERVER span, named ``{gen_ai.operation.name}
{gen_ai.request.model}`` with the target's upstream model, and carries the
GenAI conventions' attributes, ``server.address`` and ``server.port`` of the
provider, and ``error.type`` with status ERROR when the call failed (the
failover to the next target is then a sibling span). It is the current span
while the provider sends its request, so the shared HTTP client's
``traceparent`` names it.

With ``observability.capture_content`` the messages sent and the answer
received are on the span (:mod:`sluicegate.observability.content`).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from yarl import URL

from sluicegate.accounting.spans import (
    SERVER_SPAN,
    request_params,
    response_attributes,
    usage_attributes,
)
from sluicegate.canonical import ChatRequest, Event, GatewayError, TextDelta, ToolCallDelta
from sluicegate.observability.content import MAX_CONTENT_CHARS, input_messages, output_messages
from sluicegate.observability.genai import provider_name
from sluicegate.observability.tracing import Tracing
from sluicegate.pipeline import Observer, Stream
from sluicegate.upstream.call import Call, CallNext

# Where providers answer when the config gives no base_url (server.address).
DEFAULT_ORIGINS = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}


class TraceLayer:
    def __init__(self, tracing: Tracing) -> None:
        self.tracing = tracing
        self._servers: dict[str, tuple[str, int] | None] = {}

    async def __call__(self, call: Call, call_next: CallNext) -> Stream:
        tracing, target, request = self.tracing, call.target, call.request
        outcome = request.outcome
        server = outcome.get(SERVER_SPAN)
        if server is not None and not server.is_recording():
            # Not sampled (its children would not be either): the upstream gets the
            # trace's context, unsampled, from the request's span, and no span is made.
            token = tracing.activate(server)
            try:
                return await call_next(call)
            finally:
                tracing.deactivate(token)
        span = tracing.start_client(f"{request.operation} {target.model}", server)
        token = tracing.activate(span)  # current while the provider sends: its traceparent
        capture = request.runtime.config.observability.capture_content
        span.set_attributes(self._attributes(call, capture))
        try:
            stream = await call_next(call)
        except GatewayError as err:
            _failed(span, err.code or err.kind.name.lower(), err.message)
            raise
        except BaseException:
            _failed(span, "cancelled", "the call was cancelled")
            raise
        finally:
            tracing.deactivate(token)
        return stream.watch(_CapturingSpan(span) if capture else _ClientSpan(span))

    def _attributes(self, call: Call, capture: bool) -> dict[str, Any]:
        target, request = call.target, call.request
        config = target.provider.config
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": request.operation,
            "gen_ai.provider.name": provider_name(config.type),
            "gen_ai.request.model": target.model,
            "sluicegate.target": target.label,
            "sluicegate.alias": call.alias.name,
            "sluicegate.attempt": call.number,
        }
        server = self._server(config.name, config.type, config.base_url)
        if server is not None:
            attributes["server.address"], attributes["server.port"] = server
        body = request.body
        if isinstance(body, ChatRequest):
            attributes.update(request_params(body))
            if capture:
                attributes["gen_ai.input.messages"] = input_messages(body.messages)
        return attributes

    def _server(self, name: str, kind: str, base_url: str | None) -> tuple[str, int] | None:
        """The provider's (host, port), parsed once per provider."""
        if name not in self._servers:
            origin = base_url or DEFAULT_ORIGINS.get(kind)
            url = URL(origin) if origin else None
            self._servers[name] = (
                (url.host, url.port or 443) if url is not None and url.host else None
            )
        return self._servers[name]


def _failed(span: Span, error: str, message: str) -> None:
    span.set_attribute("error.type", error)
    span.set_status(Status(StatusCode.ERROR, message))
    span.end()


class _ClientSpan(Observer):
    """Ends the call's span with what its answer said. It watches no event (the
    outcome has what the span needs), so it costs nothing per event."""

    __slots__ = ("_calls", "_span", "_text")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._text: list[str] | None = None
        self._calls: dict[int, dict[str, str]] = {}

    def on_end(self, stream: Stream) -> None:
        span, outcome = self._span, stream.outcome
        if span.is_recording():
            attributes = response_attributes(outcome)
            if outcome.usage is not None:
                attributes.update(usage_attributes(outcome.usage))
            if self._text is not None:
                attributes["gen_ai.output.messages"] = output_messages(
                    "".join(self._text), list(self._calls.values()), outcome.finish_reason
                )
            span.set_attributes(attributes)
        err = stream.error
        if err is not None:
            _failed(span, err.code or err.kind.name.lower(), err.message)
        elif not stream.completed:
            _failed(span, "cancelled", "the answer was given up before its end")
        else:
            span.end()


class _CapturingSpan(_ClientSpan):
    """With content capture: also keeps the answer's text and tool calls (bounded) for
    ``gen_ai.output.messages``."""

    __slots__ = ()

    def __init__(self, span: Span) -> None:
        super().__init__(span)
        self._text = []

    def on_event(self, event: Event) -> None:
        text = self._text
        assert text is not None
        kind = type(event)
        if kind is TextDelta:
            if sum(map(len, text)) < MAX_CONTENT_CHARS:
                text.append(event.text)  # type: ignore[union-attr]
        elif kind is ToolCallDelta:
            delta: ToolCallDelta = event  # type: ignore[assignment]
            call = self._calls.setdefault(delta.call_index, {"arguments": ""})
            if delta.id:
                call["id"] = delta.id
            if delta.name:
                call["name"] = delta.name
            if len(call["arguments"]) < MAX_CONTENT_CHARS:
                call["arguments"] += delta.arguments
