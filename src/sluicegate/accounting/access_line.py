"""The access line of ``log_format: json``: one per request, from its ledger record.

The line is built from the ledger record's fields only: never a key, a header
or a body, which the record does not hold. It is built and written on the log
writer thread (:func:`sluicegate.observability.json_log.json_logging`); the event
loop only makes the log record that points at the ledger record.
"""

from __future__ import annotations

import logging
from typing import Any

from sluicegate.observability.json_log import Structured, iso_utc
from sluicegate.state.ledger.record import LedgerRecord

__all__ = ["ACCESS_LOGGER", "AccessEntry", "AccessLines", "access_fields"]

ACCESS_LOGGER = "sluicegate.access"


def access_fields(record: LedgerRecord) -> dict[str, Any]:
    """The access line's fields for one request, from its ledger record."""
    fields: dict[str, Any] = {
        "request_id": record.request_id,
        "tenant": record.tenant,
        "key_name": record.key_name,
        "alias": record.alias,
        "target": record.target,
        "protocol": record.protocol,
        "operation": record.operation,
        "stream": record.stream,
        "status": record.status,
        "error_code": record.error_code,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cached_tokens": record.cached_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "cost_usd": record.cost_usd,
        "latency_ms": round(record.latency_ms, 3),
        "ttft_ms": None if record.ttft_ms is None else round(record.ttft_ms, 3),
        "cache": record.cache,
        "prompt": record.prompt,
        "attempts": len(record.attempts),
    }
    # Verdicts only where a contract or a guardrail had something to say.
    if record.contract is not None:
        fields["contract"] = record.contract
    if record.guardrails is not None:
        fields["guardrails"] = record.guardrails
    return fields


class AccessEntry(Structured):
    """The message of an access-log record: the ledger record, turned into text only
    by whoever writes it (the JSON formatter on its thread; ``str()`` for any other
    handler, which then gets the same JSON line)."""

    __slots__ = ("record",)

    def __init__(self, record: LedgerRecord) -> None:
        self.record = record

    def fields(self) -> dict[str, Any]:
        # ts: when the request arrived, as in the ledger (latency_ms says when it ended).
        return {"ts": iso_utc(self.record.ts), **access_fields(self.record)}


class AccessLines:
    """The access log's sink in json mode: one ``sluicegate.access`` record per request.

    The LogRecord is made directly rather than through ``Logger.info``, which would
    walk the stack to find its caller on every request for a line that has no caller
    worth naming.
    """

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(ACCESS_LOGGER)

    def __call__(self, record: LedgerRecord) -> None:
        logger = self._logger
        if logger.isEnabledFor(logging.INFO):
            logger.handle(
                logging.LogRecord(
                    logger.name, logging.INFO, "", 0, AccessEntry(record), None, None
                )
            )
