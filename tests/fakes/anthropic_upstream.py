"""A fake Anthropic Messages API: an in-process aiohttp server that speaks the real protocol.

    async with AnthropicUpstream() as fake:
        fake.reply_with(text="Hi!")                   # every following call
        fake.fail(529, times=1)                       # ... except the next one
        provider_config.base_url = fake.url           # http://127.0.0.1:PORT/v1
        anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="x")  # no /v1 for the SDK
        ...
        fake.requests[-1].json["messages"]            # what the gateway sent

It answers ``POST /v1/messages`` like Anthropic does: a ``message`` object, or
with ``"stream": true`` the full event sequence (``message_start``,
``content_block_start``, a ``ping``, ``content_block_delta``s with text_delta /
input_json_delta, ``content_block_stop``, ``message_delta``, ``message_stop``),
framed ``event: NAME\\ndata: JSON\\n\\n`` with ``text/event-stream`` and a
``request-id`` header. A missing key (``x-api-key``, or ``Authorization:
Bearer`` as anthropic-python 2.x sends it) gets the real 401 body (with
``AnthropicUpstream(api_key=...)`` a wrong one does too), a missing
``anthropic-version`` or ``max_tokens`` the real 400.

Scripting: ``reply_with`` / ``reply_with_tool_use`` / ``fail`` / ``reply_raw``
/ ``invalid_json`` set the answer for every following request, or, with
``times=n``, queue it for the next ``n`` requests only (queued answers go
first, in order). Faults that shape a stream (``cut_stream_after``,
``error_in_stream_after``, ``hold_stream_after``, ``delay_first_byte``,
``pace_stream``) stay on until ``reset()``. The API mirrors
``fakes.openai_upstream.OpenAIUpstream``: both build on ``fakes.base.FakeUpstream``.

The module constants are the documented example payloads (docs.claude.com:
Messages API, tool use, streaming, errors), for table-driven tests.
"""

# ruff: noqa: E501  (documented payloads are kept byte for byte)
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FakeUpstream, Raw, sse_frame
from fakes.base import RecordedRequest as RecordedRequest  # what ``requests`` holds

# --------------------------------------------------------------------------- documented payloads

# Messages API, basic request: the example response.
TEXT_MESSAGE: dict[str, Any] = {
    "content": [{"text": "Hi! My name is Claude.", "type": "text"}],
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "model": "claude-sonnet-4-5-20250929",
    "role": "assistant",
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "type": "message",
    "usage": {"input_tokens": 2095, "output_tokens": 503},
}

# Tool use: the example response to "What's the weather like in San Francisco?".
TOOL_USE_MESSAGE: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q",
    "model": "claude-sonnet-4-5-20250929",
    "stop_reason": "tool_use",
    "role": "assistant",
    "content": [
        {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA", "unit": "celsius"},
        },
    ],
    "stop_sequence": None,
    "type": "message",
    "usage": {"input_tokens": 472, "output_tokens": 91},
}

# Streaming Messages: "Basic streaming request", the documented event stream.
STREAMED_TEXT = (
    b'event: message_start\n'
    b'data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",'
    b' "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-6",'
    b' "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25,'
    b' "output_tokens": 1}}}\n\n'
    b'event: content_block_start\n'
    b'data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text",'
    b' "text": ""}}\n\n'
    b'event: ping\n'
    b'data: {"type": "ping"}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",'
    b' "text": "Hello"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",'
    b' "text": "!"}}\n\n'
    b'event: content_block_stop\n'
    b'data: {"type": "content_block_stop", "index": 0}\n\n'
    b'event: message_delta\n'
    b'data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null},'
    b' "usage": {"output_tokens": 15}}\n\n'
    b'event: message_stop\n'
    b'data: {"type": "message_stop"}\n\n'
)

# Streaming Messages: "Streaming request with tool use" (text, then a tool_use
# block whose input arrives as input_json_delta pieces).
STREAMED_TOOL_USE = (
    b'event: message_start\n'
    b'data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message",'
    b'"role":"assistant","model":"claude-opus-4-6","stop_sequence":null,"usage":{"input_tokens":472,'
    b'"output_tokens":2},"content":[],"stop_reason":null}}\n\n'
    b'event: content_block_start\n'
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b'event: ping\n'
    b'data: {"type": "ping"}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":","}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    b'"text":" let\'s check the weather for San Francisco, CA:"}}\n\n'
    b'event: content_block_stop\n'
    b'data: {"type":"content_block_stop","index":0}\n\n'
    b'event: content_block_start\n'
    b'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use",'
    b'"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":""}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"{\\"location\\":"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":" \\"San"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":" Francisc"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"o,"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":" CA\\""}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":", "}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"\\"unit\\": \\"fah"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"renheit\\"}"}}\n\n'
    b'event: content_block_stop\n'
    b'data: {"type":"content_block_stop","index":1}\n\n'
    b'event: message_delta\n'
    b'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
    b'"usage":{"output_tokens":89}}\n\n'
    b'event: message_stop\n'
    b'data: {"type":"message_stop"}\n\n'
)

# Errors: the documented shape, and the body of an overloaded API (HTTP 529).
OVERLOADED_ERROR: dict[str, Any] = {
    "type": "error",
    "error": {"type": "overloaded_error", "message": "Overloaded"},
}
# Streaming Messages, "Error events": what arrives inside a 200 stream.
STREAMED_ERROR = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'

# The error type Anthropic documents for each HTTP status (https://docs.claude.com/en/api/errors).
ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "There was an issue with the format or content of your request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The JSON body Anthropic sends with ``status`` (``api_error`` for unlisted 5xx)."""
    etype, default = ERROR_TYPES.get(status, ("api_error" if status >= 500 else
                                               "invalid_request_error", "Error"))
    return {"type": "error", "error": {"type": etype, "message": message or default}}


# --------------------------------------------------------------------------- scripting


@dataclass
class Reply:
    """An answer: content blocks as in a ``message`` object, plus stop reason and usage."""

    content: list[dict[str, Any]]
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 25, "output_tokens": 15})
    id: str | None = None
    model: str | None = None  # None: echo the requested model


Script = Reply | Raw


def _message(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": reply.id or "msg_" + os.urandom(12).hex(),
        "type": "message",
        "role": "assistant",
        "model": reply.model or model,
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": reply.usage,
    }


def stream_events(reply: Reply, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence the real API streams for ``reply``."""
    message = _message(reply, model)
    usage = dict(reply.usage)
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens"}
    start_usage["output_tokens"] = 1
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": start_usage,
        }}),
    ]
    for index, block in enumerate(reply.content):
        if block["type"] == "tool_use":
            start = {**block, "input": {}}
            text = orjson.dumps(block["input"]).decode()
            pieces = [""] + [text[i:i + 12] for i in range(0, len(text), 12)]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        else:
            start = {**block, "text": ""}
            words = block["text"].split(" ")
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            deltas = [{"type": "text_delta", "text": p} for p in pieces if p]
        events.append(("content_block_start",
                       {"type": "content_block_start", "index": index, "content_block": start}))
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        for delta in deltas:
            events.append(("content_block_delta",
                           {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence},
        "usage": {"output_tokens": usage.get("output_tokens", 0)},
    }))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class AnthropicUpstream(FakeUpstream[Reply]):
    """The fake server; see the module docstring. Use as ``async with AnthropicUpstream() as fake``.

    ``api_key``: when given, other keys get the real 401.
    """

    REQUEST_ID_HEADER = "request-id"
    INVALID_STREAM_FRAME = b"event: message_start\ndata: {not json\n\n"
    STREAM_ERROR = OVERLOADED_ERROR

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    @property
    def base_url(self) -> str:
        """What the official SDK takes as ``base_url`` (it adds ``/v1`` itself)."""
        return self.origin

    # ---- scripting

    def _default_reply(self) -> Reply:
        return Reply(content=list(TEXT_MESSAGE["content"]), usage=dict(TEXT_MESSAGE["usage"]))

    def reply_with(
        self,
        text: str = "Hello!",
        *,
        stop_reason: str = "end_turn",
        stop_sequence: str | None = None,
        usage: dict[str, int] | None = None,
        model: str | None = None,
        id: str | None = None,
        times: int | None = None,
    ) -> Reply:
        """A text answer. ``usage`` is Anthropic's usage object (default 25 in, 15 out)."""
        return self.reply(Reply(
            content=[{"type": "text", "text": text}], stop_reason=stop_reason,
            stop_sequence=stop_sequence, usage=usage or {"input_tokens": 25, "output_tokens": 15},
            model=model, id=id,
        ), times=times)

    def reply_with_tool_use(
        self,
        name: str = "get_weather",
        input: dict[str, Any] | None = None,
        *,
        id: str = "toolu_01A09q90qw90lq917835lq9",
        text: str | None = None,
        more: list[tuple[str, str, dict[str, Any]]] | None = None,
        usage: dict[str, int] | None = None,
        times: int | None = None,
    ) -> Reply:
        """A tool_use answer (optionally text first; ``more`` adds parallel calls (id, name, input))."""
        content: list[dict[str, Any]] = []
        if text:
            content.append({"type": "text", "text": text})
        calls = [(id, name, input if input is not None else {"location": "San Francisco, CA"})]
        for call_id, call_name, call_input in [*calls, *(more or [])]:
            content.append({"type": "tool_use", "id": call_id, "name": call_name,
                            "input": call_input})
        return self.reply(Reply(content=content, stop_reason="tool_use",
                                usage=usage or {"input_tokens": 472, "output_tokens": 91}),
                          times=times)

    def fail(
        self,
        status: int = 529,
        body: bytes | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        *,
        times: int | None = None,
    ) -> None:
        """Answer ``status`` with the documented error body for it (or ``body``)."""
        self._fail(status, error_body(status) if body is None else body, headers, times)

    def error_in_stream_after(self, events: int, error: dict[str, Any] | None = None) -> None:
        """After ``events`` SSE events send ``event: error`` (default: overloaded_error, as
        documented) and end the stream. ``error``: the whole event data
        (``{"type": "error", "error": {"type": ..., "message": ...}}``)."""
        self._error_in_stream_after(events, error)

    def _error_frame(self, payload: dict[str, Any]) -> bytes:
        return sse_frame(payload, "error")

    # ---- the endpoint

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body, request_id = await self._receive(request)
        # The API takes the key as x-api-key, or (as anthropic-python 2.x sends it)
        # as a bearer token.
        key = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not key and auth.startswith("Bearer "):
            key = auth[7:]
        if not key:
            return self._error(401, "x-api-key header is required", request_id)
        if self.api_key is not None and key != self.api_key:
            return self._error(401, "invalid x-api-key", request_id)
        if not request.headers.get("anthropic-version"):
            return self._error(400, "anthropic-version: header is required", request_id)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._error(400, "There was an issue with the format or content of your "
                                    "request. Please check the JSON body.", request_id)
        for name in ("model", "max_tokens", "messages"):
            if name not in data:
                return self._error(400, f"{name}: Field required", request_id)

        script = self._next_script()
        if isinstance(script, Raw):
            return await self._send_raw(request, script, request_id,
                                        stream=bool(data.get("stream")))
        if not data.get("stream"):
            return self._json(200, _message(script, data["model"]), request_id)
        frames = [sse_frame(payload, name) for name, payload in stream_events(script, data["model"])]
        return await self._stream(request, frames, request_id)

    def _error(self, status: int, message: str, request_id: str) -> web.Response:
        return self._json(status, {**error_body(status, message), "request_id": request_id},
                          request_id)
