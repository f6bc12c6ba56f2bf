"""Stage: find the alias the client asked for and check the tenant may use it."""

from __future__ import annotations

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.pipeline import Events, Next, Request


class ResolveModel:
    async def __call__(self, request: Request, call_next: Next) -> Events:
        name = request.decoded.model
        alias = request.runtime.aliases.get(name)
        if alias is None:
            raise GatewayError(
                ErrorKind.NOT_FOUND,
                f"The model '{name}' does not exist or you do not have access to it.",
                code=ErrorCode.MODEL_NOT_FOUND,
                param="model",
            )
        if request.tenant is not None and not request.tenant.may_use(name):
            raise GatewayError(
                ErrorKind.PERMISSION,
                f"this key may not use model '{name}'",
                code=ErrorCode.MODEL_NOT_ALLOWED,
                param="model",
            )
        return await call_next(request.replace(alias=alias))
