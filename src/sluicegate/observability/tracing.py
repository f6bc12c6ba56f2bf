"""OpenTelemetry traces of the gateway, with the official SDK.

One :class:`Tracing` per process, built by the gateway from
``observability`` (:meth:`Tracing.from_config`), or None when tracing is off
(no ``otlp_endpoint`` and no ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``): the
parts that make spans are then left out of the pipeline altogether, so tracing
off costs a request nothing.

What it sets up, and where each setting comes from (the config wins where it
sets one; otherwise the SDK reads the standard ``OTEL_*`` variables itself):

- the exporter: OTLP/HTTP to ``{otlp_endpoint}/v1/traces``, else the SDK's own
  reading of ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``,
  with its ``OTEL_EXPORTER_OTLP_HEADERS``, ``_TIMEOUT``, ``_COMPRESSION``, certificates;
- the batch processor (bounded queue, export thread; losses counted, see
  :mod:`sluicegate.observability.export`), with the ``OTEL_BSP_*`` settings;
- the resource: ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME`` as the SDK
  reads them; ``service_name`` from the config when the config sets it, or when
  the environment names no service;
- the sampler: ``ParentBased(TraceIdRatioBased(sample_ratio))``; when the config
  leaves ``sample_ratio`` unset and ``OTEL_TRACES_SAMPLER`` is set, the SDK's
  sampler from the environment.

W3C trace context goes through the SDK's ``TraceContextTextMapPropagator``: an
incoming ``traceparent`` is the parent of the request's SERVER span, and each
upstream call carries the ``traceparent`` of its CLIENT span (:meth:`inject`,
called by the shared HTTP client, reads the span made current around the call).

Feedback becomes a ``gen_ai.evaluation.result`` event (:meth:`evaluation`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.environment_variables import OTEL_TRACES_SAMPLER
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client.core import Metric

from sluicegate.observability.export import CountedExport
from sluicegate.observability.metrics import counter

if TYPE_CHECKING:
    from sluicegate.config.schema import ObservabilityConfig
from sluicegate.observability.tracing_switch import collector_named

log = logging.getLogger("sluicegate.tracing")

# Request ids whose SERVER span is remembered, so that feedback given later is
# parented to the span it rates (per process; older ones fall back to the
# response id, as the conventions allow).
REMEMBERED_SPANS = 65_536
# The longest close() waits for the last spans to leave (a collector that is down
# or slow must not hold a shutdown).
CLOSE_TIMEOUT_S = 5.0

EVALUATION_EVENT = "gen_ai.evaluation.result"

Value = float | int | bool | str


class Tracing:
    """The SDK's tracer provider, exporter and propagator for one gateway process."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        resource: Resource | None = None,
        sampler: Sampler | None = None,
        log_exporter: LogRecordExporter | None = None,
        queue_size: int | None = None,
    ) -> None:
        resource = resource if resource is not None else Resource.create({})
        self.export = CountedExport(exporter, queue_size=queue_size)
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        self.provider.add_span_processor(self.export)
        self.tracer = self.provider.get_tracer("sluicegate", version("sluicegate"))
        self.propagator = TraceContextTextMapPropagator()
        self.logs: LoggerProvider | None = None
        if log_exporter is not None:
            self.logs = LoggerProvider(resource=resource)
            self.logs.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
        self._spans: OrderedDict[str, SpanContext] = OrderedDict()

    # ---- building

    @classmethod
    def from_config(
        cls, config: ObservabilityConfig, env: Mapping[str, str] | None = None
    ) -> Tracing | None:
        """The gateway's tracing, or None when no collector is configured."""
        env = os.environ if env is None else env
        if not collector_named(config, env):
            return None
        base = config.otlp_endpoint
        base = base.rstrip("/") if base is not None else None
        # None: the exporters resolve the endpoints from the environment themselves.
        spans = OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None)
        logs = OTLPLogExporter(endpoint=f"{base}/v1/logs" if base else None)
        return cls(spans, resource=resource_for(config), sampler=sampler_for(config, env),
                   log_exporter=logs)

    # ---- spans

    def start_server(self, name: str, headers: Mapping[str, str]) -> Span:
        """A request's SERVER span, continuing the trace of its ``traceparent`` if any."""
        # Most requests carry no trace context: skip the propagator's parsing for them.
        # (An empty context, not None: a request's span is a root unless it says otherwise.)
        parent = (
            self.propagator.extract(headers) if "traceparent" in headers else otel_context.Context()
        )
        return self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER)

    def start_client(self, name: str, parent: Span | None) -> Span:
        """An upstream call's CLIENT span under the request's SERVER span."""
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self.tracer.start_span(name, context=context, kind=SpanKind.CLIENT)

    @staticmethod
    def activate(span: Span) -> object:
        """Make ``span`` current (for :meth:`inject`); give the token to :meth:`deactivate`."""
        return otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def deactivate(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    def inject(self) -> dict[str, str]:
        """The current span's ``traceparent`` (and ``tracestate``) as headers; none
        when no span is current (a health probe)."""
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        return carrier

    def remember(self, request_id: str, span: Span) -> None:
        """Keep the SERVER span of ``request_id`` for a later :meth:`evaluation`."""
        spans = self._spans
        spans[request_id] = span.get_span_context()
        if len(spans) > REMEMBERED_SPANS:
            spans.popitem(last=False)

    # ---- feedback

    def evaluation(
        self,
        request_id: str,
        name: str,
        value: Value,
        comment: str | None = None,
        *,
        response_id: str | None = None,
    ) -> None:
        """Emit a ``gen_ai.evaluation.result`` event for feedback on ``request_id``.

        The conventions define it as an event, that is a log record with that event
        name, parented to the span it evaluates when possible (else carrying
        ``gen_ai.response.id``). Feedback arrives after the request's span has ended,
        and an ended span takes no more span events, so it goes out as a log record
        through the SDK's logs pipeline (OTLP ``/v1/logs``), with the trace and span
        ids of the request's SERVER span when this process still remembers it.

        ``value``: a number is ``gen_ai.evaluation.score.value``; a string is
        ``gen_ai.evaluation.score.label``; a boolean is both (1.0 or 0.0, and
        ``"true"`` or ``"false"``). ``comment`` is ``gen_ai.evaluation.explanation``.
        """
        attributes: dict[str, str | float] = {
            "gen_ai.evaluation.name": name,
            "sluicegate.request_id": request_id,
        }
        if isinstance(value, bool):
            attributes["gen_ai.evaluation.score.value"] = 1.0 if value else 0.0
            attributes["gen_ai.evaluation.score.label"] = "true" if value else "false"
        elif isinstance(value, int | float):
            attributes["gen_ai.evaluation.score.value"] = float(value)
        else:
            attributes["gen_ai.evaluation.score.label"] = value
        if comment:
            attributes["gen_ai.evaluation.explanation"] = comment
        if response_id:
            attributes["gen_ai.response.id"] = response_id
        if self.logs is None:
            return
        span_context = self._spans.get(request_id)
        context = (
            trace.set_span_in_context(NonRecordingSpan(span_context))
            if span_context is not None
            else None
        )
        logger = self.logs.get_logger("sluicegate", version("sluicegate"))
        logger.emit(event_name=EVALUATION_EVENT, context=context, attributes=attributes)

    # ---- metrics and lifecycle

    def metrics(self) -> Iterable[Metric]:
        """``sluicegate_trace_spans_*``, for ``Metrics.add_source``."""
        yield counter(
            "sluicegate_trace_spans_dropped",
            "Spans lost before reaching the collector, by reason: queue_full (the export "
            "queue was full: the collector is slow or down) or export_failed.",
            ["reason"],
            [((reason,), n) for reason, n in self.export.dropped.items()],
        )
        yield counter(
            "sluicegate_trace_spans_exported",
            "Spans the collector accepted.",
            [],
            [((), self.export.exported)],
        )

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Export what is queued now (blocks; for tests and benchmarks)."""
        done = self.export.force_flush(int(timeout_s * 1000))
        if self.logs is not None:
            self.logs.force_flush(int(timeout_s * 1000))
        return done

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Send the last spans and stop, waiting at most ``timeout_s``: the export
        runs on a daemon thread of its own, left behind if the collector does not
        answer in time (an interpreter exit does not wait for it)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def shut() -> None:
            try:
                self.export.shutdown()
                if self.logs is not None:
                    self.logs.shutdown()
            except Exception:
                log.exception("tracing did not shut down cleanly")
            finally:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_resolve, done)

        threading.Thread(target=shut, name="sluicegate-tracing-close", daemon=True).start()
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout_s)
        except TimeoutError:
            log.warning("tracing: the last spans were not exported within %.1f s", timeout_s)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def resource_for(config: ObservabilityConfig) -> Resource:
    """The SDK's resource from the environment, ``service.name`` from the config when
    it sets one or the environment names none."""
    resource = Resource.create({})
    named = resource.attributes.get(SERVICE_NAME, "unknown_service")
    if "service_name" in config.model_fields_set or str(named).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: config.service_name}))
    return resource


def sampler_for(config: ObservabilityConfig, env: Mapping[str, str]) -> Sampler | None:
    """``ParentBased(TraceIdRatioBased(sample_ratio))``; None (the SDK reads
    ``OTEL_TRACES_SAMPLER``) when only the environment chooses one."""
    if "sample_ratio" not in config.model_fields_set and env.get(OTEL_TRACES_SAMPLER):
        return None
    return ParentBased(TraceIdRatioBased(config.sample_ratio))
