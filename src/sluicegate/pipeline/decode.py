"""Stage: read the body and translate it from the client's wire format."""

from __future__ import annotations

from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.stage import Events, Next


class Decode:
    async def __call__(self, ctx: RequestContext, call_next: Next) -> Events:
        ctx.request = ctx.decode(await ctx.read_body())
        return await call_next(ctx)
