"""Egress: send the pipeline's events to the client, streamed or collected."""

from __future__ import annotations

from aiohttp import web

from sluicegate.canonical import (
    ChatRequest,
    EmbeddingResponse,
    ErrorCode,
    ErrorKind,
    GatewayError,
    Usage,
)
from sluicegate.canonical.collect import ResponseCollector
from sluicegate.http_errors import JSON
from sluicegate.http_errors import error_response as http_error
from sluicegate.pipeline import Request, Stream
from sluicegate.protocols import openai
from sluicegate.protocols.wire import WireFormat


def error_response(
    wire: WireFormat, err: GatewayError, request: Request | None = None
) -> web.Response:
    """``err`` in the client's protocol, with what the request's outcome says."""
    return http_error(wire, err, _answer_headers(request) if request is not None else None)


def _answer_headers(request: Request) -> dict[str, str]:
    """The gateway's response headers, from what happened to the request."""
    outcome = request.outcome
    headers = dict(outcome.headers) if outcome.headers else {}
    attempts = outcome.attempts
    if outcome.served:
        headers["x-sluicegate-target"] = outcome.target.label  # type: ignore[union-attr]
    elif outcome.replayed_target is not None:
        headers["x-sluicegate-target"] = outcome.replayed_target
    if len(attempts) > 1 or (attempts and outcome.first_event_at is None):
        # Every target tried, so a client can see a failover (or why none served).
        headers["x-sluicegate-attempts"] = ", ".join(f"{t}={r}" for t, r in attempts)
    if outcome.degraded is not None:
        headers["x-sluicegate-degraded"] = outcome.degraded
    if outcome.replayed:
        headers["x-sluicegate-idempotent-replay"] = "true"
    if request.prompt is not None:
        headers["x-sluicegate-prompt"] = request.prompt
    if outcome.cache is not None:
        headers["x-sluicegate-cache"] = outcome.cache
        if outcome.cache == "hit":
            headers["Age"] = str(int(outcome.cache_age_s))  # whole seconds, as in HTTP
    return headers


async def send_chat(
    http: web.Request, wire: WireFormat, request: Request, stream: Stream
) -> web.StreamResponse:
    """Send ``stream`` to the client; it is ended whatever happens here (a client that
    goes away mid-answer gives it up, and the access log records a 499)."""
    try:
        request = request.latest
        chat = request.decoded
        assert isinstance(chat, ChatRequest)
        if chat.stream:
            return await _stream(http, wire, request, chat, stream)
        collector = ResponseCollector()
        async for event in stream:
            collector.add(event)
    finally:
        await stream.aclose()
    return web.Response(
        body=wire.encode_response(collector.response()),
        content_type=JSON,
        headers=_answer_headers(request),
    )


async def _stream(
    http: web.Request, wire: WireFormat, request: Request, chat: ChatRequest, stream: Stream
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            # Tell buffering reverse proxies (nginx) to pass chunks through as they come.
            "X-Accel-Buffering": "no",
            **_answer_headers(request),
        }
    )
    encoder = wire.stream_encoder(chat, request.request_id)
    await response.prepare(http)
    try:
        async for event in stream:
            data = encoder.encode(event)
            if data:
                await response.write(data)
    except GatewayError as err:
        # The stream has started: the failure goes to the client as that
        # protocol's error event, never as a clean end.
        await response.write(encoder.error(err))
        await response.write_eof()
        return response
    await response.write(encoder.end())
    await response.write_eof()
    return response


async def send_embeddings(request: Request, stream: Stream) -> web.Response:
    collector = ResponseCollector()
    try:
        async for event in stream:
            collector.add(event)
    finally:
        await stream.aclose()
    result = collector.embeddings
    if result is None:
        raise GatewayError(
            ErrorKind.UPSTREAM,
            "upstream returned no embeddings",
            code=ErrorCode.UPSTREAM_BAD_RESPONSE,
        )
    body = openai.encode_embeddings_response(
        EmbeddingResponse(
            model=result.model, vectors=result.vectors, usage=collector.usage or Usage()
        )
    )
    return web.Response(body=body, content_type=JSON, headers=_answer_headers(request))
