"""Traces of requests through the gateway: a SERVER span per request, a CLIENT span per
upstream call, W3C trace context in and out, content only when asked, feedback events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from yarl import URL

from conftest import GatewayTestServer
from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, Stack, upstream_config
from sluicegate.app import create_app
from sluicegate.config.loader import validate_config
from sluicegate.gateway import GATEWAY, Gateway
from sluicegate.observability.tracing import Tracing

HELLO = [{"role": "user", "content": "Say hello"}]
# A W3C traceparent an instrumented client would send.
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Traced(Stack):
    spans_out: InMemorySpanExporter
    logs_out: InMemoryLogRecordExporter
    tracing: Tracing

    def spans(self) -> list[ReadableSpan]:
        self.tracing.flush()
        return list(self.spans_out.get_finished_spans())


Start = Callable[..., Awaitable[Traced]]


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[Start]:
    """Start a gateway whose spans and events go to in-memory exporters."""
    clients: list[TestClient] = []

    async def start(**overrides: Any) -> Traced:
        oai, claude = OpenAIUpstream(), AnthropicUpstream()
        await oai.__aenter__()
        await claude.__aenter__()
        config = upstream_config(oai.url, claude.url, **overrides)
        config["storage"] = {"url": f"sqlite:///{tmp_path}/gw{len(clients)}.db"}
        spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
        tracing = Tracing(spans, log_exporter=logs)
        gateway = Gateway(validate_config(config), tracing=tracing)
        client = TestClient(GatewayTestServer(create_app(gateway)))
        await client.start_server()
        clients.append(client)
        upstreams.extend([oai, claude])
        stack = Traced(client, oai, claude)
        stack.spans_out, stack.logs_out, stack.tracing = spans, logs, tracing
        return stack

    upstreams: list[OpenAIUpstream | AnthropicUpstream] = []
    yield start
    for client in clients:
        await client.close()
    for upstream in upstreams:
        await upstream.__aexit__(None, None, None)


def by_kind(spans: list[ReadableSpan], kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in spans if s.kind is kind]


async def test_a_request_is_a_server_span_with_a_client_span_per_upstream_call(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced()
    stack.oai_upstream.reply_with("Hello!", id="chatcmpl-42", model="gpt-4o-2024-08-06", usage={
        "prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 4},
    })
    answer = await stack.openai().chat.completions.create(
        model="gpt", messages=HELLO, max_tokens=50, temperature=0.2)
    assert answer.choices[0].message.content == "Hello!"

    [server] = by_kind(stack.spans(), SpanKind.SERVER)
    [client] = by_kind(stack.spans(), SpanKind.CLIENT)
    assert server.name == "chat gpt" and client.name == "chat gpt-4o"
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    assert server.attributes is not None and client.attributes is not None
    assert dict(server.attributes) | {"sluicegate.request_id": "?"} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt",
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.stream": False,
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-42",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "http.response.status_code": 200,
        "sluicegate.tenant": "acme",
        "sluicegate.alias": "gpt",
        "sluicegate.target": "oai/gpt-4o",
        "sluicegate.request_id": "?",
    }
    assert client.attributes["gen_ai.provider.name"] == "openai"
    assert client.attributes["gen_ai.request.model"] == "gpt-4o"
    assert client.attributes["gen_ai.response.id"] == "chatcmpl-42"
    assert client.attributes["gen_ai.usage.output_tokens"] == 3
    assert client.attributes["server.address"] == "127.0.0.1"
    assert client.attributes["server.port"] == URL(stack.oai_upstream.url).port
    assert "gen_ai.system" not in client.attributes, "the deprecated attribute is not used"
    assert "gen_ai.input.messages" not in client.attributes, "no content unless asked"
    assert server.status.status_code is StatusCode.UNSET


async def test_a_traceparent_is_continued_and_the_upstream_gets_the_client_span(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced()
    await stack.openai().chat.completions.create(
        model="gpt", messages=HELLO, extra_headers={"traceparent": PARENT})
    [server] = by_kind(stack.spans(), SpanKind.SERVER)
    [client] = by_kind(stack.spans(), SpanKind.CLIENT)
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    sent = stack.oai_upstream.last_request.headers["traceparent"]
    _version, trace_id, parent_id, flags = sent.split("-")
    assert (trace_id, parent_id, flags) == (TRACE_ID, format(client.context.span_id, "016x"), "01")


async def test_an_unsampled_parent_is_honoured_and_still_propagated(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced()
    await stack.openai().chat.completions.create(
        model="gpt", messages=HELLO, extra_headers={"traceparent": PARENT[:-2] + "00"})
    assert stack.spans() == [], "ParentBased: a parent that was not sampled is not sampled here"
    sent = stack.oai_upstream.last_request.headers["traceparent"]
    assert sent.startswith(f"00-{TRACE_ID}-") and sent.endswith("-00")


async def test_a_failed_attempt_is_an_error_span_before_the_fallback_that_served(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced(models=[
        {"name": "gpt", "targets": [{"provider": "oai", "model": "gpt-4o"}],
         "fallbacks": ["claude"]},
        {"name": "claude", "targets": [{"provider": "ant", "model": "claude-sonnet-4-5"}]},
    ])
    stack.oai_upstream.fail(500)
    answer = await stack.openai().chat.completions.create(model="gpt", messages=HELLO)
    assert answer.choices[0].message.content

    spans = stack.spans()
    [server] = by_kind(spans, SpanKind.SERVER)
    clients = sorted(by_kind(spans, SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert [c.name for c in clients][-1] == "chat claude-sonnet-4-5"
    failed, served = clients[0], clients[-1]
    assert failed.name == "chat gpt-4o"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["error.type"] == "upstream_error"
    assert served.attributes is not None and "error.type" not in served.attributes
    assert served.attributes["gen_ai.provider.name"] == "anthropic"
    assert all(c.parent is not None and c.parent.span_id == server.context.span_id
               for c in clients)
    assert server.attributes is not None
    assert server.attributes["gen_ai.provider.name"] == "anthropic"
    assert server.attributes["sluicegate.served_by"] == "claude"


async def test_a_request_that_fails_is_an_error_server_span(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced()
    stack.oai_upstream.fail(500)
    resp = await stack.gateway.post(
        "/v1/chat/completions", json={"model": "gpt", "messages": HELLO},
        headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status == 502
    [server] = by_kind(stack.spans(), SpanKind.SERVER)
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes is not None
    assert server.attributes["error.type"] == "upstream_error"
    assert server.attributes["http.response.status_code"] == 502


async def test_a_stream_through_the_anthropic_sdk_is_traced_with_its_usage(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced()
    async with stack.anthropic().messages.stream(
        model="claude", max_tokens=64, messages=HELLO
    ) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert text
    spans = stack.spans()
    [server] = by_kind(spans, SpanKind.SERVER)
    [client] = by_kind(spans, SpanKind.CLIENT)
    assert (server.name, client.name) == ("chat claude", "chat claude-sonnet-4-5")
    assert client.attributes is not None and server.attributes is not None
    assert client.attributes["gen_ai.provider.name"] == "anthropic"
    assert client.attributes["gen_ai.request.stream"] is True
    assert client.attributes["gen_ai.usage.output_tokens"] > 0
    assert server.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "traceparent" in stack.claude_upstream.last_request.headers


async def test_content_is_on_the_client_span_only_when_capture_content_is_on(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced(observability={"capture_content": True})
    stack.oai_upstream.reply_with("Hello there")
    await stack.openai().chat.completions.create(model="gpt", messages=HELLO)
    [client] = by_kind(stack.spans(), SpanKind.CLIENT)
    assert client.attributes is not None
    sent = json.loads(str(client.attributes["gen_ai.input.messages"]))
    answered = json.loads(str(client.attributes["gen_ai.output.messages"]))
    assert sent == [{"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}]
    assert answered == [{"role": "assistant", "finish_reason": "stop",
                         "parts": [{"type": "text", "content": "Hello there"}]}]


async def test_feedback_is_a_gen_ai_evaluation_result_event_on_the_requests_span(traced) -> None:  # type: ignore[no-untyped-def]
    stack = await traced()
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=HELLO)
    request_id = raw.headers["x-request-id"]
    [server] = by_kind(stack.spans(), SpanKind.SERVER)

    response = await stack.gateway.post(
        "/v1/feedback",
        json={"request_id": request_id, "name": "thumbs", "value": 1, "comment": "spot on"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status == 201
    stack.tracing.evaluation("unknown-request", "tone", "friendly")
    stack.tracing.flush()
    rated, unknown = (r.log_record for r in stack.logs_out.get_finished_logs())
    assert rated.event_name == unknown.event_name == "gen_ai.evaluation.result"
    assert rated.trace_id == server.context.trace_id and rated.span_id == server.context.span_id
    assert dict(rated.attributes or {}) == {
        "gen_ai.evaluation.name": "thumbs",
        "gen_ai.evaluation.score.value": 1.0,
        "gen_ai.evaluation.explanation": "spot on",
        "gen_ai.response.id": raw.parse().id,
        "sluicegate.request_id": request_id,
    }
    assert not unknown.trace_id, "a request this process does not know: no parent span"
    assert (unknown.attributes or {})["gen_ai.evaluation.score.label"] == "friendly"


def test_tracing_is_off_without_a_collector() -> None:
    config = validate_config(upstream_config("http://a/v1", "http://b")).observability
    assert Tracing.from_config(config, env={}) is None
    assert Tracing.from_config(config, env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})


async def test_without_tracing_no_span_work_is_in_the_request_path(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai:
        client = await start_gateway(upstream_config(oai.url, oai.url))
        gateway = client.app[GATEWAY]
        assert gateway.tracing is None and gateway.http.trace_headers is None
        assert type(gateway.pipeline._log).__name__ == "AccessLog"
        await client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO},
                          headers={"Authorization": f"Bearer {KEY}"})
        assert "traceparent" not in oai.last_request.headers
