"""Decoding an OpenAI ``POST /v1/chat/completions`` body into a :class:`ChatRequest`.

Requests are validated field by field with OpenAI's own error style (see
:mod:`.fields`). Fields without a canonical meaning are kept verbatim in
``request.extra["openai"]`` so an OpenAI-type upstream still receives them.
"""

from __future__ import annotations

from typing import Any

from sluicegate.canonical import (
    ChatRequest,
    ContentPart,
    ErrorCode,
    GatewayError,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from sluicegate.canonical.prompt_ref import decode_prompt_ref, names_a_prompt
from sluicegate.protocols.openai.fields import (
    as_array,
    as_object,
    bad_value,
    missing,
    model_of,
    one_of,
    opt_bool,
    opt_int,
    opt_number,
    opt_str,
    parse_json,
    req_str,
    wrong_type,
)

__all__ = ["decode_chat_request"]

# Top-level request fields with a canonical meaning; everything else is kept
# in extra["openai"]. max_completion_tokens is handled but also kept there (see
# _decode_max_tokens).
_HANDLED = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "temperature",
    "top_p", "stop", "n", "seed", "user", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "functions", "function_call", "prompt",
})

_TOOL_CHOICE_MODES = ("auto", "none", "required")
# No model answers with anywhere near 2**31 tokens; the bound keeps a
# reservation (max_tokens times n) inside the 64-bit counters of admission.
_MAX_TOKENS = 2**31 - 1
_IMAGE_DETAILS = ("auto", "low", "high")


def decode_chat_request(body: bytes) -> ChatRequest:
    """Parse and validate an OpenAI ``POST /v1/chat/completions`` body."""
    data = parse_json(body)
    model = model_of(data)

    raw_messages = data.get("messages")
    if raw_messages is None:
        raise missing("messages")
    as_array(raw_messages, "messages")
    if not raw_messages and not names_a_prompt(data):
        raise GatewayError.invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.", param="messages", code=ErrorCode.EMPTY_ARRAY)
    messages = [_decode_message(raw, i) for i, raw in enumerate(raw_messages)]

    stream = bool(opt_bool(data, "stream"))
    include_usage = False
    stream_options = data.get("stream_options")
    if stream_options is not None:
        as_object(stream_options, "stream_options")
        if not stream:
            raise GatewayError.invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options", code=ErrorCode.INVALID_VALUE)
        value = stream_options.get("include_usage")
        if value is not None and not isinstance(value, bool):
            raise wrong_type("stream_options.include_usage", value, "a boolean")
        include_usage = bool(value)

    extra = {key: value for key, value in data.items() if key not in _HANDLED}

    tools = _decode_tools(data.get("tools"))
    tool_choice = _decode_tool_choice(data.get("tool_choice"))
    if data.get("functions") is not None:  # legacy function calling, as tools
        tools += _decode_functions(data["functions"])
    if data.get("function_call") is not None and tool_choice is None:
        tool_choice = _decode_function_call(data["function_call"])
    parallel = opt_bool(data, "parallel_tool_calls")
    if parallel is not None:
        if tool_choice is None:
            tool_choice = ToolChoice(mode="auto")
        tool_choice.parallel = parallel

    response_format = data.get("response_format")
    if response_format is not None:
        _decode_response_format(response_format)

    request = ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        max_tokens=_decode_max_tokens(data),
        temperature=opt_number(data, "temperature", 0.0, 2.0),
        top_p=opt_number(data, "top_p", 0.0, 1.0),
        stop=_decode_stop(data.get("stop")),
        n=opt_int(data, "n", 1, 128) or 1,
        seed=opt_int(data, "seed"),
        user=opt_str(data, "user", "user"),
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        extra={"openai": extra} if extra else {},
    )
    raw_prompt = data.get("prompt")
    if raw_prompt is not None:  # set only when sent: passing the default costs every request
        request.prompt = decode_prompt_ref(raw_prompt)
    return request


def _decode_max_tokens(data: dict[str, Any]) -> int | None:
    """``max_completion_tokens`` wins over the deprecated ``max_tokens``.

    Which name the client used stays visible as ``extra["openai"]
    ["max_completion_tokens"]`` so an OpenAI upstream gets the same name back
    (reasoning models reject ``max_tokens``); its value there is ignored in
    favour of ``request.max_tokens``, which later stages may lower.
    """
    completion = opt_int(data, "max_completion_tokens", 1, _MAX_TOKENS)
    legacy = opt_int(data, "max_tokens", 1, _MAX_TOKENS)
    return completion if completion is not None else legacy


def _decode_stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise wrong_type(f"stop[{i}]", item, "a string")
        return value
    raise wrong_type("stop", value, "a string or an array of strings")


def _decode_response_format(value: Any) -> None:
    as_object(value, "response_format")
    kind = value.get("type")
    if kind is None:
        raise missing("response_format.type")
    if kind not in ("text", "json_object", "json_schema"):
        raise bad_value("response_format.type",
                         f"supported values are {one_of(('text', 'json_object', 'json_schema'))}.")
    if kind == "json_schema":
        schema = value.get("json_schema")
        if schema is None:
            raise missing("response_format.json_schema")
        as_object(schema, "response_format.json_schema")
        if not isinstance(schema.get("name"), str):
            raise missing("response_format.json_schema.name")


# --------------------------------------------------------------------------- messages


def _decode_message(raw: Any, i: int) -> Message:
    param = f"messages[{i}]"
    as_object(raw, param)
    role = raw.get("role")
    if role is None:
        raise missing(f"{param}.role")
    name = opt_str(raw, "name", f"{param}.name")
    if role == "user":
        return Message(role="user", content=_decode_content(raw, param, images=True), name=name)
    if role in ("system", "developer"):
        return Message(role="system", content=_decode_content(raw, param), name=name)
    if role == "assistant":
        return _decode_assistant(raw, param, name)
    if role == "tool":
        tool_call_id = req_str(raw, "tool_call_id", f"{param}.tool_call_id")
        return Message(role="tool", content=_decode_content(raw, param), tool_call_id=tool_call_id)
    if role == "function":
        # Legacy function results carry no call id; the function name joins
        # them to the (equally legacy) assistant function_call.
        fname = req_str(raw, "name", f"{param}.name")
        return Message(role="tool", content=_decode_content(raw, param, required=False),
                       tool_call_id=fname, name=fname)
    roles = ("system", "assistant", "user", "function", "tool", "developer")
    if not isinstance(role, str):
        raise wrong_type(f"{param}.role", role, "a string")
    raise bad_value(f"{param}.role", f"'{role}'. Supported values are: {one_of(roles)}.")


def _decode_assistant(raw: dict[str, Any], param: str, name: str | None) -> Message:
    content = _decode_content(raw, param, required=False, refusal=True)
    calls: list[ToolCall] = []
    raw_calls = raw.get("tool_calls")
    if raw_calls is not None:
        for j, call in enumerate(as_array(raw_calls, f"{param}.tool_calls")):
            calls.append(_decode_tool_call(call, f"{param}.tool_calls[{j}]"))
    function_call = raw.get("function_call")
    if function_call is not None and not calls:
        q = f"{param}.function_call"
        as_object(function_call, q)
        fname = req_str(function_call, "name", f"{q}.name")
        calls.append(ToolCall(id=fname, name=fname,
                              arguments=req_str(function_call, "arguments", f"{q}.arguments")))
    return Message(role="assistant", content=content, tool_calls=calls, name=name)


def _decode_tool_call(raw: Any, param: str) -> ToolCall:
    as_object(raw, param)
    call_id = req_str(raw, "id", f"{param}.id")
    function = _function_member(raw, param)
    as_object(function, f"{param}.function")
    return ToolCall(
        id=call_id,
        name=req_str(function, "name", f"{param}.function.name"),
        arguments=req_str(function, "arguments", f"{param}.function.arguments"),
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
            raise missing(param)
        return []
    if not isinstance(value, list):
        raise wrong_type(param, value, "a string or an array of objects")
    parts: list[ContentPart] = []
    for j, part in enumerate(value):
        q = f"{param}[{j}]"
        as_object(part, q)
        kind = part.get("type")
        if kind == "text":
            parts.append(TextPart(text=req_str(part, "text", f"{q}.text")))
        elif kind == "image_url" and images:
            parts.append(_decode_image(part.get("image_url"), f"{q}.image_url"))
        elif kind == "refusal" and refusal:
            parts.append(TextPart(text=req_str(part, "refusal", f"{q}.refusal")))
        elif kind is None:
            raise missing(f"{q}.type")
        else:
            allowed = ("text", "image_url") if images else ("text", "refusal") if refusal else (
                "text",)
            raise bad_value(f"{q}.type", f"'{kind}'. Supported values are: {one_of(allowed)}.")
    return parts


def _decode_image(value: Any, param: str) -> ImagePart:
    if value is None:
        raise missing(param)
    as_object(value, param)
    url = req_str(value, "url", f"{param}.url")
    detail = opt_str(value, "detail", f"{param}.detail")
    if detail is not None and detail not in _IMAGE_DETAILS:
        raise bad_value(f"{param}.detail",
                         f"'{detail}'. Supported values are: {one_of(_IMAGE_DETAILS)}.")
    # Data URLs stay URLs: lossless for an OpenAI upstream, and ImagePart.as_data
    # splits them for formats that want media type and base64 apart.
    return ImagePart(url=url, detail=detail)


# --------------------------------------------------------------------------- tools


def _decode_tools(value: Any) -> list[Tool]:
    if value is None:
        return []
    tools = []
    for i, raw in enumerate(as_array(value, "tools")):
        param = f"tools[{i}]"
        as_object(raw, param)
        tools.append(_decode_function(_function_member(raw, param), f"{param}.function"))
    return tools


def _function_member(raw: dict[str, Any], param: str) -> Any:
    """The ``function`` of a ``{"type": "function", "function": ...}`` entry: a tool,
    or an assistant's tool call (OpenAI wraps both the same way)."""
    kind = raw.get("type")
    if kind is None:
        raise missing(f"{param}.type")
    if kind != "function":
        raise bad_value(f"{param}.type", f"'{kind}'. Supported values are: 'function'.")
    function = raw.get("function")
    if function is None:
        raise missing(f"{param}.function")
    return function


def _decode_functions(value: Any) -> list[Tool]:
    return [_decode_function(raw, f"functions[{i}]")
            for i, raw in enumerate(as_array(value, "functions"))]


def _decode_function(raw: Any, param: str) -> Tool:
    as_object(raw, param)
    name = req_str(raw, "name", f"{param}.name")
    if not name:
        raise bad_value(f"{param}.name", "expected a non-empty string.")
    parameters = raw.get("parameters")
    if parameters is not None:
        as_object(parameters, f"{param}.parameters")
    strict = raw.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise wrong_type(f"{param}.strict", strict, "a boolean")
    return Tool(name=name, description=opt_str(raw, "description", f"{param}.description"),
                parameters=parameters or {}, strict=strict)


def _decode_tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value in _TOOL_CHOICE_MODES:
            return ToolChoice(mode=value)  # type: ignore[arg-type]
        raise bad_value("tool_choice",
                         f"'{value}'. Supported values are: {one_of(_TOOL_CHOICE_MODES)}.")
    if not isinstance(value, dict):
        raise wrong_type("tool_choice", value, "a string or an object")
    if value.get("type") != "function":
        raise bad_value("tool_choice.type", "only 'function' tool choices are supported.")
    function = value.get("function")
    if function is None:
        raise missing("tool_choice.function")
    as_object(function, "tool_choice.function")
    return ToolChoice(mode="tool", name=req_str(function, "name", "tool_choice.function.name"))


def _decode_function_call(value: Any) -> ToolChoice:
    if value in ("auto", "none"):
        return ToolChoice(mode=value)
    if isinstance(value, dict):
        return ToolChoice(mode="tool", name=req_str(value, "name", "function_call.name"))
    raise wrong_type("function_call", value, "'auto', 'none' or an object")
