"""Stage: read the body and translate it from the client's wire format."""

from __future__ import annotations

from sluicegate.pipeline.request import Request
from sluicegate.pipeline.stage import Events, Next


class Decode:
    async def __call__(self, request: Request, call_next: Next) -> Events:
        assert request.receive is not None and request.decode_body is not None
        body = request.decode_body(await request.receive())
        return await call_next(request.replace(body=body))
