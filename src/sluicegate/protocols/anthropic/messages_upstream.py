"""Anthropic Messages, upstream side: the gateway as a client of ``POST /v1/messages``.

Decisions worth knowing:

- Anthropic requires ``max_tokens``; a request that sets none gets
  :data:`DEFAULT_MAX_TOKENS`, enough for a long answer on every current model
  and small enough to be accepted by all of them.
- Every system message, wherever it sits, becomes a text block of the
  top-level ``system`` (Anthropic has no system turns), keeping ``cache_control``.
- Anthropic requires alternating turns: consecutive messages of one role are
  merged, and consecutive tool results become one user turn of ``tool_result``
  blocks (a following user message joins that turn, after the results).
- Empty text blocks are rejected by Anthropic, so they are left out, and a
  message left with no content at all is dropped.
- Tool-call arguments that are not a JSON object (a model cut off mid-call,
  or nested past what the encoder can write) are sent as ``{}`` rather than
  failing a conversation the client could continue with any other provider.
- ``response_format`` with a JSON Schema becomes Anthropic's structured
  output, ``output_config.format`` (a request from an Anthropic client keeps
  its own ``output_config`` via ``extra``). Anthropic has no JSON mode, so
  ``json_object`` becomes an instruction at the end of the system prompt. The
  contracts stage checks the answer either way. ``Tool.strict`` is not sent
  unless an Anthropic client set it; ``seed`` and ``n`` have no equivalent and
  are not sent. ``temperature`` is clamped to Anthropic's 0..1.
- ``extra["anthropic"]`` (fields an Anthropic client sent that have no
  canonical home) is merged into the body last, so a same-protocol call
  reaches the upstream unchanged.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from sluicegate.canonical import (
    ChatRequest,
    ErrorCode,
    ErrorKind,
    Event,
    Finish,
    FinishReason,
    GatewayError,
    ImagePart,
    Message,
    Start,
    TextDelta,
    TextPart,
    Usage,
)
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.anthropic.messages_request import TOOL_EXTRA
from sluicegate.protocols.anthropic.messages_response import tool_input
from sluicegate.protocols.upstream_errors import upstream_error

DEFAULT_MAX_TOKENS = 4096

# Anthropic stop_reason -> canonical finish reason. pause_turn (a server tool
# loop paused) is a normal end of this turn for the client.
_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Anthropic error type -> the HTTP status it comes with, to map an ``error``
# event inside a 200 stream the same way as an error status.
_ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

_TOOL_CHOICE: dict[str, str] = {"auto": "auto", "required": "any", "tool": "tool", "none": "none"}


# --------------------------------------------------------------------------- requests


def encode_messages_request(req: ChatRequest, model: str) -> bytes:
    """The upstream body for ``req``, calling the upstream model ``model``."""
    extra = req.extra.get("anthropic") or {}
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in req.messages:
        if message.role == "system":
            system.extend(_text_blocks(message))
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    body: dict[str, Any] = {
        "model": model,
        "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": turns,
    }
    if req.response_format is not None and not _OWN_FORMAT.intersection(extra):
        _structured_output(req.response_format, body, system)
    if system:
        body["system"] = system
    if req.stream:
        body["stream"] = True
    if req.temperature is not None:
        body["temperature"] = min(1.0, max(0.0, req.temperature))
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = req.stop
    if req.user:
        body["metadata"] = {"user_id": req.user}

    tools = _tools(req, extra)
    if tools:
        body["tools"] = tools
        if req.tool_choice is not None:
            choice: dict[str, Any] = {"type": _TOOL_CHOICE[req.tool_choice.mode]}
            if req.tool_choice.mode == "tool":
                choice["name"] = req.tool_choice.name
            if req.tool_choice.parallel is False and req.tool_choice.mode != "none":
                choice["disable_parallel_tool_use"] = True
            body["tool_choice"] = choice

    for key, value in extra.items():
        if key != "tools" and key != TOOL_EXTRA:
            body[key] = value
    return orjson.dumps(body)


# An Anthropic client's own structured-output fields, forwarded as they came.
_OWN_FORMAT = frozenset({"output_config", "output_format"})
# What Anthropic is told for JSON mode, which it has no switch for.
JSON_OBJECT_INSTRUCTION = (
    "Answer with a single JSON object and nothing else: no prose, no code fences."
)


def _structured_output(
    response_format: dict[str, Any], body: dict[str, Any], system: list[dict[str, Any]]
) -> None:
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif kind == "json_object":
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})


def _text_block(part: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache_control is not None:
        block["cache_control"] = part.cache_control
    return block


def _image_block(part: ImagePart) -> dict[str, Any]:
    inline = part.as_data()
    if inline is not None:
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": inline[0], "data": inline[1]},
        }
    return {"type": "image", "source": {"type": "url", "url": part.as_url()}}


def _text_blocks(message: Message) -> list[dict[str, Any]]:
    return [_text_block(p) for p in message.content if isinstance(p, TextPart) and p.text]


def _content_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append(_text_block(part))
        else:
            blocks.append(_image_block(part))
    return blocks


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [_tool_result(message)]
    blocks = _content_blocks(message)
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name,
             "input": tool_input(call.arguments)}
        )
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
    parts = message.content
    if len(parts) == 1 and isinstance(parts[0], TextPart) and parts[0].cache_control is None:
        if parts[0].text:
            block["content"] = parts[0].text
    else:
        content = _content_blocks(message)
        if content:
            block["content"] = content
    if message.is_error:
        block["is_error"] = True
    return block


def _tools(req: ChatRequest, extra: dict[str, Any]) -> list[dict[str, Any]]:
    tool_extra: dict[str, dict[str, Any]] = extra.get(TOOL_EXTRA) or {}
    tools: list[dict[str, Any]] = []
    for tool in req.tools:
        schema = tool.parameters or {"type": "object", "properties": {}}
        entry: dict[str, Any] = {"name": tool.name}
        if tool.description:
            entry["description"] = tool.description
        entry["input_schema"] = schema
        more = tool_extra.get(tool.name)
        if more:
            entry.update(more)
        tools.append(entry)
    server_tools = extra.get("tools")
    if server_tools:
        tools.extend(server_tools)
    return tools


# --------------------------------------------------------------------------- answers


def _bad(message: str) -> GatewayError:
    # The provider adapter re-raises this with its name (providers.http.bad_json).
    return GatewayError(
        ErrorKind.UPSTREAM, message, code=ErrorCode.UPSTREAM_BAD_RESPONSE, retryable=True,
    )


def _usage(usage: dict[str, Any]) -> Usage:
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=(usage.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=usage.get("output_tokens") or 0,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _finish(stop_reason: Any, stop_sequence: Any) -> Finish:
    return Finish(
        reason=_FINISH.get(stop_reason, "stop"),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
    )


def decode_messages_response(body: bytes, *, provider: str = "anthropic") -> list[Event]:
    """The events of a non-streamed ``message`` answer (an error body raises, mapped)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"invalid JSON: {exc}") from None
    if isinstance(data, dict) and data.get("type") == "error":
        raise stream_error(data, provider)
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise _bad("not a message object")
    events: list[Event] = [
        Start(id=str(data.get("id") or ""), model=str(data.get("model") or ""),
              created=int(time.time()))
    ]
    calls = 0
    for block in data["content"]:
        if not isinstance(block, dict):
            raise _bad("content block is not an object")
        btype = block.get("type")
        if btype == "text":
            text = block.get("text")
            if text:
                events.append(TextDelta(text=text))
        elif btype == "tool_use":
            events.append(
                ToolCallDelta(
                    call_index=calls, id=block.get("id"), name=block.get("name"),
                    arguments=orjson.dumps(block.get("input") or {}).decode(),
                )
            )
            calls += 1
        # thinking, redacted_thinking, server tool blocks: no canonical form yet.
    events.append(_finish(data.get("stop_reason"), data.get("stop_sequence")))
    usage = data.get("usage")
    if isinstance(usage, dict):
        events.append(_usage(usage))
    return events


def stream_error(data: Any, provider: str) -> GatewayError:
    """Map an Anthropic error body (also an ``error`` stream event) to a GatewayError."""
    err = data.get("error") if isinstance(data, dict) else None
    etype = err.get("type") if isinstance(err, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    status = _ERROR_STATUS.get(etype, 500) if isinstance(etype, str) else 500
    detail = f"{etype}: {message}" if etype and message else str(message or etype or "error")
    return upstream_error(provider, status, detail, {})


class MessagesStreamDecoder:
    """Turns Anthropic stream events into canonical events, one SSE event at a time.

    ``done`` is true once ``message_stop`` arrived; a stream that ends before
    that was cut off. An ``error`` event raises the mapped GatewayError.
    """

    __slots__ = ("_blocks", "_calls", "_provider", "_usage", "done")

    def __init__(self, provider: str = "anthropic") -> None:
        self._provider = provider
        # block index -> call_index for tool_use blocks, -1 for text, absent otherwise.
        self._blocks: dict[int, int] = {}
        self._calls = 0
        self._usage: dict[str, Any] = {}
        self.done = False

    def feed(self, event: str | None, data: str) -> list[Event]:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _bad(f"invalid JSON in stream event {event!r}: {exc}") from None
        if not isinstance(payload, dict):
            raise _bad(f"stream event {event!r} is not an object")
        kind = event or payload.get("type")
        if kind == "content_block_delta":
            return self._delta(payload)
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "message_start":
            message = payload.get("message")
            if not isinstance(message, dict):
                raise _bad("message_start without a message")
            usage = message.get("usage")
            if isinstance(usage, dict):
                self._usage.update(usage)
            return [
                Start(id=str(message.get("id") or ""), model=str(message.get("model") or ""),
                      created=int(time.time()))
            ]
        if kind == "message_delta":
            usage = payload.get("usage")
            if isinstance(usage, dict):
                # Counts on message_delta are cumulative; absent ones keep their start value.
                self._usage.update({k: v for k, v in usage.items() if v is not None})
            delta = payload.get("delta") or {}
            stop_reason = delta.get("stop_reason")
            if stop_reason is None:
                return []
            return [_finish(stop_reason, delta.get("stop_sequence"))]
        if kind == "message_stop":
            self.done = True
            return [_usage(self._usage)] if self._usage else []
        if kind == "error":
            raise stream_error(payload, self._provider)
        # ping, content_block_stop, and event types added after this was written.
        return []

    def _block_start(self, payload: dict[str, Any]) -> list[Event]:
        block = payload.get("content_block")
        index = payload.get("index")
        if not isinstance(block, dict) or not isinstance(index, int):
            raise _bad("content_block_start without index or content_block")
        btype = block.get("type")
        if btype == "text":
            self._blocks[index] = -1
            text = block.get("text")
            return [TextDelta(text=text)] if text else []
        if btype == "tool_use":
            call_index = self._calls
            self._calls += 1
            self._blocks[index] = call_index
            tool_input = block.get("input")
            # The real API starts with "input": {} and streams the JSON; a
            # compatible server that sends the whole input here sends no deltas.
            arguments = orjson.dumps(tool_input).decode() if tool_input else ""
            return [
                ToolCallDelta(call_index=call_index, id=block.get("id"), name=block.get("name"),
                              arguments=arguments)
            ]
        return []  # thinking, server_tool_use, ...: ignored for now

    def _delta(self, payload: dict[str, Any]) -> list[Event]:
        slot = self._blocks.get(payload.get("index"))  # type: ignore[arg-type]
        if slot is None:
            return []
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            raise _bad("content_block_delta without a delta")
        dtype = delta.get("type")
        if dtype == "text_delta":
            text = delta.get("text")
            return [TextDelta(text=text)] if text else []
        if dtype == "input_json_delta" and slot >= 0:
            partial = delta.get("partial_json")
            return [ToolCallDelta(call_index=slot, arguments=partial)] if partial else []
        return []  # citations_delta, thinking_delta, signature_delta
