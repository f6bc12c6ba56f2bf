"""Encoding a :class:`ChatRequest` as the body of a Gemini ``generateContent`` call.

The same body serves ``models/{m}:generateContent`` and
``:streamGenerateContent?alt=sse``; the model goes in the URL.

Decisions worth knowing:

- Gemini needs the function *name* on a tool result; it is looked up from the
  assistant tool call with the same ``tool_call_id`` earlier in the history.
- Gemini 3 rejects replayed function calls that lack the model's opaque
  ``thoughtSignature``. The canonical ToolCall cannot carry it across
  protocols, so replayed calls get Google's documented placeholder for history
  the model did not produce itself (:data:`FOREIGN_THOUGHT_SIGNATURE`).
"""

from __future__ import annotations

import mimetypes
from typing import Any

import orjson

from sluicegate.canonical.chat import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolChoice,
)
from sluicegate.canonical.errors import GatewayError
from sluicegate.protocols.gemini.schema import schema_field
from sluicegate.protocols.nesting import parsed_within_depth

__all__ = ["FOREIGN_THOUGHT_SIGNATURE", "encode_generate_request"]

# Google's documented stand-in signature for function calls replayed from
# history the model did not sign (another provider, a hand-built transcript).
FOREIGN_THOUGHT_SIGNATURE = "skip_thought_signature_validator"

JSON = dict[str, Any]


def encode_generate_request(req: ChatRequest) -> bytes:
    """The body of a ``generateContent`` / ``streamGenerateContent`` call.

    The model goes in the URL, not the body. Fields under ``req.extra["gemini"]``
    (``safetySettings``, ``generationConfig.thinkingConfig`` ...) are merged in
    last, so an operator can reach Gemini-only features.
    """
    body: JSON = {"contents": _contents(req.messages)}
    system = [{"text": text} for m in req.messages if m.role == "system" and (text := m.text())]
    if system:
        body["systemInstruction"] = {"parts": system}
    if req.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in req.tools]}]
        if req.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _calling_config(req.tool_choice)}
    generation = _generation_config(req)
    if generation:
        body["generationConfig"] = generation
    extra = req.extra.get("gemini")
    if extra:
        for key, value in extra.items():
            current = body.get(key)
            if isinstance(current, dict) and isinstance(value, dict):
                body[key] = {**current, **value}
            else:
                body[key] = value
    return orjson.dumps(body)


def _contents(messages: list[Message]) -> list[JSON]:
    """Gemini turns: roles ``user``/``model``, consecutive same-role turns merged.

    Merging is required, not cosmetic: Gemini wants all the function responses
    answering one model turn in a single user turn, and rejects empty turns.
    """
    contents: list[JSON] = []
    call_names: dict[str, str] = {}  # tool_call_id -> function name, latest wins
    for position, message in enumerate(messages):
        role = message.role
        if role == "system":
            continue
        if role == "assistant":
            turn_role = "model"
            parts = _parts(message.content)
            for n, call in enumerate(message.tool_calls):
                call_names[call.id] = call.name
                args = _arguments(call.arguments)
                part: JSON = {"functionCall": {"name": call.name, "args": args}}
                if n == 0:  # Gemini signs the first call of a step only
                    part["thoughtSignature"] = FOREIGN_THOUGHT_SIGNATURE
                parts.append(part)
        elif role == "tool":
            turn_role = "user"
            parts = [_function_response(message, call_names, position)]
            # Images a tool returned travel as ordinary parts beside the response.
            parts.extend(p for p in _parts(message.content) if "text" not in p)
        else:
            turn_role = "user"
            parts = _parts(message.content)
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn_role, "parts": parts})
    return contents


def _parts(content: list[ContentPart]) -> list[JSON]:
    parts: list[JSON] = []
    for item in content:
        if isinstance(item, TextPart):
            if item.text:  # Gemini rejects empty text parts
                parts.append({"text": item.text})
        elif isinstance(item, ImagePart):
            parts.append(_image(item))
    return parts


def _image(image: ImagePart) -> JSON:
    inline = image.as_data()
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    url = image.url or ""
    file_data: JSON = {}
    mime = image.media_type or mimetypes.guess_type(url.split("?", 1)[0].split("#", 1)[0])[0]
    if mime:
        file_data["mimeType"] = mime
    file_data["fileUri"] = url
    return {"fileData": file_data}


def _arguments(text: str) -> JSON:
    """Tool-call arguments as the JSON object Gemini wants.

    History from another provider can hold arguments that are not an object
    (a model cut off mid-call), or that nest past what an encoder can write;
    they are wrapped rather than refused, so the conversation can still
    continue on Gemini.
    """
    if not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"arguments": text}
    if not parsed_within_depth(value, text):
        return {"arguments": text}
    return value if isinstance(value, dict) else {"value": value}


def _function_response(message: Message, call_names: dict[str, str], position: int) -> JSON:
    call_id = message.tool_call_id
    name = (call_names.get(call_id) if call_id else None) or message.name
    if not name:
        raise GatewayError.invalid(
            f"messages[{position}] answers tool call {call_id!r}, which no earlier assistant "
            "message made; Gemini needs the name of the function it answers",
            param=f"messages[{position}].tool_call_id",
        )
    response = _response_object(message.text(), message.is_error)
    return {"functionResponse": {"name": name, "response": response}}


def _response_object(text: str, is_error: bool) -> JSON:
    """Gemini's documented convention: ``{"output": ...}`` or ``{"error": ...}``.

    A result that already is a JSON object is passed as-is (Gemini treats the
    whole object as the output); anything else is wrapped.
    """
    value: Any = text
    if text[:1] in ("{", "["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = text
        if not parsed_within_depth(value, text):
            value = text
    if is_error:
        return {"error": value}
    if isinstance(value, dict):
        return value
    return {"output": value}


# What a schema that declares no parameters at all may contain.
_NO_PARAMETER_KEYS = frozenset(
    {"type", "properties", "required", "additionalProperties", "$schema", "title"}
)


def _declaration(tool: Tool) -> JSON:
    declaration: JSON = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    params = tool.parameters
    # Gemini rejects an OBJECT schema with no properties; a function without
    # parameters simply leaves them out.
    if params and (params.get("properties") or not params.keys() <= _NO_PARAMETER_KEYS):
        declaration.update(schema_field(params, "parameters", "parametersJsonSchema"))
    return declaration


_CALLING_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}


def _calling_config(choice: ToolChoice) -> JSON:
    config: JSON = {"mode": _CALLING_MODES[choice.mode]}
    if choice.mode == "tool" and choice.name:
        config["allowedFunctionNames"] = [choice.name]
    return config


def _generation_config(req: ChatRequest) -> JSON:
    config: JSON = {}
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.top_k is not None:
        config["topK"] = req.top_k
    if req.max_tokens is not None:
        config["maxOutputTokens"] = req.max_tokens
    if req.stop:
        config["stopSequences"] = req.stop
    if req.n != 1:
        config["candidateCount"] = req.n
    if req.seed is not None:
        config["seed"] = req.seed
    response_format = req.response_format
    if response_format:
        kind = response_format.get("type")
        if kind in ("json_object", "json_schema"):
            config["responseMimeType"] = "application/json"
        if kind == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")
            if isinstance(schema, dict) and schema:
                config.update(schema_field(schema, "responseSchema", "responseJsonSchema"))
    return config
