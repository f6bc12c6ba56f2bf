"""Stage: find the alias the client asked for and check the tenant may use it."""

from __future__ import annotations

from sluicegate.canonical import ErrorKind, GatewayError
from sluicegate.pipeline import Events, Next, RequestContext


class ResolveModel:
    async def __call__(self, ctx: RequestContext, call_next: Next) -> Events:
        name = ctx.decoded.model
        alias = ctx.runtime.aliases.get(name)
        if alias is None:
            raise GatewayError(
                ErrorKind.NOT_FOUND,
                f"The model '{name}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        if ctx.tenant is not None and not ctx.tenant.may_use(name):
            raise GatewayError(
                ErrorKind.PERMISSION,
                f"this key may not use model '{name}'",
                code="model_not_allowed",
                param="model",
            )
        ctx.alias = alias
        return await call_next(ctx)
