"""The aiohttp application: routes, middleware and lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler

from sluicegate.admin.routes import add_admin_routes
from sluicegate.canonical import ErrorKind, GatewayError
from sluicegate.gateway import Gateway
from sluicegate.server.keys import GATEWAY, REQUEST_ID
from sluicegate.server.respond import error_response
from sluicegate.server.routes import add_routes, new_request_id
from sluicegate.server.wire import ANTHROPIC, OPENAI


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every response an x-request-id, and aiohttp's own errors a JSON body."""
    request_id = new_request_id(request.headers.get("x-request-id"), request.app[GATEWAY].new_id)
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        wire = ANTHROPIC if request.path.startswith("/v1/messages") else OPENAI
        kind = ErrorKind.NOT_FOUND if exc.status in (404, 405) else ErrorKind.INVALID_REQUEST
        err = GatewayError(
            kind,
            f"{exc.reason}: {request.method} {request.path}",
            code="not_found" if exc.status == 404 else "invalid_request",
        )
        response = error_response(wire, err)
        response.set_status(exc.status)
    if not response.prepared:
        response.headers["x-request-id"] = request_id
    return response


def create_app(gateway: Gateway) -> web.Application:
    app = web.Application(
        middlewares=[request_id_middleware],
        client_max_size=gateway.config.server.max_body_bytes,
    )
    app[GATEWAY] = gateway
    add_routes(app)
    add_admin_routes(app)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    gateway = app[GATEWAY]
    await gateway.start()
    yield
    await gateway.close()
