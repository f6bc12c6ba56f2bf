"""A fake OpenTelemetry collector: an in-process OTLP/HTTP receiver.

    async with OtlpCollector() as collector:
        config["observability"] = {"otlp_endpoint": collector.origin}
        ...
        collector.spans                     # every span received, decoded from protobuf
        collector.delay = 5.0               # answer every export that much later (a slow one)

It answers ``POST /v1/traces`` and ``POST /v1/logs`` as a collector does: the body
is an ``ExportTraceServiceRequest`` (``ExportLogsServiceRequest``) in protobuf,
decoded with the official opentelemetry-proto messages; the answer an empty
``Export...ServiceResponse``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from aiohttp import web
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from fakes.base import LocalServer

PROTOBUF = "application/x-protobuf"


class OtlpCollector(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.spans: list[Span] = []
        self.logs: list[LogRecord] = []
        self.resources: list[dict[str, str]] = []
        self.exports = 0
        self.delay = 0.0
        self.received = asyncio.Event()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_post("/v1/logs", self._logs)

    async def _wait(self) -> None:
        if self.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.delay)

    async def _traces(self, request: web.Request) -> web.Response:
        await self._wait()
        message = ExportTraceServiceRequest.FromString(await request.read())
        self.exports += 1
        for resource_spans in message.resource_spans:
            self.resources.append({
                a.key: a.value.string_value for a in resource_spans.resource.attributes
            })
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        self.received.set()
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type=PROTOBUF)

    async def _logs(self, request: web.Request) -> web.Response:
        await self._wait()
        message = ExportLogsServiceRequest.FromString(await request.read())
        for resource_logs in message.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                self.logs.extend(scope_logs.log_records)
        return web.Response(body=ExportLogsServiceResponse().SerializeToString(),
                            content_type=PROTOBUF)


def attributes(span: Span | LogRecord) -> dict[str, object]:
    """A received span's (or log record's) attributes as plain values."""
    out: dict[str, object] = {}
    for a in span.attributes:
        value = a.value
        kind = value.WhichOneof("value")
        if kind == "array_value":
            out[a.key] = tuple(getattr(v, v.WhichOneof("value")) for v in value.array_value.values)
        elif kind is not None:
            out[a.key] = getattr(value, kind)
    return out
