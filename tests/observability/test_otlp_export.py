"""Spans leave for a real OTLP/HTTP collector, and a collector that is down or slow
never holds a request: what cannot be sent is dropped and counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from conftest import GatewayTestServer
from fakes.openai_upstream import OpenAIUpstream
from fakes.otlp_collector import OtlpCollector, attributes
from fakes.stack import KEY, openai_client, upstream_config
from sluicegate.app import create_app
from sluicegate.config.loader import validate_config
from sluicegate.gateway import GATEWAY, Gateway

HELLO = [{"role": "user", "content": "Say hello"}]

Start = Callable[[dict[str, Any]], Awaitable[TestClient]]


@pytest.fixture
async def upstream() -> AsyncIterator[OpenAIUpstream]:
    async with OpenAIUpstream() as fake:
        yield fake


@pytest.fixture
async def gateway_with(tmp_path: Path, upstream: OpenAIUpstream) -> AsyncIterator[Start]:
    """Start a gateway with the given ``observability`` block; the test may close it."""
    clients: list[TestClient] = []

    async def start(observability: dict[str, Any]) -> TestClient:
        config = upstream_config(upstream.url, upstream.url, observability=observability)
        config["storage"] = {"url": f"sqlite:///{tmp_path}/gw.db"}
        client = TestClient(GatewayTestServer(create_app(Gateway(validate_config(config)))))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def url(client: TestClient) -> str:
    return str(client.server.make_url("")).rstrip("/")


async def dropped(client: TestClient) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    return {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "sluicegate_trace_spans_dropped_total"
    }


async def timed_requests(client: TestClient, n: int) -> list[float]:
    sdk = openai_client(url(client), KEY)
    took = []
    for _ in range(n):
        started = time.perf_counter()
        await sdk.chat.completions.create(model="gpt", messages=HELLO)
        took.append(time.perf_counter() - started)
    return took


async def test_spans_and_feedback_reach_a_real_otlp_collector(gateway_with) -> None:  # type: ignore[no-untyped-def]
    async with OtlpCollector() as collector:
        client = await gateway_with({"otlp_endpoint": collector.origin,
                                     "service_name": "gateway-under-test"})
        raw = await openai_client(url(client), KEY).chat.completions.with_raw_response.create(
            model="gpt", messages=HELLO)
        client.app[GATEWAY].tracing.evaluation(raw.headers["x-request-id"], "thumbs", True)
        await client.close()  # the gateway's close sends what is queued

        names = sorted(s.name for s in collector.spans)
        assert names == ["chat gpt", "chat gpt-4o"]
        assert collector.resources[0]["service.name"] == "gateway-under-test"
        server = next(s for s in collector.spans if s.name == "chat gpt")
        client_span = next(s for s in collector.spans if s.name == "chat gpt-4o")
        assert client_span.parent_span_id == server.span_id
        assert attributes(server)["gen_ai.provider.name"] == "openai"
        assert attributes(server)["gen_ai.response.finish_reasons"] == ("stop",)
        assert attributes(client_span)["server.address"] == "127.0.0.1"
        [event] = collector.logs
        assert event.event_name == "gen_ai.evaluation.result"
        assert event.span_id == server.span_id and event.trace_id == server.trace_id
        assert attributes(event)["gen_ai.evaluation.score.label"] == "true"


async def test_the_standard_environment_variables_configure_the_export(
    gateway_with, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    async with OtlpCollector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.origin)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "named-by-env")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        client = await gateway_with({})
        await timed_requests(client, 1)
        await client.close()
        assert len(collector.spans) == 2
        assert collector.resources[0]["service.name"] == "named-by-env"
        assert collector.resources[0]["deployment.environment"] == "test"


async def test_a_collector_that_is_down_slows_no_request_and_its_spans_are_counted(
    gateway_with, refused_port, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.5")
    client = await gateway_with({"otlp_endpoint": f"http://127.0.0.1:{refused_port}"})
    took = await timed_requests(client, 10)
    assert max(took) < 0.5, took
    tracing = client.app[GATEWAY].tracing
    await asyncio.to_thread(tracing.flush)  # the export thread gives up on them
    lost = await dropped(client)
    assert lost["export_failed"] == 20, "two spans a request, all lost and counted"
    started = time.perf_counter()
    await client.close()
    assert time.perf_counter() - started < 3, "closing does not wait for the collector"


async def test_a_slow_collector_fills_the_bounded_queue_not_the_requests(
    gateway_with, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    async with OtlpCollector() as collector:
        collector.delay = 2.0
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.5")
        monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")
        monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
        client = await gateway_with({"otlp_endpoint": collector.origin})
        took = await timed_requests(client, 20)
        assert max(took) < 0.5, took
        lost = await dropped(client)
        assert lost["queue_full"] > 0, "the queue is bounded: spans beyond it are dropped"
        started = time.perf_counter()
        await client.close()
        assert time.perf_counter() - started < 7, "closing is bounded"
