"""The aiohttp application: routes, response headers and lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from sluicegate.admin.routes import add_admin_routes
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.gateway import GATEWAY, Gateway
from sluicegate.protocols.wire import ANTHROPIC, OPENAI
from sluicegate.server.respond import error_response
from sluicegate.server.routes import add_routes, request_id


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, streams and aiohttp's own included, carries an x-request-id.

    A response-prepare signal rather than a middleware: a middleware wraps
    every handler call, and at this request rate that wrapping is measurable.
    """
    response.headers["x-request-id"] = request_id(request)


async def _no_route(request: web.Request) -> web.Response:
    """Unknown paths and methods get a JSON error body in the path's protocol; a 405
    says in ``Allow`` which methods the path has (RFC 9110)."""
    wire = ANTHROPIC if request.path.startswith("/v1/messages") else OPENAI
    allowed = await _allowed_methods(request)
    known = bool(allowed)
    err = GatewayError(
        ErrorKind.NOT_FOUND,
        f"{'Method Not Allowed' if known else 'Not Found'}: {request.method} {request.path}",
        code=ErrorCode.METHOD_NOT_ALLOWED if known else ErrorCode.NOT_FOUND,
    )
    response = error_response(wire, err)
    response.set_status(405 if known else 404)
    if known:
        response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


async def _allowed_methods(request: web.Request) -> set[str]:
    """The methods of every route whose path matches, plain or with parameters."""
    catch_all = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not catch_all:
            allowed |= (await resource.resolve(request))[1]
    return allowed


def create_app(gateway: Gateway) -> web.Application:
    app = web.Application(client_max_size=gateway.config.server.max_body_bytes)
    app[GATEWAY] = gateway
    add_routes(app)
    add_admin_routes(app)
    app.router.add_route("*", "/{tail:.*}", _no_route)  # last: only what nothing else matched
    app.on_response_prepare.append(_stamp_request_id)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    gateway = app[GATEWAY]
    await gateway.start()
    yield
    await gateway.close()
