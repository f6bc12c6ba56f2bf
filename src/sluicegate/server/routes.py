"""The public HTTP API: chat, messages, embeddings, models, health, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import orjson
from aiohttp import web

from sluicegate.auth.admin_key import holds_key
from sluicegate.auth.authenticate import api_key_of
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.feedback import post_feedback
from sluicegate.gateway import GATEWAY, Gateway
from sluicegate.http_errors import JSON
from sluicegate.ids import GENERATED_REQUEST_ID_PREFIX
from sluicegate.pipeline import CanonicalRequest, Operation, Request
from sluicegate.protocols import openai
from sluicegate.protocols.wire import ANTHROPIC, OPENAI, WireFormat
from sluicegate.server.body import expect_continue, read_body
from sluicegate.server.keys import REQUEST_ID
from sluicegate.server.respond import error_response, send_chat, send_embeddings


def _body_reader(request: web.Request) -> Callable[[], Awaitable[bytes]]:
    server = request.app[GATEWAY].config.server
    return partial(
        read_body, request, max_bytes=server.max_body_bytes, timeout_s=server.body_timeout_s
    )


def _request(
    http: web.Request,
    wire: WireFormat,
    operation: Operation,
    decode: Callable[[bytes], CanonicalRequest],
) -> Request:
    gateway = http.app[GATEWAY]
    id = gateway.new_id()
    return Request.start(
        id=id,
        request_id=request_id(http, id),
        protocol="anthropic" if wire is ANTHROPIC else "openai",
        operation=operation,
        headers=http.headers,
        runtime=gateway.runtime,
        receive=_body_reader(http),
        decode_body=decode,
    )


def _chat_handler(wire: WireFormat) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(http: web.Request) -> web.StreamResponse:
        request = _request(http, wire, "chat", wire.decode_chat)
        try:
            events = await http.app[GATEWAY].pipeline(request)
            return await send_chat(http, wire, request, events)
        except GatewayError as err:
            return error_response(wire, err, request)

    return handle


async def embeddings(http: web.Request) -> web.StreamResponse:
    request = _request(http, OPENAI, "embeddings", openai.decode_embeddings_request)
    try:
        events = await http.app[GATEWAY].pipeline(request)
        return await send_embeddings(request, events)
    except GatewayError as err:
        return error_response(OPENAI, err, request)


async def list_models(request: web.Request) -> web.Response:
    gateway: Gateway = request.app[GATEWAY]
    token = api_key_of(request.headers)
    found = gateway.directory.authenticate(token) if token else None
    if found is None:
        err = GatewayError(
            ErrorKind.AUTHENTICATION,
            "missing API key" if not token else "invalid API key",
            code=ErrorCode.MISSING_API_KEY if not token else ErrorCode.INVALID_API_KEY,
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
    """Readiness for anyone (a load balancer's health check); why, and each target's
    breaker, only for the operator (the admin key): the details name hosts and
    upstream errors."""
    gateway = request.app[GATEWAY]
    checks = await gateway.readiness()
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready"}
    if holds_key(request.headers, gateway.config.server.admin_key):
        # Targets are shown, not judged: one provider down does not make this
        # replica unfit to serve the others.
        labels = sorted(t.label for t in gateway.runtime.targets())
        body["checks"] = checks
        body["targets"] = {label: gateway.health.state(label).breaker.state for label in labels}
    else:
        body["checks"] = {name: "ok" if v == "ok" else "error" for name, v in checks.items()}
    return web.Response(
        status=200 if ready else 503, body=orjson.dumps(body), content_type=JSON
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics; see ``server.metrics_token`` and ``server.metrics_port``."""
    gateway = request.app[GATEWAY]
    server = gateway.config.server
    if server.metrics_port is not None and not request.app.get(METRICS_ONLY, False):
        raise web.HTTPNotFound(text="metrics are served on server.metrics_port")
    if server.metrics_token is not None and not holds_key(
        request.headers, server.metrics_token, server.admin_key
    ):
        return web.Response(
            status=401,
            body=b"metrics need Authorization: Bearer <server.metrics_token>\n",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            content_type="text/plain",
        )
    return web.Response(
        body=await gateway.metrics.scrape(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


# Set on the application of the separate metrics listener (server.metrics_port).
METRICS_ONLY = web.AppKey("metrics_only", bool)


def metrics_app(gateway: Gateway) -> web.Application:
    """The separate metrics listener: /metrics and /healthz, nothing else."""
    app = web.Application()
    app[GATEWAY] = gateway
    app[METRICS_ONLY] = True
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


def add_routes(app: web.Application) -> None:
    app.router.add_post(
        "/v1/chat/completions", _chat_handler(OPENAI), expect_handler=expect_continue
    )
    app.router.add_post("/v1/messages", _chat_handler(ANTHROPIC), expect_handler=expect_continue)
    app.router.add_post("/v1/embeddings", embeddings, expect_handler=expect_continue)
    app.router.add_get("/v1/models", list_models)
    app.router.add_post("/v1/feedback", post_feedback)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def request_id(request: web.Request, ledger_id: str | None = None) -> str:
    """The client's own x-request-id when it is sane, otherwise a fresh one; fixed per
    request. A fresh one is ``req_`` and the ledger record's id, so that the record is
    found by its key from it (feedback), with no index of request ids to keep."""
    found = request.get(REQUEST_ID)
    if found is None:
        given = request.headers.get("x-request-id")
        if given and len(given) <= 128 and given.isprintable():
            found = given
        else:
            found = GENERATED_REQUEST_ID_PREFIX + (ledger_id or request.app[GATEWAY].new_id())
        request[REQUEST_ID] = found
    return found
