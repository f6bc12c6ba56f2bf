"""The public HTTP API: chat, messages, embeddings, models, health, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from sluicegate.auth.authenticate import api_key_of
from sluicegate.canonical import ErrorKind, GatewayError
from sluicegate.gateway import Gateway
from sluicegate.pipeline import RequestContext
from sluicegate.pipeline.context import CanonicalRequest, Operation
from sluicegate.protocols.openai import chat_ingress as openai
from sluicegate.server.keys import GATEWAY, REQUEST_ID
from sluicegate.server.respond import JSON, error_response, send_chat, send_embeddings
from sluicegate.server.wire import ANTHROPIC, OPENAI, WireFormat


def _body_reader(request: web.Request) -> Callable[[], Awaitable[bytes]]:
    async def read() -> bytes:
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            limit = request.app[GATEWAY].config.server.max_body_bytes
            raise GatewayError(
                ErrorKind.TOO_LARGE,
                f"request body is larger than the limit of {limit} bytes",
                code="request_too_large",
            ) from exc

    return read


def _context(
    request: web.Request,
    wire: WireFormat,
    operation: Operation,
    decode: Callable[[bytes], CanonicalRequest],
) -> RequestContext:
    gateway = request.app[GATEWAY]
    return RequestContext(
        id=gateway.new_id(),
        request_id=request_id(request),
        protocol="anthropic" if wire is ANTHROPIC else "openai",
        operation=operation,
        headers=request.headers,
        runtime=gateway.runtime,
        read_body=_body_reader(request),
        decode=decode,
    )


def _chat_handler(wire: WireFormat) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = _context(request, wire, "chat", wire.decode_chat)
        try:
            events = await request.app[GATEWAY].pipeline(ctx)
            return await send_chat(request, wire, ctx, events)
        except GatewayError as err:
            return error_response(wire, err, ctx)

    return handle


async def embeddings(request: web.Request) -> web.StreamResponse:
    ctx = _context(request, OPENAI, "embeddings", openai.decode_embeddings_request)
    try:
        events = await request.app[GATEWAY].pipeline(ctx)
        return await send_embeddings(ctx, events)
    except GatewayError as err:
        return error_response(OPENAI, err, ctx)


async def list_models(request: web.Request) -> web.Response:
    gateway: Gateway = request.app[GATEWAY]
    token = api_key_of(request.headers)
    found = gateway.directory.authenticate(token) if token else None
    if found is None:
        err = GatewayError(
            ErrorKind.AUTHENTICATION,
            "missing API key" if not token else "invalid API key",
            code="missing_api_key" if not token else "invalid_api_key",
        )
        return error_response(_wire_of(request), err)
    _, tenant = found
    names = [n for n in gateway.runtime.aliases if tenant.may_use(n)]
    if _wire_of(request) is ANTHROPIC:
        body = orjson.dumps(
            {
                "data": [
                    {
                        "type": "model",
                        "id": n,
                        "display_name": n,
                        "created_at": "1970-01-01T00:00:00Z",
                    }
                    for n in names
                ],
                "has_more": False,
                "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None,
            }
        )
    else:
        body = openai.encode_models(names, created=int(gateway.started_at))
    return web.Response(body=body, content_type=JSON)


def _wire_of(request: web.Request) -> WireFormat:
    # The Anthropic SDK always sends anthropic-version; the OpenAI SDK never does.
    return ANTHROPIC if "anthropic-version" in request.headers else OPENAI


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    checks = await gateway.readiness()
    ready = all(v == "ok" for v in checks.values())
    # Targets are shown, not judged: one provider down does not make this
    # replica unfit to serve the others.
    labels = sorted(t.label for t in gateway.runtime.targets())
    targets = {label: gateway.health.state(label).breaker.state for label in labels}
    return web.Response(
        status=200 if ready else 503,
        body=orjson.dumps(
            {"status": "ready" if ready else "not ready", "checks": checks, "targets": targets}
        ),
        content_type=JSON,
    )


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[GATEWAY].metrics.scrape()
    return web.Response(
        body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", _chat_handler(OPENAI))
    app.router.add_post("/v1/messages", _chat_handler(ANTHROPIC))
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def request_id(request: web.Request) -> str:
    """The client's own x-request-id when it is sane, otherwise a fresh one; fixed per request."""
    found = request.get(REQUEST_ID)
    if found is None:
        given = request.headers.get("x-request-id")
        if given and len(given) <= 128 and given.isprintable():
            found = given
        else:
            found = "req_" + request.app[GATEWAY].new_id()
        request[REQUEST_ID] = found
    return found
