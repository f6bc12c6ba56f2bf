"""The OpenAI wire format as the gateway serves it: client requests in, answers out.

Requests are validated field by field with OpenAI's own error style (the
``param`` names the field, e.g. ``messages[1].content``) so a client sees the
same 400 it would get from OpenAI, before any tenant budget or upstream call is
spent on it. Fields without a canonical meaning are kept verbatim in
``request.extra["openai"]`` so an OpenAI-type upstream still receives them.

Plain dict handling on purpose: this runs on every request, and a schema
library would cost more than the checks themselves.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from sluicegate.canonical import (
    ChatRequest,
    ChatResponse,
    Choice,
    ContentPart,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorKind,
    Event,
    Finish,
    GatewayError,
    ImagePart,
    Message,
    Start,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)

# Not in sluicegate.canonical.__all__, so imported from its module.
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.nesting import MAX_DEPTH, too_deep_field

__all__ = [
    "ChatStreamEncoder",
    "decode_chat_request",
    "decode_embeddings_request",
    "encode_chat_response",
    "encode_embeddings_response",
    "encode_error",
    "encode_models",
    "usage_json",
]

# Top-level request fields with a canonical meaning; everything else is kept
# in extra["openai"]. max_completion_tokens is handled but also kept there (see
# _decode_max_tokens).
_HANDLED = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "temperature",
    "top_p", "stop", "n", "seed", "user", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "functions", "function_call",
})

_TOOL_CHOICE_MODES = ("auto", "none", "required")
# No model answers with anywhere near 2**31 tokens; the bound keeps a
# reservation (max_tokens times n) inside the 64-bit counters of admission.
_MAX_TOKENS = 2**31 - 1
_IMAGE_DETAILS = ("auto", "low", "high")


# --------------------------------------------------------------------------- errors


def _kind_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _missing(param: str) -> GatewayError:
    return GatewayError.invalid(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _wrong_type(param: str, value: Any, expected: str) -> GatewayError:
    return GatewayError.invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_kind_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _bad_value(param: str, message: str) -> GatewayError:
    return GatewayError.invalid(f"Invalid value for '{param}': {message}", param=param,
                                code="invalid_value")


def _one_of(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


# --------------------------------------------------------------------------- field readers


def _opt_str(data: dict[str, Any], key: str, param: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _wrong_type(param, value, "a string")


def _req_str(data: dict[str, Any], key: str, param: str) -> str:
    value = data.get(key)
    if value is None:
        raise _missing(param)
    if not isinstance(value, str):
        raise _wrong_type(param, value, "a string")
    return value


def _opt_bool(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _wrong_type(key, value, "a boolean")


def _opt_int(data: dict[str, Any], key: str, minimum: int | None = None,
             maximum: int | None = None) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(key, value, "an integer")
    if minimum is not None and value < minimum:
        raise GatewayError.invalid(
            f"Invalid '{key}': integer below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.", param=key, code="integer_below_min_value")
    if maximum is not None and value > maximum:
        raise GatewayError.invalid(
            f"Invalid '{key}': integer above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.", param=key, code="integer_above_max_value")
    return value


def _opt_number(data: dict[str, Any], key: str, minimum: float, maximum: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong_type(key, value, "a decimal")
    if value < minimum:
        raise GatewayError.invalid(
            f"Invalid '{key}': decimal below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.", param=key, code="decimal_below_min_value")
    if value > maximum:
        raise GatewayError.invalid(
            f"Invalid '{key}': decimal above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.", param=key, code="decimal_above_max_value")
    return float(value)


def _object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong_type(param, value, "an object")
    return value


def _array(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong_type(param, value, "an array")
    return value


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError.invalid(
            f"We could not parse the JSON body of your request ({exc}). The OpenAI API expects "
            "a JSON payload.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise GatewayError.invalid(
            f"The request body must be a JSON object, but got {_kind_name(data)} instead.",
            code="invalid_type")
    deep = too_deep_field(body, data)
    if deep is not None:
        raise _bad_value(deep, f"JSON nested more than {MAX_DEPTH} levels deep.")
    return data


# --------------------------------------------------------------------------- chat request


def _model(data: dict[str, Any]) -> str:
    model = _req_str(data, "model", "model")
    if not model:
        raise _bad_value("model", "expected a non-empty string.")
    return model


def decode_chat_request(body: bytes) -> ChatRequest:
    """Parse and validate an OpenAI ``POST /v1/chat/completions`` body."""
    data = _parse_json(body)
    model = _model(data)

    raw_messages = data.get("messages")
    if raw_messages is None:
        raise _missing("messages")
    _array(raw_messages, "messages")
    if not raw_messages:
        raise GatewayError.invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.", param="messages", code="empty_array")
    messages = [_decode_message(raw, i) for i, raw in enumerate(raw_messages)]

    stream = bool(_opt_bool(data, "stream"))
    include_usage = False
    stream_options = data.get("stream_options")
    if stream_options is not None:
        _object(stream_options, "stream_options")
        if not stream:
            raise GatewayError.invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options", code="invalid_value")
        value = stream_options.get("include_usage")
        if value is not None and not isinstance(value, bool):
            raise _wrong_type("stream_options.include_usage", value, "a boolean")
        include_usage = bool(value)

    extra = {key: value for key, value in data.items() if key not in _HANDLED}

    tools = _decode_tools(data.get("tools"))
    tool_choice = _decode_tool_choice(data.get("tool_choice"))
    if data.get("functions") is not None:  # legacy function calling, as tools
        tools += _decode_functions(data["functions"])
    if data.get("function_call") is not None and tool_choice is None:
        tool_choice = _decode_function_call(data["function_call"])
    parallel = _opt_bool(data, "parallel_tool_calls")
    if parallel is not None:
        if tool_choice is None:
            tool_choice = ToolChoice(mode="auto")
        tool_choice.parallel = parallel

    response_format = data.get("response_format")
    if response_format is not None:
        _decode_response_format(response_format)

    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        max_tokens=_decode_max_tokens(data),
        temperature=_opt_number(data, "temperature", 0.0, 2.0),
        top_p=_opt_number(data, "top_p", 0.0, 1.0),
        stop=_decode_stop(data.get("stop")),
        n=_opt_int(data, "n", 1, 128) or 1,
        seed=_opt_int(data, "seed"),
        user=_opt_str(data, "user", "user"),
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        extra={"openai": extra} if extra else {},
    )


def _decode_max_tokens(data: dict[str, Any]) -> int | None:
    """``max_completion_tokens`` wins over the deprecated ``max_tokens``.

    Which name the client used stays visible as ``extra["openai"]
    ["max_completion_tokens"]`` so an OpenAI upstream gets the same name back
    (reasoning models reject ``max_tokens``); its value there is ignored in
    favour of ``request.max_tokens``, which later stages may lower.
    """
    completion = _opt_int(data, "max_completion_tokens", 1, _MAX_TOKENS)
    legacy = _opt_int(data, "max_tokens", 1, _MAX_TOKENS)
    return completion if completion is not None else legacy


def _decode_stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _wrong_type(f"stop[{i}]", item, "a string")
        return value
    raise _wrong_type("stop", value, "a string or an array of strings")


def _decode_response_format(value: Any) -> None:
    _object(value, "response_format")
    kind = value.get("type")
    if kind is None:
        raise _missing("response_format.type")
    if kind not in ("text", "json_object", "json_schema"):
        raise _bad_value("response_format.type",
                         f"supported values are {_one_of(('text', 'json_object', 'json_schema'))}.")
    if kind == "json_schema":
        schema = value.get("json_schema")
        if schema is None:
            raise _missing("response_format.json_schema")
        _object(schema, "response_format.json_schema")
        if not isinstance(schema.get("name"), str):
            raise _missing("response_format.json_schema.name")


# --------------------------------------------------------------------------- messages


def _decode_message(raw: Any, i: int) -> Message:
    param = f"messages[{i}]"
    _object(raw, param)
    role = raw.get("role")
    if role is None:
        raise _missing(f"{param}.role")
    name = _opt_str(raw, "name", f"{param}.name")
    if role == "user":
        return Message(role="user", content=_decode_content(raw, param, images=True), name=name)
    if role in ("system", "developer"):
        return Message(role="system", content=_decode_content(raw, param), name=name)
    if role == "assistant":
        return _decode_assistant(raw, param, name)
    if role == "tool":
        tool_call_id = _req_str(raw, "tool_call_id", f"{param}.tool_call_id")
        return Message(role="tool", content=_decode_content(raw, param), tool_call_id=tool_call_id)
    if role == "function":
        # Legacy function results carry no call id; the function name joins
        # them to the (equally legacy) assistant function_call.
        fname = _req_str(raw, "name", f"{param}.name")
        return Message(role="tool", content=_decode_content(raw, param, required=False),
                       tool_call_id=fname, name=fname)
    roles = ("system", "assistant", "user", "function", "tool", "developer")
    if not isinstance(role, str):
        raise _wrong_type(f"{param}.role", role, "a string")
    raise _bad_value(f"{param}.role", f"'{role}'. Supported values are: {_one_of(roles)}.")


def _decode_assistant(raw: dict[str, Any], param: str, name: str | None) -> Message:
    content = _decode_content(raw, param, required=False, refusal=True)
    calls: list[ToolCall] = []
    raw_calls = raw.get("tool_calls")
    if raw_calls is not None:
        for j, call in enumerate(_array(raw_calls, f"{param}.tool_calls")):
            calls.append(_decode_tool_call(call, f"{param}.tool_calls[{j}]"))
    function_call = raw.get("function_call")
    if function_call is not None and not calls:
        q = f"{param}.function_call"
        _object(function_call, q)
        fname = _req_str(function_call, "name", f"{q}.name")
        calls.append(ToolCall(id=fname, name=fname,
                              arguments=_req_str(function_call, "arguments", f"{q}.arguments")))
    return Message(role="assistant", content=content, tool_calls=calls, name=name)


def _decode_tool_call(raw: Any, param: str) -> ToolCall:
    _object(raw, param)
    call_id = _req_str(raw, "id", f"{param}.id")
    kind = raw.get("type")
    if kind is None:
        raise _missing(f"{param}.type")
    if kind != "function":
        raise _bad_value(f"{param}.type", f"'{kind}'. Supported values are: 'function'.")
    function = raw.get("function")
    if function is None:
        raise _missing(f"{param}.function")
    _object(function, f"{param}.function")
    return ToolCall(
        id=call_id,
        name=_req_str(function, "name", f"{param}.function.name"),
        arguments=_req_str(function, "arguments", f"{param}.function.arguments"),
    )


def _decode_content(raw: dict[str, Any], param: str, *, images: bool = False,
                    required: bool = True, refusal: bool = False) -> list[ContentPart]:
    """A message's ``content``: a string or an array of typed parts.

    Empty strings become no parts at all: they carry nothing, and some
    upstreams (Anthropic) reject empty text blocks.
    """
    param = f"{param}.content"
    value = raw.get("content")
    if isinstance(value, str):
        return [TextPart(text=value)] if value else []
    if value is None:
        if required:
            raise _missing(param)
        return []
    if not isinstance(value, list):
        raise _wrong_type(param, value, "a string or an array of objects")
    parts: list[ContentPart] = []
    for j, part in enumerate(value):
        q = f"{param}[{j}]"
        _object(part, q)
        kind = part.get("type")
        if kind == "text":
            parts.append(TextPart(text=_req_str(part, "text", f"{q}.text")))
        elif kind == "image_url" and images:
            parts.append(_decode_image(part.get("image_url"), f"{q}.image_url"))
        elif kind == "refusal" and refusal:
            parts.append(TextPart(text=_req_str(part, "refusal", f"{q}.refusal")))
        elif kind is None:
            raise _missing(f"{q}.type")
        else:
            allowed = ("text", "image_url") if images else ("text", "refusal") if refusal else (
                "text",)
            raise _bad_value(f"{q}.type", f"'{kind}'. Supported values are: {_one_of(allowed)}.")
    return parts


def _decode_image(value: Any, param: str) -> ImagePart:
    if value is None:
        raise _missing(param)
    _object(value, param)
    url = _req_str(value, "url", f"{param}.url")
    detail = _opt_str(value, "detail", f"{param}.detail")
    if detail is not None and detail not in _IMAGE_DETAILS:
        raise _bad_value(f"{param}.detail",
                         f"'{detail}'. Supported values are: {_one_of(_IMAGE_DETAILS)}.")
    # Data URLs stay URLs: lossless for an OpenAI upstream, and ImagePart.as_data
    # splits them for formats that want media type and base64 apart.
    return ImagePart(url=url, detail=detail)


# --------------------------------------------------------------------------- tools


def _decode_tools(value: Any) -> list[Tool]:
    if value is None:
        return []
    tools = []
    for i, raw in enumerate(_array(value, "tools")):
        param = f"tools[{i}]"
        _object(raw, param)
        kind = raw.get("type")
        if kind is None:
            raise _missing(f"{param}.type")
        if kind != "function":
            raise _bad_value(f"{param}.type", f"'{kind}'. Supported values are: 'function'.")
        function = raw.get("function")
        if function is None:
            raise _missing(f"{param}.function")
        tools.append(_decode_function(function, f"{param}.function"))
    return tools


def _decode_functions(value: Any) -> list[Tool]:
    return [_decode_function(raw, f"functions[{i}]")
            for i, raw in enumerate(_array(value, "functions"))]


def _decode_function(raw: Any, param: str) -> Tool:
    _object(raw, param)
    name = _req_str(raw, "name", f"{param}.name")
    if not name:
        raise _bad_value(f"{param}.name", "expected a non-empty string.")
    parameters = raw.get("parameters")
    if parameters is not None:
        _object(parameters, f"{param}.parameters")
    strict = raw.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise _wrong_type(f"{param}.strict", strict, "a boolean")
    return Tool(name=name, description=_opt_str(raw, "description", f"{param}.description"),
                parameters=parameters or {}, strict=strict)


def _decode_tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value in _TOOL_CHOICE_MODES:
            return ToolChoice(mode=value)  # type: ignore[arg-type]
        raise _bad_value("tool_choice",
                         f"'{value}'. Supported values are: {_one_of(_TOOL_CHOICE_MODES)}.")
    if not isinstance(value, dict):
        raise _wrong_type("tool_choice", value, "a string or an object")
    if value.get("type") != "function":
        raise _bad_value("tool_choice.type", "only 'function' tool choices are supported.")
    function = value.get("function")
    if function is None:
        raise _missing("tool_choice.function")
    _object(function, "tool_choice.function")
    return ToolChoice(mode="tool", name=_req_str(function, "name", "tool_choice.function.name"))


def _decode_function_call(value: Any) -> ToolChoice:
    if value in ("auto", "none"):
        return ToolChoice(mode=value)
    if isinstance(value, dict):
        return ToolChoice(mode="tool", name=_req_str(value, "name", "function_call.name"))
    raise _wrong_type("function_call", value, "'auto', 'none' or an object")


# --------------------------------------------------------------------------- chat response


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI's ``usage`` object; ``prompt_tokens`` includes cached tokens, as OpenAI's does."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _tool_calls_json(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls
    ]


def _choice_json(choice: Choice) -> dict[str, Any]:
    message = choice.message
    text = message.text()
    body: dict[str, Any] = {
        "role": "assistant",
        # OpenAI sends null, not "", when the answer is only tool calls.
        "content": text if text or not message.tool_calls else None,
        "refusal": None,
    }
    if message.tool_calls:
        body["tool_calls"] = _tool_calls_json(message.tool_calls)
    return {
        "index": choice.index,
        "message": body,
        "logprobs": None,
        "finish_reason": choice.finish_reason or "stop",
    }


def encode_chat_response(resp: ChatResponse, *, model: str | None = None) -> bytes:
    """A ``chat.completion`` object; ``model`` overrides the one the upstream reported."""
    body: dict[str, Any] = {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created,
        "model": model or resp.model,
        "choices": [_choice_json(c) for c in resp.choices],
    }
    if resp.usage is not None:
        body["usage"] = usage_json(resp.usage)
    return orjson.dumps(body)


# --------------------------------------------------------------------------- chat stream

_DONE = b"data: [DONE]\n\n"
_NULL_TAIL = b',"logprobs":null,"finish_reason":null}'


class ChatStreamEncoder:
    """Canonical events -> ``chat.completion.chunk`` SSE frames, one call per event.

    Every chunk shares the same ``id``/``object``/``created``/``model`` head, so
    it is encoded once (and again only if a Start event changes it); a text
    delta costs one small ``orjson.dumps`` of the text and a few concatenations.
    """

    __slots__ = ("_created", "_head", "_id", "_include_usage", "_model", "_roled", "_tail",
                 "_usage")

    def __init__(self, *, id: str, model: str, created: int, include_usage: bool) -> None:
        self._include_usage = include_usage
        # With include_usage OpenAI sends "usage": null on every chunk but the last.
        self._tail = b'],"usage":null}\n\n' if include_usage else b"]}\n\n"
        self._id, self._model, self._created = id, model, created
        self._head = b""
        self._set_head()
        self._roled: set[int] = set()  # choices whose first delta (with the role) went out
        self._usage: Usage | None = None

    def _set_head(self) -> None:
        self._head = b"".join((
            b'data: {"id":', orjson.dumps(self._id),
            b',"object":"chat.completion.chunk","created":', str(self._created).encode(),
            b',"model":', orjson.dumps(self._model), b',"choices":[',
        ))

    def _delta_open(self, index: int) -> bytes:
        """The start of a choice up to and including ``"delta":{``, role on the first."""
        if index in self._roled:
            return b'{"index":%d,"delta":{' % index
        self._roled.add(index)
        return b'{"index":%d,"delta":{"role":"assistant",' % index

    def encode(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):  # by far the most frequent: checked first
            if not event.text:
                return b""
            return b"".join((self._head, self._delta_open(event.index), b'"content":',
                             orjson.dumps(event.text), b"}", _NULL_TAIL, self._tail))
        if isinstance(event, ToolCallDelta):
            return self._tool_call(event)
        if isinstance(event, Finish):
            index = event.index
            if index in self._roled:
                delta = b'{"index":%d,"delta":{}' % index
            else:  # an empty answer: the role still has to arrive once
                self._roled.add(index)
                delta = b'{"index":%d,"delta":{"role":"assistant","content":""}' % index
            return b"".join((self._head, delta, b',"logprobs":null,"finish_reason":',
                             orjson.dumps(event.reason), b"}", self._tail))
        if isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, Start):
            # The upstream's own id/model/created win where it gave them.
            self._id = event.id or self._id
            self._model = event.model or self._model
            self._created = event.created or self._created
            self._set_head()
        return b""

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        call: dict[str, Any]
        if event.id is not None or event.name is not None:
            call = {"index": event.call_index, "id": event.id or "", "type": "function",
                    "function": {"name": event.name or "", "arguments": event.arguments}}
        else:
            call = {"index": event.call_index, "function": {"arguments": event.arguments}}
        opening = self._delta_open(event.index)
        if opening.endswith(b'"assistant",'):
            opening += b'"content":null,'
        return b"".join((self._head, opening, b'"tool_calls":[', orjson.dumps(call), b"]}",
                         _NULL_TAIL, self._tail))

    def end(self) -> bytes:
        """The final usage chunk (when asked for and known), then ``[DONE]``."""
        if self._include_usage and self._usage is not None:
            return b"".join((self._head, b'],"usage":', orjson.dumps(usage_json(self._usage)),
                             b"}\n\n", _DONE))
        return _DONE

    def error(self, err: GatewayError) -> bytes:
        """An error after the stream started: an ``{"error": ...}`` chunk and no ``[DONE]``.

        The official SDKs raise ``APIError`` when a chunk carries an ``error``
        key, so the client sees a failure, never a clean but truncated answer.
        """
        return b"data: " + encode_error(err) + b"\n\n"


# --------------------------------------------------------------------------- errors

_ERROR_TYPES = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.REQUEST_TIMEOUT: "invalid_request_error",
    ErrorKind.CONFLICT: "conflict_error",
    ErrorKind.TOO_LARGE: "invalid_request_error",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.INTERNAL: "api_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.UNAVAILABLE: "service_unavailable_error",
    ErrorKind.TIMEOUT: "timeout_error",
}


def encode_error(err: GatewayError) -> bytes:
    """OpenAI's error body: ``{"error": {"message", "type", "code", "param"}}``."""
    return orjson.dumps({
        "error": {
            "message": err.message,
            "type": _ERROR_TYPES.get(err.kind, "api_error"),
            "code": err.code,
            "param": err.param,
        }
    })


# --------------------------------------------------------------------------- models


def encode_models(names: list[str], *, created: int, owned_by: str = "sluicegate") -> bytes:
    """``GET /v1/models``: the aliases a key may use, as OpenAI model objects."""
    return orjson.dumps({
        "object": "list",
        "data": [{"id": n, "object": "model", "created": created, "owned_by": owned_by}
                 for n in names],
    })


# --------------------------------------------------------------------------- embeddings

_EMBEDDING_HANDLED = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


def _decode_input(value: Any) -> list[Any]:
    """``input`` as a list of items, each a string or a token array."""
    if value is None:
        raise _missing("input")
    if isinstance(value, str):
        if not value:
            raise _bad_value("input", "expected a non-empty string.")
        return [value]
    if not isinstance(value, list):
        raise _wrong_type("input", value, "a string or an array")
    if not value:
        raise GatewayError.invalid(
            "Invalid 'input': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.", param="input", code="empty_array")
    first = value[0]
    if isinstance(first, int) and not isinstance(first, bool):
        for i, token in enumerate(value):  # one pre-tokenized input
            if isinstance(token, bool) or not isinstance(token, int):
                raise _wrong_type(f"input[{i}]", token, "an integer")
        return [value]
    for i, item in enumerate(value):
        if isinstance(item, str):
            if not item:
                raise _bad_value(f"input[{i}]", "expected a non-empty string.")
        elif isinstance(item, list):
            if not item:
                raise _bad_value(f"input[{i}]", "expected a non-empty array of tokens.")
            for j, token in enumerate(item):
                if isinstance(token, bool) or not isinstance(token, int):
                    raise _wrong_type(f"input[{i}][{j}]", token, "an integer")
        else:
            raise _wrong_type(f"input[{i}]", item, "a string or an array of integers")
    return value


def decode_embeddings_request(body: bytes) -> EmbeddingRequest:
    """Parse and validate an OpenAI ``POST /v1/embeddings`` body."""
    data = _parse_json(body)
    model = _model(data)
    inputs = _decode_input(data.get("input"))
    encoding_format: Literal["float", "base64"] = "float"
    raw_format = data.get("encoding_format")
    if raw_format == "base64":
        encoding_format = "base64"
    elif raw_format not in (None, "float"):
        raise _bad_value("encoding_format",
                         f"'{raw_format}'. Supported values are: 'float' and 'base64'.")
    extra = {k: v for k, v in data.items() if k not in _EMBEDDING_HANDLED}
    return EmbeddingRequest(
        model=model,
        inputs=inputs,
        encoding_format=encoding_format,
        dimensions=_opt_int(data, "dimensions", 1),
        user=_opt_str(data, "user", "user"),
        extra={"openai": extra} if extra else {},
    )


def encode_embeddings_response(resp: EmbeddingResponse) -> bytes:
    """The ``list`` of ``embedding`` objects (float arrays or base64 strings, as asked)."""
    return orjson.dumps({
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v}
                 for i, v in enumerate(resp.vectors)],
        "model": resp.model,
        "usage": {"prompt_tokens": resp.usage.input_tokens,
                  "total_tokens": resp.usage.input_tokens},
    })

