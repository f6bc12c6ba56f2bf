"""Spans leave the process in batches, off the request path, and never pile up.

The SDK's ``BatchSpanProcessor`` queues ended spans and exports them from a
thread of its own; a slow or unreachable collector holds that thread, never a
request. What it cannot say is how many spans were lost: a full queue drops
silently (a warning in the log), a failed export too. :class:`CountedExport`
wraps it so that both are counted, for ``sluicegate_trace_spans_dropped_total``:

- it admits a span only while fewer than ``max_queue_size`` admitted spans have
  not yet reached the exporter, the same bound as the SDK's queue, so the SDK's
  own queue never overflows and every drop is one counted here (``queue_full``);
- the exporter it hands the SDK counts what it is given, what went out, and
  what the collector refused or never received (``export_failed``).

Each counter has one writer (the event loop, or the export thread), so no lock
is taken on the request path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.environment_variables import OTEL_BSP_MAX_QUEUE_SIZE
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

DEFAULT_MAX_QUEUE_SIZE = 2048  # the SDK's default, and the OpenTelemetry spec's


def max_queue_size() -> int:
    """``OTEL_BSP_MAX_QUEUE_SIZE``, else the SDK's default: the bound is kept here too,
    so it is read once and given to the SDK explicitly."""
    raw = os.environ.get(OTEL_BSP_MAX_QUEUE_SIZE, "")
    try:
        size = int(raw)
    except ValueError:
        return DEFAULT_MAX_QUEUE_SIZE
    return size if size > 0 else DEFAULT_MAX_QUEUE_SIZE


class _CountingExporter(SpanExporter):
    """The real exporter, counting (on the export thread) what it is handed."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.taken = 0  # spans the batch processor took off its queue
        self.exported = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.taken += len(spans)
        try:
            result = self.exporter.export(spans)
        except Exception:
            self.failed += len(spans)
            raise
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class CountedExport(SpanProcessor):
    """A ``BatchSpanProcessor`` whose losses are counted (see the module docstring)."""

    def __init__(self, exporter: SpanExporter, *, queue_size: int | None = None) -> None:
        self.queue_size = max_queue_size() if queue_size is None else queue_size
        self._counting = _CountingExporter(exporter)
        # The SDK reads its other settings (OTEL_BSP_SCHEDULE_DELAY, _MAX_EXPORT_BATCH_SIZE,
        # _EXPORT_TIMEOUT) from the environment itself.
        self._batch = BatchSpanProcessor(self._counting, max_queue_size=self.queue_size)
        self.admitted = 0  # written on the event loop only
        self.dropped_full = 0

    @property
    def exported(self) -> int:
        return self._counting.exported

    @property
    def dropped(self) -> dict[str, int]:
        """Spans lost, by reason."""
        return {"queue_full": self.dropped_full, "export_failed": self._counting.failed}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        if self.admitted - self._counting.taken >= self.queue_size:
            self.dropped_full += 1
            return
        self.admitted += 1
        self._batch.on_end(span)

    def shutdown(self) -> None:
        """Export what is queued and stop (blocks: call it off the event loop)."""
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)
