"""Decoding an Anthropic ``POST /v1/messages`` body into a :class:`ChatRequest`.

Decisions worth knowing:

- Validation mirrors Anthropic's: a bad field is a 400 whose ``param`` is the
  dotted path of the field (``messages.1.content.0.type``), the same path
  Anthropic puts at the front of its own messages.
- Fields without a canonical meaning (``thinking``, ``service_tier``,
  ``container`` ...) are kept verbatim in ``extra["anthropic"]`` so that an
  Anthropic upstream receives them unchanged; other upstreams ignore them.
  Server tools (a ``tools`` entry whose ``type`` is not ``custom``) go to
  ``extra["anthropic"]["tools"]``, and the Anthropic-only fields of custom
  tools (``cache_control``, ``strict``, ``defer_loading``, ``input_examples``
  ...) to ``extra["anthropic"][TOOL_EXTRA]`` as ``{tool name: {field: value}}``
  (an internal key the upstream encoder consumes, never sent as is).
- ``output_config.format`` (structured outputs, ``{"type": "json_schema",
  "schema": ...}``) also sets the canonical ``response_format`` so that the
  contracts stage and other upstreams see the schema; ``output_config`` itself
  stays in ``extra`` for an Anthropic upstream.
- ``thinking`` / ``redacted_thinking`` blocks in the assistant turns of the
  history have no canonical form and are dropped; so is ``cache_control`` on
  image and tool_use blocks (text blocks keep theirs, and a tool_result's moves
  to the last text of its content).
"""

from __future__ import annotations

from typing import Any, Literal, NoReturn

import orjson

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
from sluicegate.protocols.nesting import MAX_DEPTH, too_deep_field

__all__ = ["TOOL_EXTRA", "decode_messages_request"]

# extra["anthropic"] key holding {tool name: {field: value}}: the fields of
# custom tools that the canonical Tool has no place for.
TOOL_EXTRA = "_tool_extra"
_TOOL_FIELDS = frozenset({"name", "description", "input_schema", "type"})

# Request fields with a canonical home; every other field goes to extra["anthropic"].
_KNOWN_FIELDS = frozenset(
    {
        "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences",
        "temperature", "top_p", "top_k", "stream", "metadata", "prompt",
    }
)
# No model answers with anywhere near 2**31 tokens; the bound keeps a
# reservation (max_tokens times n) inside the 64-bit counters of admission.
_MAX_TOKENS = 2**31 - 1
_TOOL_CHOICE_MODES: dict[str, Literal["auto", "none", "required", "tool"]] = {
    "auto": "auto", "any": "required", "tool": "tool", "none": "none",
}


def decode_messages_request(body: bytes) -> ChatRequest:
    """Parse and validate a Messages request body; raise ``GatewayError`` (400) naming the field."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError.invalid(
            f"request body is not valid JSON: {exc}", code=ErrorCode.INVALID_JSON
        ) from None
    if not isinstance(data, dict):
        raise GatewayError.invalid("request body must be a JSON object")
    deep = too_deep_field(body, data)
    if deep is not None:
        _fail(deep, f"nested more than {MAX_DEPTH} levels deep")

    model = data.get("model")
    if not isinstance(model, str) or not model:
        _fail("model", "Field required" if model is None else "must be a non-empty string")
    max_tokens = data.get("max_tokens")
    if max_tokens is None:
        _fail("max_tokens", "Field required")
    if not _is_int(max_tokens) or not 1 <= max_tokens <= _MAX_TOKENS:
        _fail("max_tokens", f"must be an integer from 1 to {_MAX_TOKENS}")
    raw_messages = data.get("messages")
    if raw_messages is None:
        _fail("messages", "Field required")
    if not isinstance(raw_messages, list) or not (raw_messages or names_a_prompt(data)):
        _fail("messages", "must be a non-empty list of messages")

    extra: dict[str, Any] = {k: v for k, v in data.items() if k not in _KNOWN_FIELDS}

    messages: list[Message] = []
    system = data.get("system")
    if system is not None:
        _decode_system(system, messages)
    for i, raw in enumerate(raw_messages):
        _decode_message(raw, i, messages)

    tools: list[Tool] = []
    raw_tools = data.get("tools")
    if raw_tools is not None:
        tools = _decode_tools(raw_tools, extra)

    tool_choice = None
    raw_choice = data.get("tool_choice")
    if raw_choice is not None:
        tool_choice = _decode_tool_choice(raw_choice)

    stop: list[str] = []
    raw_stop = data.get("stop_sequences")
    if raw_stop is not None:
        if not isinstance(raw_stop, list):
            _fail("stop_sequences", "must be a list of strings")
        for k, seq in enumerate(raw_stop):
            if not isinstance(seq, str):
                _fail(f"stop_sequences.{k}", "must be a string")
        stop = raw_stop

    stream = data.get("stream", False)
    if stream is None:
        stream = False
    elif not isinstance(stream, bool):
        _fail("stream", "must be a boolean")

    response_format = None
    output_config = data.get("output_config")
    if output_config is not None:
        response_format = _response_format(output_config, "output_config")
    output_format = data.get("output_format")  # the structured-outputs beta's name for it
    if output_format is not None and response_format is None:
        response_format = _response_format({"format": output_format}, "output_format")

    user = None
    metadata = data.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            _fail("metadata", "must be an object")
        user = metadata.get("user_id")
        if user is not None and not isinstance(user, str):
            _fail("metadata.user_id", "must be a string")

    request = ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=True,  # an Anthropic stream always reports usage
        max_tokens=max_tokens,
        temperature=_number(data, "temperature", 0.0, 1.0),
        top_p=_number(data, "top_p", 0.0, 1.0),
        top_k=_top_k(data.get("top_k")),
        stop=stop,
        user=user,
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        extra={"anthropic": extra} if extra else {},
    )
    raw_prompt = data.get("prompt")
    if raw_prompt is not None:  # set only when sent: passing the default costs every request
        request.prompt = decode_prompt_ref(raw_prompt)
    return request


def _fail(param: str, problem: str) -> NoReturn:
    raise GatewayError.invalid(f"{param}: {problem}", param=param)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(data: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(name, "must be a number")
    if not low <= value <= high:
        _fail(name, f"must be between {low:g} and {high:g}")
    return float(value)


def _top_k(value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        _fail("top_k", "must be an integer >= 0")
    return int(value)


def _decode_system(system: Any, out: list[Message]) -> None:
    if isinstance(system, str):
        if system:
            out.append(Message(role="system", content=[TextPart(text=system)]))
        return
    if not isinstance(system, list):
        _fail("system", "must be a string or a list of text blocks")
    parts: list[ContentPart] = []
    for k, block in enumerate(system):
        if not isinstance(block, dict):
            _fail(f"system.{k}", "must be an object")
        if block.get("type") != "text":
            _fail(f"system.{k}.type", "system blocks must be of type 'text'")
        parts.append(_text_part(block, f"system.{k}"))
    if parts:
        out.append(Message(role="system", content=parts))


def _decode_message(raw: Any, i: int, out: list[Message]) -> None:
    if not isinstance(raw, dict):
        _fail(f"messages.{i}", "must be an object")
    role = raw.get("role")
    if role not in ("user", "assistant"):
        _fail(f"messages.{i}.role", "must be 'user' or 'assistant'")
    content = raw.get("content")
    if isinstance(content, str):
        out.append(Message(role=role, content=[TextPart(text=content)]))
        return
    if content is None:
        _fail(f"messages.{i}.content", "Field required")
    if not isinstance(content, list):
        _fail(f"messages.{i}.content", "must be a string or a list of content blocks")
    if role == "user":
        _decode_user_blocks(content, i, out)
    else:
        out.append(_decode_assistant_blocks(content, i))


def _block_type(block: Any, path: str) -> str:
    if not isinstance(block, dict):
        _fail(path, "must be an object")
    btype = block.get("type")
    if not isinstance(btype, str):
        _fail(f"{path}.type", "Field required")
    return btype


def _decode_user_blocks(content: list[Any], i: int, out: list[Message]) -> None:
    # Anthropic carries tool results inside a user turn; canonically each one is
    # its own "tool" message, so the turn splits into messages in block order.
    parts: list[ContentPart] = []
    emitted = False
    for j, block in enumerate(content):
        path = f"messages.{i}.content.{j}"
        btype = _block_type(block, path)
        if btype == "text":
            parts.append(_text_part(block, path))
        elif btype == "image":
            parts.append(_image_part(block, path))
        elif btype == "tool_result":
            if parts:
                out.append(Message(role="user", content=parts))
                parts = []
            out.append(_tool_result(block, path))
            emitted = True
        else:
            _fail(f"{path}.type", f"unsupported content block type {btype!r} in a user message")
    if parts or not emitted:
        out.append(Message(role="user", content=parts))


def _decode_assistant_blocks(content: list[Any], i: int) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(content):
        path = f"messages.{i}.content.{j}"
        btype = _block_type(block, path)
        if btype == "text":
            parts.append(_text_part(block, path))
        elif btype == "tool_use":
            calls.append(_tool_use(block, path))
        elif btype in ("thinking", "redacted_thinking"):
            continue  # no canonical form; see the module docstring
        else:
            _fail(f"{path}.type", f"unsupported content block type {btype!r} in an assistant turn")
    return Message(role="assistant", content=parts, tool_calls=calls)


def _cache_control(block: dict[str, Any], path: str) -> dict[str, Any] | None:
    value = block.get("cache_control")
    if value is not None and not isinstance(value, dict):
        _fail(f"{path}.cache_control", "must be an object")
    return value


def _text_part(block: dict[str, Any], path: str) -> TextPart:
    text = block.get("text")
    if not isinstance(text, str):
        _fail(f"{path}.text", "Field required" if text is None else "must be a string")
    return TextPart(text=text, cache_control=_cache_control(block, path))


def _image_part(block: dict[str, Any], path: str) -> ImagePart:
    source = block.get("source")
    if not isinstance(source, dict):
        _fail(f"{path}.source", "Field required" if source is None else "must be an object")
    stype = source.get("type")
    if stype == "base64":
        media_type = source.get("media_type")
        data = source.get("data")
        if not isinstance(media_type, str):
            _fail(f"{path}.source.media_type", "Field required")
        if not isinstance(data, str):
            _fail(f"{path}.source.data", "Field required")
        return ImagePart(media_type=media_type, data=data)
    if stype == "url":
        url = source.get("url")
        if not isinstance(url, str):
            _fail(f"{path}.source.url", "Field required")
        return ImagePart(url=url)
    _fail(f"{path}.source.type", "must be 'base64' or 'url'")


def _tool_use(block: dict[str, Any], path: str) -> ToolCall:
    call_id = block.get("id")
    name = block.get("name")
    tool_input = block.get("input")
    if not isinstance(call_id, str) or not call_id:
        _fail(f"{path}.id", "Field required")
    if not isinstance(name, str) or not name:
        _fail(f"{path}.name", "Field required")
    if not isinstance(tool_input, dict):
        _fail(f"{path}.input", "Field required" if tool_input is None else "must be an object")
    return ToolCall(id=call_id, name=name, arguments=orjson.dumps(tool_input).decode())


def _tool_result(block: dict[str, Any], path: str) -> Message:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        _fail(f"{path}.tool_use_id", "Field required")
    is_error = block.get("is_error", False)
    if is_error is None:
        is_error = False
    elif not isinstance(is_error, bool):
        _fail(f"{path}.is_error", "must be a boolean")
    content = block.get("content")
    parts: list[ContentPart] = []
    if isinstance(content, str):
        parts.append(TextPart(text=content))
    elif isinstance(content, list):
        for k, inner in enumerate(content):
            inner_path = f"{path}.content.{k}"
            itype = _block_type(inner, inner_path)
            if itype == "text":
                parts.append(_text_part(inner, inner_path))
            elif itype == "image":
                parts.append(_image_part(inner, inner_path))
            else:
                _fail(f"{inner_path}.type", f"unsupported tool_result content type {itype!r}")
    elif content is not None:
        _fail(f"{path}.content", "must be a string or a list of content blocks")
    cache_control = _cache_control(block, path)
    if cache_control is not None:
        # Keep the prompt-caching breakpoint: it moves to the result's last text.
        for n in range(len(parts) - 1, -1, -1):
            part = parts[n]
            if isinstance(part, TextPart):
                if part.cache_control is None:
                    parts[n] = TextPart(text=part.text, cache_control=cache_control)
                break
    return Message(role="tool", content=parts, tool_call_id=call_id, is_error=is_error)


def _decode_tools(raw_tools: Any, extra: dict[str, Any]) -> list[Tool]:
    if not isinstance(raw_tools, list):
        _fail("tools", "must be a list of tools")
    tools: list[Tool] = []
    server_tools: list[dict[str, Any]] = []
    tool_extra: dict[str, dict[str, Any]] = {}
    for k, raw in enumerate(raw_tools):
        path = f"tools.{k}"
        if not isinstance(raw, dict):
            _fail(path, "must be an object")
        ttype = raw.get("type")
        if ttype is not None and ttype != "custom":
            if not isinstance(ttype, str):
                _fail(f"{path}.type", "must be a string")
            server_tools.append(raw)  # web_search_..., bash_..., text_editor_...: Anthropic only
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            _fail(f"{path}.name", "Field required")
        schema = raw.get("input_schema")
        if not isinstance(schema, dict):
            problem = "Field required" if schema is None else "must be an object"
            _fail(f"{path}.input_schema", problem)
        description = raw.get("description")
        if description is not None and not isinstance(description, str):
            _fail(f"{path}.description", "must be a string")
        strict = raw.get("strict")
        if strict is not None and not isinstance(strict, bool):
            _fail(f"{path}.strict", "must be a boolean")
        _cache_control(raw, path)
        others = {k: v for k, v in raw.items() if k not in _TOOL_FIELDS}
        if others:
            tool_extra[name] = others
        tools.append(Tool(name=name, description=description, parameters=schema, strict=strict))
    if server_tools:
        extra["tools"] = server_tools
    if tool_extra:
        extra[TOOL_EXTRA] = tool_extra
    return tools


def _response_format(output_config: Any, field: str) -> dict[str, Any] | None:
    """``output_config`` as the canonical ``response_format``; ``field`` is the
    path of its ``format`` (``output_config.format``, or the beta's ``output_format``)."""
    if not isinstance(output_config, dict):
        _fail(field, "must be an object")
    fmt = output_config.get("format")
    if fmt is None:
        return None
    at = "output_format" if field == "output_format" else f"{field}.format"
    if not isinstance(fmt, dict):
        _fail(at, "must be an object")
    if fmt.get("type") != "json_schema":
        _fail(f"{at}.type", "must be 'json_schema'")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        _fail(f"{at}.schema", "Field required" if schema is None else "must be an object")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def _decode_tool_choice(raw: Any) -> ToolChoice:
    if not isinstance(raw, dict):
        _fail("tool_choice", "must be an object")
    kind = raw.get("type")
    # A str check first: a list or an object is unhashable as a table key.
    mode = _TOOL_CHOICE_MODES.get(kind) if isinstance(kind, str) else None
    if mode is None:
        _fail("tool_choice.type", "must be one of 'auto', 'any', 'tool', 'none'")
    name = raw.get("name")
    if mode == "tool" and (not isinstance(name, str) or not name):
        _fail("tool_choice.name", "Field required")
    disable = raw.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        _fail("tool_choice.disable_parallel_tool_use", "must be a boolean")
    return ToolChoice(
        mode=mode,
        name=name if mode == "tool" else None,
        parallel=None if disable is None else not disable,
    )
