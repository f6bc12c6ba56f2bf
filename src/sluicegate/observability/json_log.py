"""``log_format: json``: one JSON line per request, and every other log line as JSON.

Two halves, on two threads:

- On the event loop, the access log's sink
  (:class:`sluicegate.accounting.access_line.AccessLines`) makes one log record
  per request on the ``sluicegate.access`` logger whose message is
  :class:`Structured`: it only *points at* the ledger record. Nothing is
  formatted or written there.
- :func:`json_logging` puts a queue between every logger and the handlers that
  write (the standard library's QueueHandler and QueueListener): the loop only
  appends to the queue, and the listener's thread turns each record into one
  orjson line and writes it. A slow disk or a blocked pipe to a log shipper
  then slows that thread, never a request. So that a shipper sees one format,
  the gateway's other lines (warnings, errors) become JSON lines too.
"""

from __future__ import annotations

import copy
import logging
import queue
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any

import orjson

__all__ = ["JsonFormatter", "Structured", "iso_utc", "json_formatting", "json_logging"]

# Lines waiting for the writer thread, at most: a sink that stays slower than the
# request rate drops lines (and says how many) instead of growing without bound.
MAX_QUEUED = 100_000


class Structured:
    """A log message that is fields, not text: the JSON formatter writes the fields of
    :meth:`fields` (``ts`` among them) at the top level of the line, on the writer
    thread; ``str()``, for any other handler, is the same JSON object."""

    __slots__ = ()

    def fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def __str__(self) -> str:
        return orjson.dumps(self.fields()).decode()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, then
    ``message`` (and ``exc_info``, ``stack_info``) or, for an access line, its fields."""

    def format(self, record: logging.LogRecord) -> str:
        head: dict[str, Any] = {"level": record.levelname, "logger": record.name}
        msg = record.msg
        if isinstance(msg, Structured):
            fields = msg.fields()
            return orjson.dumps({"ts": fields.pop("ts"), **head, **fields}).decode()
        line: dict[str, Any] = {
            "ts": iso_utc(record.created), **head, "message": record.getMessage()
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def iso_utc(ts: float) -> str:
    """Unix seconds as ISO 8601 in UTC, to the millisecond: 2026-01-31T12:00:00.123Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


class _Enqueue(QueueHandler):
    """Hands records to the writer thread as they are: the standard ``prepare``
    formats the record on the caller's thread (for queues that pickle), which is the
    very work the queue is here to move off the event loop."""

    def __init__(self, q: queue.SimpleQueue[Any]) -> None:
        super().__init__(q)
        self._queue = q
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.args:
            # Arguments may change after the call returns: render the message now
            # (a % format, cheap) on a copy, as other handlers get the record too.
            record = copy.copy(record)
            record.msg = record.getMessage()
            record.args = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        q = self._queue
        if q.qsize() >= MAX_QUEUED:
            self.dropped += 1
            return
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            q.put_nowait(
                logging.LogRecord(
                    "sluicegate", logging.WARNING, "", 0,
                    "log writer too slow: %d log lines dropped", (dropped,), None,
                )
            )
        q.put_nowait(record)


@contextmanager
def json_logging(handlers: Sequence[logging.Handler] | None = None) -> Iterator[_Enqueue]:
    """Every log record of this process, while inside, a JSON line written by a thread.

    ``handlers`` are where the lines go; None: the root logger's handlers (those
    ``logging.basicConfig`` made), moved behind the queue and given back on exit.
    The ``sluicegate.access`` logger (the access lines:
    :mod:`sluicegate.accounting.access_line`) is opened at INFO whatever the root
    level: asking for ``log_format: json`` is asking for its lines. On exit the listener
    writes what is still queued before its thread ends.
    """
    root = logging.getLogger()
    access = logging.getLogger("sluicegate.access")
    moved = list(root.handlers) if handlers is None else []
    targets = moved or list(handlers or ()) or [logging.StreamHandler(sys.stderr)]
    formatters = [h.formatter for h in targets]
    access_level = access.level
    q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    enqueue = _Enqueue(q)
    listener = QueueListener(q, *targets, respect_handler_level=True)
    for handler in targets:
        handler.setFormatter(JsonFormatter())
    for handler in moved:
        root.removeHandler(handler)
    root.addHandler(enqueue)
    access.setLevel(logging.INFO)
    listener.start()
    try:
        yield enqueue
    finally:
        root.removeHandler(enqueue)
        listener.stop()
        access.setLevel(access_level)
        for handler, formatter in zip(targets, formatters, strict=True):
            handler.setFormatter(formatter)
        for handler in moved:
            root.addHandler(handler)


@contextmanager
def json_formatting() -> Iterator[None]:
    """The root handlers' lines as JSON, written where they are logged (no thread).

    For a process that serves no requests, the supervisor of ``--workers N``: a
    listener thread there would not survive into the workers it forks, whose own
    :func:`json_logging` then moves these handlers behind their own queue.
    """
    root = logging.getLogger()
    handlers = list(root.handlers)
    formatters = [h.formatter for h in handlers]
    for handler in handlers:
        handler.setFormatter(JsonFormatter())
    try:
        yield
    finally:
        for handler, formatter in zip(handlers, formatters, strict=True):
            handler.setFormatter(formatter)
