"""The OpenAI wire format as the gateway speaks it to an OpenAI-compatible upstream.

Requests go out as Chat Completions bodies; answers (whole or streamed) come
back as canonical events. The decoders are lenient where OpenAI-compatible
servers differ harmlessly (missing ids, usage on every chunk, Azure's
prompt-filter preamble chunk) and strict where a difference would lose data
(unparseable JSON, an ``error`` object): those raise :class:`GatewayError`.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    EmbeddingsResult,
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

# Not in sluicegate.canonical.__all__, so imported from its module.
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.upstream_errors import bad_json, upstream_error

__all__ = [
    "ChatStreamDecoder",
    "decode_chat_response",
    "decode_embeddings_response",
    "decode_usage",
    "encode_chat_request",
    "encode_embeddings_request",
    "finish_reason",
    "upstream_error_event",
]


# --------------------------------------------------------------------------- request


def _text_content(message: Message) -> str | list[dict[str, Any]]:
    """A string for the usual single text part, else text parts (images dropped:
    OpenAI accepts them in user messages only)."""
    texts = [p.text for p in message.content if isinstance(p, TextPart)]
    if len(texts) == 1:
        return texts[0]
    if not texts:
        return ""
    return [{"type": "text", "text": t} for t in texts]


def _user_content(message: Message) -> str | list[dict[str, Any]]:
    parts = message.content
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    if not parts:
        return ""
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            image: dict[str, Any] = {"url": part.as_url()}
            if part.detail is not None:
                image["detail"] = part.detail
            out.append({"type": "image_url", "image_url": image})
    return out


def _message_json(message: Message) -> dict[str, Any]:
    role = message.role
    if role == "user":
        body: dict[str, Any] = {"role": "user", "content": _user_content(message)}
    elif role == "assistant":
        text = message.text()
        body = {"role": "assistant", "content": text if text or not message.tool_calls else None}
        if message.tool_calls:
            body["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
    elif role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or message.name or "",
                "content": _text_content(message)}
    else:
        body = {"role": role, "content": _text_content(message)}
    if message.name is not None:
        body["name"] = message.name
    return body


def encode_chat_request(req: ChatRequest, model: str) -> bytes:
    """The Chat Completions body for upstream model ``model``.

    ``extra["openai"]`` (fields the client sent that have no canonical meaning)
    goes out unchanged; canonical fields are written over it. Streams always
    ask for usage, because the ledger needs real token counts.
    """
    extra = req.extra.get("openai")
    body: dict[str, Any] = dict(extra) if extra else {}
    body["model"] = model
    body["messages"] = [_message_json(m) for m in req.messages]
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if req.max_tokens is not None:
        # The name the client used (max_completion_tokens is kept in extra as a
        # marker); many OpenAI-compatible servers know only max_tokens.
        if extra and "max_completion_tokens" in extra:
            body["max_completion_tokens"] = req.max_tokens
        else:
            body["max_tokens"] = req.max_tokens
    else:
        body.pop("max_completion_tokens", None)
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = req.stop
    if req.n != 1:
        body["n"] = req.n
    if req.seed is not None:
        body["seed"] = req.seed
    if req.user is not None:
        body["user"] = req.user
    if req.response_format is not None:
        body["response_format"] = req.response_format
    if req.tools:
        tools = []
        for tool in req.tools:
            function: dict[str, Any] = {"name": tool.name}
            if tool.description is not None:
                function["description"] = tool.description
            if tool.parameters:
                function["parameters"] = tool.parameters
            if tool.strict is not None:
                function["strict"] = tool.strict
            tools.append({"type": "function", "function": function})
        body["tools"] = tools
        # OpenAI rejects tool_choice and parallel_tool_calls without tools.
        choice = req.tool_choice
        if choice is not None:
            if choice.mode == "tool":
                body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
            else:
                body["tool_choice"] = choice.mode
            if choice.parallel is not None:
                body["parallel_tool_calls"] = choice.parallel
    return orjson.dumps(body)


# --------------------------------------------------------------------------- shared pieces

_FINISH: dict[Any, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "tool_calls",
}


def finish_reason(value: Any) -> FinishReason:
    """OpenAI's finish reasons; unknown ones from compatible servers (``eos``...) are stops."""
    return _FINISH.get(value, "stop")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def decode_usage(usage: dict[str, Any]) -> Usage:
    """OpenAI usage -> canonical. ``prompt_tokens`` already includes cached tokens."""
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    if not cached:  # DeepSeek's spelling of the same thing
        cached = _int(usage.get("prompt_cache_hit_tokens"))
    completion_details = usage.get("completion_tokens_details")
    reasoning = (_int(completion_details.get("reasoning_tokens"))
                 if isinstance(completion_details, dict) else 0)
    return Usage(
        input_tokens=_int(usage.get("prompt_tokens")),
        output_tokens=_int(usage.get("completion_tokens")),
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )


_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "requests": 429,
    "tokens": 429,
    "insufficient_quota": 429,
    "timeout_error": 504,
}


def upstream_error_event(provider: str, error: Any) -> GatewayError:
    """Map an ``{"error": {...}}`` object found inside a 200 answer or a stream.

    There is no HTTP status to go by, so one is inferred from the error's
    ``type``/``code`` (or a numeric ``code``/``status``, as some compatible
    servers send) and the usual status mapping applies.
    """
    if isinstance(error, dict):
        message = error.get("message")
        message = message if isinstance(message, str) else orjson.dumps(error).decode()
        status = error.get("status") if isinstance(error.get("status"), int) else error.get("code")
        if not isinstance(status, int) or isinstance(status, bool):
            code = error.get("code")
            etype = error.get("type")
            status = 429 if code == "rate_limit_exceeded" else _ERROR_TYPE_STATUS.get(
                etype if isinstance(etype, str) else "", 500)
    else:
        message, status = str(error), 500
    return upstream_error(provider, status, f"error in answer: {message}", {})


def _not_an_answer(provider: str, what: str) -> GatewayError:
    return bad_json(provider, ValueError(what))


def _load(data: bytes | str, provider: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise bad_json(provider, exc) from None
    if not isinstance(value, dict):
        raise _not_an_answer(provider, "expected a JSON object")
    error = value.get("error")
    if error is not None:
        raise upstream_error_event(provider, error)
    return value


def _start(data: dict[str, Any]) -> Start:
    id_ = data.get("id")
    model = data.get("model")
    return Start(id=id_ if isinstance(id_, str) else "",
                 model=model if isinstance(model, str) else "",
                 created=_int(data.get("created")))


def _legacy_call_id(name: str) -> str:
    # Legacy function_call answers have no id; the name is what the legacy
    # function-role result will refer to.
    return name


# --------------------------------------------------------------------------- whole answer


def decode_chat_response(body: bytes, *, provider: str = "openai") -> list[Event]:
    """A non-streamed ``chat.completion`` -> Start, deltas and Finish per choice, Usage."""
    data = _load(body, provider)
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise _not_an_answer(provider, "no 'choices' array in the answer")
    events: list[Event] = [_start(data)]
    for position, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise _not_an_answer(provider, "a choice is not an object")
        index = _int(choice.get("index", position))
        message = choice.get("message")
        if not isinstance(message, dict):
            raise _not_an_answer(provider, "a choice has no 'message' object")
        content = message.get("content")
        if isinstance(content, list):  # some compatible servers answer in parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not content:
            content = message.get("refusal")  # refusals are what the model said
        if isinstance(content, str) and content:
            events.append(TextDelta(text=content, index=index))
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for ordinal, call in enumerate(calls):
                if not isinstance(call, dict):
                    raise _not_an_answer(provider, "a tool call is not an object")
                function = call.get("function") or {}
                arguments = function.get("arguments")
                if not isinstance(arguments, str):
                    arguments = orjson.dumps(arguments or {}).decode()
                events.append(ToolCallDelta(
                    call_index=ordinal, id=str(call.get("id") or ""),
                    name=str(function.get("name") or ""), arguments=arguments, index=index))
        elif isinstance(message.get("function_call"), dict):
            fc = message["function_call"]
            name = str(fc.get("name") or "")
            events.append(ToolCallDelta(call_index=0, id=_legacy_call_id(name), name=name,
                                        arguments=str(fc.get("arguments") or ""), index=index))
        reason = choice.get("finish_reason")
        if reason is not None:
            events.append(Finish(reason=finish_reason(reason), index=index))
    usage = data.get("usage")
    if isinstance(usage, dict):
        events.append(decode_usage(usage))
    return events


# --------------------------------------------------------------------------- stream


class ChatStreamDecoder:
    """One SSE ``data`` payload at a time -> canonical events.

    Start comes first (from the first chunk that has an id or choices; Azure
    opens with an id-less prompt-filter chunk). Tool-call ``index`` values are
    renumbered to ordinals within the choice, and id/name are passed on only
    with a call's first delta, whatever the server repeats. Usage is held until
    ``[DONE]`` so it is emitted once, at the end, even from servers that report
    running usage on every chunk.
    """

    __slots__ = ("_calls", "_done", "_provider", "_started", "_usage")

    def __init__(self, *, provider: str = "openai") -> None:
        self._provider = provider
        self._started = False
        self._done = False
        self._usage: Usage | None = None
        # (choice index, upstream tool-call index) -> ordinal within the choice
        self._calls: dict[tuple[int, int], int] = {}

    @property
    def done(self) -> bool:
        """True once ``[DONE]`` arrived: the stream is complete."""
        return self._done

    def feed(self, data: str) -> list[Event]:
        if self._done:
            return []  # nothing after [DONE] belongs to the answer
        if data == "[DONE]" or data.strip() == "[DONE]":
            return self._finish()
        chunk = _load(data, self._provider)
        events: list[Event] = []
        choices = chunk.get("choices")
        if not self._started and (choices or chunk.get("id")):
            self._started = True
            events.append(_start(chunk))
        if choices:
            if not isinstance(choices, list):
                raise _not_an_answer(self._provider, "'choices' is not an array")
            for position, choice in enumerate(choices):
                self._choice(choice, position, events)
        usage = chunk.get("usage")
        if usage and isinstance(usage, dict):
            self._usage = decode_usage(usage)
        return events

    def _choice(self, choice: Any, position: int, events: list[Event]) -> None:
        if not isinstance(choice, dict):
            raise _not_an_answer(self._provider, "a choice is not an object")
        index = choice.get("index", position)
        delta = choice.get("delta")
        if delta:
            content = delta.get("content")
            if content:
                events.append(TextDelta(text=content, index=index))
            refusal = delta.get("refusal")
            if refusal:
                events.append(TextDelta(text=refusal, index=index))
            calls = delta.get("tool_calls")
            if calls:
                for pos, call in enumerate(calls):
                    self._tool_call(call, pos, index, events)
            elif delta.get("function_call"):
                fc = delta["function_call"]
                name = fc.get("name")
                self._tool_call(
                    {"index": 0, "id": _legacy_call_id(name) if name else None,
                     "function": fc}, 0, index, events)
        reason = choice.get("finish_reason")
        if reason is not None:
            events.append(Finish(reason=finish_reason(reason), index=index))

    def _tool_call(self, call: Any, position: int, index: int, events: list[Event]) -> None:
        if not isinstance(call, dict):
            raise _not_an_answer(self._provider, "a tool call delta is not an object")
        key = (index, call.get("index", position))
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # some servers send whole argument objects
            arguments = orjson.dumps(arguments).decode()
        ordinal = self._calls.get(key)
        if ordinal is None:
            ordinal = self._calls[key] = sum(1 for k in self._calls if k[0] == index)
            events.append(ToolCallDelta(call_index=ordinal, id=call.get("id") or "",
                                        name=function.get("name") or "", arguments=arguments,
                                        index=index))
        elif arguments:
            events.append(ToolCallDelta(call_index=ordinal, arguments=arguments, index=index))

    def _finish(self) -> list[Event]:
        if not self._started:
            raise _not_an_answer(self._provider, "the stream ended before any answer")
        self._done = True
        if self._usage is None:
            return []
        usage, self._usage = self._usage, None
        return [usage]


# --------------------------------------------------------------------------- embeddings


def encode_embeddings_request(req: EmbeddingRequest, model: str) -> bytes:
    """The Embeddings body; inputs always go as an array (equivalent to a bare string)."""
    extra = req.extra.get("openai")
    body: dict[str, Any] = dict(extra) if extra else {}
    body["model"] = model
    body["input"] = req.inputs
    body["encoding_format"] = req.encoding_format
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    return orjson.dumps(body)


def decode_embeddings_response(body: bytes, *, provider: str = "openai") -> list[Event]:
    """An embeddings ``list`` -> EmbeddingsResult (vectors in input order) and Usage."""
    data = _load(body, provider)
    items = data.get("data")
    if not isinstance(items, list):
        raise _not_an_answer(provider, "no 'data' array in the answer")
    try:
        ordered = sorted(items, key=lambda item: item.get("index", 0))
        vectors = [item["embedding"] for item in ordered]
    except (AttributeError, KeyError, TypeError) as exc:
        raise bad_json(provider, exc) from None
    model = data.get("model")
    usage = data.get("usage")
    prompt = _int(usage.get("prompt_tokens")) if isinstance(usage, dict) else 0
    return [
        EmbeddingsResult(model=model if isinstance(model, str) else "", vectors=vectors),
        Usage(input_tokens=prompt),
    ]

