"""GET /admin/datasets/export: fine-tuning data from captured bodies and feedback.

Streamed as JSON Lines (``application/x-ndjson``), a page of rows at a time
(:mod:`sluicegate.datasets`), so an export of any size holds one page in memory.
"""

from __future__ import annotations

import contextlib
from typing import Literal

from aiohttp import web
from pydantic import Field

from sluicegate.admin.http import gateway_of, read_query, tenant_named
from sluicegate.admin.openapi import Operation
from sluicegate.admin.schemas import Instant, _Request
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.datasets import Filter, database_of, export_lines

__all__ = ["DATASET_OPERATIONS", "DatasetQuery", "export_dataset"]

NDJSON = "application/x-ndjson"


class DatasetQuery(_Request):
    tenant: str = Field(min_length=1, description="The tenant (by its name now) whose data.")
    format: Literal["sft", "dpo"] = Field(
        description="sft: chat fine-tuning examples; dpo: preference pairs."
    )
    feedback: str | None = Field(
        default=None, min_length=1,
        description="Only requests with a feedback of this name (dpo: pairs scored by it).",
    )
    min_value: float | None = Field(
        default=None,
        description="With feedback: only scores of at least this (dpo: of the preferred answer).",
    )
    since: Instant | None = Field(default=None, description="Only requests from this instant.")


async def export_dataset(request: web.Request) -> web.StreamResponse:
    query = read_query(request, DatasetQuery)
    gateway = gateway_of(request)
    if gateway.config.storage.bodies == "off":
        raise GatewayError(
            ErrorKind.CONFLICT,
            "storage.bodies is off: no request or answer bodies are kept, so there is no "
            "dataset to export. Set storage.bodies to full or redacted (a restart) first.",
            code=ErrorCode.CONFLICT,
        )
    if query.min_value is not None and query.feedback is None:
        raise GatewayError.invalid(
            "min_value needs feedback=NAME: the feedback whose score it bounds",
            param="min_value",
        )
    tenant = tenant_named(gateway, query.tenant)
    with contextlib.suppress(Exception):  # a store down answers with what it has, below
        await gateway.ledger.aflush()  # the records spooled a moment ago too
    where = Filter(
        tenant_id=tenant.id, feedback=query.feedback, min_value=query.min_value,
        since=query.since,
    )
    chunks = export_lines(database_of(gateway.storage), query.format, where)
    response = web.StreamResponse(
        headers={
            "Content-Type": NDJSON,
            "Content-Disposition": f'attachment; filename="{query.format}.jsonl"',
        }
    )
    first = await anext(chunks, b"")  # a failing query is still a proper error answer
    await response.prepare(request)
    await response.write(first)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


DATASET_OPERATIONS = (
    Operation(
        "GET",
        "/admin/datasets/export",
        export_dataset,
        "Export a fine-tuning dataset",
        "datasets",
        None,
        query=DatasetQuery,
        errors=(400, 404, 409),
        text_types=(NDJSON,),
        description="JSON Lines from the bodies `storage.bodies` keeps (409 while it is off). "
        '`sft`: `{"messages": [...]}` per answered request, the conversation and the answer. '
        '`dpo`: `{"input": {"messages": [...]}, "preferred_output": [...], '
        '"non_preferred_output": [...]}` per two answers to the same conversation that a '
        "feedback of one name scored differently (the higher preferred), and per answer "
        "with a `correction` (preferred over the answer). One tenant's rows only.",
    ),
)
