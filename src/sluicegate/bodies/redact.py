"""``storage.bodies: redacted``: the PII detector run over captured bodies as they ship.

The PII guardrail's own detector (:class:`~sluicegate.detectors.scans.PiiScan`,
every entity) reads every text of the conversation and of the answer (message
contents, text parts, tool-call arguments) and each finding becomes a
placeholder (:class:`~sluicegate.guardrails.placeholders.Redaction`): the
first e-mail address ``[EMAIL_1]``, the next different one ``[EMAIL_2]``, the
same one again ``[EMAIL_1]`` in the request and in the answer alike, so an
example still reads as one conversation.

Why when shipping, not when the answer ends: the detector costs about 0.4 ms
per KB of text, and the end of an answer is still on the client's path (a
non-streamed answer is sent after its stream's observers end). :class:`RedactingStore`
sits in front of the ledger store and redacts a batch in a worker thread before
it is stored, so the database never holds the originals; they are only in the
local spool file until it is shipped and deleted, as every ledger record is.
A conversation resends its history every turn: findings are remembered per
text (:class:`~sluicegate.detectors.scans.Remembered`), so history is read once.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import msgspec

from sluicegate.detectors.entities import PII_ENTITIES
from sluicegate.detectors.scans import Detector, PiiScan, Remembered
from sluicegate.guardrails.placeholders import Redaction
from sluicegate.state.ledger.record import Bodies, LedgerRecord
from sluicegate.state.ledger.store import GroupBy, LedgerStore


@functools.cache
def _detector() -> Detector:
    """One per process, built at first use (loading the lexicons takes a moment)."""
    return Remembered(PiiScan(PII_ENTITIES))


def redact_bodies(bodies: Bodies, detector: Detector | None = None) -> Bodies:
    """``bodies`` with every PII finding in every text replaced by its placeholder."""
    scan = detector or _detector()
    redaction = Redaction()

    def text(value: str) -> str:
        if not value:
            return value
        found = scan.scan(value, "user")
        if not isinstance(found, list | tuple) or not found:
            return value
        return redaction.redact(value, [(h.start, h.end, h.label) for h in found])

    request = dict(bodies.request)
    messages = request.get("messages")
    if isinstance(messages, list):
        request["messages"] = [_message(m, text) for m in messages]
    answer = None if bodies.answer is None else _message(bodies.answer, text)
    return Bodies(mode=bodies.mode, request=request, answer=answer)


def _message(message: Any, text: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = dict(message)
    content = out.get("content")
    if isinstance(content, str):
        out["content"] = text(content)
    elif isinstance(content, list):
        out["content"] = [
            {**part, "text": text(part["text"])}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_call(c, text) for c in calls]
    return out


def _call(call: Any, text: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
        return call
    # Arguments are JSON text: a placeholder is plain letters, so it stays valid JSON.
    return {**call, "function": {**function, "arguments": text(function["arguments"])}}


def redact_records(records: list[LedgerRecord]) -> list[LedgerRecord]:
    """The records, those whose bodies are to be redacted as new copies redacted."""
    return [
        msgspec.structs.replace(r, bodies=redact_bodies(r.bodies))
        if r.bodies is not None and r.bodies.mode == "redacted"
        else r
        for r in records
    ]


class RedactingStore:
    """A ledger store whose batches have their ``redacted`` bodies redacted first.

    Always in front of the store (whatever ``storage.bodies`` says now): a spool
    left by a run with ``redacted`` is redacted even when shipped by a run without.
    A batch with nothing to redact costs one pass over its records.
    """

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    async def offset(self, file: str) -> int:
        return await self.store.offset(file)

    async def ship(self, records: list[LedgerRecord], file: str, offset: int) -> None:
        if any(r.bodies is not None and r.bodies.mode == "redacted" for r in records):
            # Off the event loop: a batch of long conversations takes many milliseconds.
            records = await asyncio.to_thread(redact_records, records)
        await self.store.ship(records, file, offset)

    async def forget(self, file: str) -> None:
        await self.store.forget(file)

    async def usage(
        self,
        *,
        tenant: str | None = None,
        tenant_id: str | None = None,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
        group_by: GroupBy | None = None,
    ) -> dict[str, Any]:
        return await self.store.usage(
            tenant=tenant, tenant_id=tenant_id, key=key, since=since, until=until,
            group_by=group_by,
        )

    async def records(
        self, *, limit: int = 100, tenant: str | None = None, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        return await self.store.records(limit=limit, tenant=tenant, tenant_id=tenant_id)

    async def spend(
        self,
        tenant_id: str,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> float:
        return await self.store.spend(tenant_id, key, since, until)

    async def close(self) -> None:
        await self.store.close()
