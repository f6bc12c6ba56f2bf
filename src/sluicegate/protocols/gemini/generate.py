"""The Gemini API (generativelanguage ``v1beta``) as an upstream: pure translation, no I/O.

Gateway -> Gemini: :func:`encode_generate_request` and :func:`encode_embed_request`
build the JSON bodies of ``models/{m}:generateContent`` /
``:streamGenerateContent?alt=sse`` and ``:batchEmbedContents``.

Gemini -> gateway: :func:`decode_generate_response` (a whole
``GenerateContentResponse``), :class:`GenerateStreamDecoder` (the same object
arriving as SSE chunks) and :func:`decode_embed_response` turn answers into
canonical events. An ``{"error": ...}`` body becomes :class:`GeminiError`,
which the provider maps to the contract's statuses.

Decisions worth knowing:

- Gemini needs the function *name* on a tool result; it is looked up from the
  assistant tool call with the same ``tool_call_id`` earlier in the history.
- Gemini gives whole function calls, usually without ids: ids are made up as
  ``call_<responseId>_<n>`` so they are unique across turns (a conversation may
  later be served by a provider that insists on unique ids), and the arguments
  come complete in one ToolCallDelta.
- Gemini 3 rejects replayed function calls that lack the model's opaque
  ``thoughtSignature``. The canonical ToolCall cannot carry it across
  protocols, so replayed calls get Google's documented placeholder for history
  the model did not produce itself (:data:`FOREIGN_THOUGHT_SIGNATURE`).
- A prompt blocked outright (``promptFeedback.blockReason``, no candidates) is
  an answer, not a failure: it ends with ``Finish(content_filter)`` like a
  blocked candidate does, so clients see one moderation signal whatever the
  cause, and the resilience stage does not retry a prompt that will be blocked
  again everywhere.
"""

from __future__ import annotations

import mimetypes
import os
import re
import time
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
from sluicegate.canonical.embeddings import EmbeddingRequest
from sluicegate.canonical.errors import ErrorKind, GatewayError
from sluicegate.canonical.events import (
    EmbeddingsResult,
    Event,
    Finish,
    FinishReason,
    Start,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from sluicegate.canonical.tokens import estimate_text_tokens
from sluicegate.protocols.nesting import parsed_within_depth

__all__ = [
    "FOREIGN_THOUGHT_SIGNATURE",
    "GeminiError",
    "GenerateStreamDecoder",
    "decode_embed_response",
    "decode_generate_response",
    "encode_embed_request",
    "encode_generate_request",
    "error_from_body",
    "usage_of",
]

# Google's documented stand-in signature for function calls replayed from
# history the model did not sign (another provider, a hand-built transcript).
FOREIGN_THOUGHT_SIGNATURE = "skip_thought_signature_validator"

JSON = dict[str, Any]

# ---------------------------------------------------------------------------
# Gateway -> Gemini
# ---------------------------------------------------------------------------


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


# Keys of Gemini's ``Schema`` (an OpenAPI 3.0 subset). A JSON Schema using
# anything else ($ref, const, type lists ...) is sent as ``parametersJsonSchema``
# / ``responseJsonSchema`` instead, which take full JSON Schema but are newer;
# the subset keeps the common case on the oldest, most widely supported field.
_SCHEMA_KEYS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
})
_SCHEMA_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})
# What a schema that declares no parameters at all may contain.
_NO_PARAMETER_KEYS = frozenset(
    {"type", "properties", "required", "additionalProperties", "$schema", "title"}
)


def _openapi_subset(schema: Any) -> Any:
    """``schema`` as a Gemini ``Schema``, or None when it does not fit one.

    ``additionalProperties: false`` (which OpenAI strict mode and pydantic put
    on every object) is dropped rather than disqualifying: Gemini only ever
    produces the declared properties anyway.
    """
    if not isinstance(schema, dict):
        return None
    out: JSON = {}
    for key, value in schema.items():
        if key == "additionalProperties" and value is False:
            continue
        if key not in _SCHEMA_KEYS:
            return None
        if key == "type":
            if not (isinstance(value, str) and value.lower() in _SCHEMA_TYPES):
                return None
        elif key == "properties":
            if not isinstance(value, dict):
                return None
            properties = {name: _openapi_subset(sub) for name, sub in value.items()}
            if None in properties.values():
                return None
            value = properties
        elif key == "items":
            if (value := _openapi_subset(value)) is None:
                return None
        elif key == "anyOf":
            if not isinstance(value, list):
                return None
            value = [_openapi_subset(v) for v in value]
            if None in value:
                return None
        out[key] = value
    return out


def _schema(schema: JSON, subset_key: str, json_schema_key: str) -> JSON:
    subset = _openapi_subset(schema)
    return {json_schema_key: schema} if subset is None else {subset_key: subset}


def _declaration(tool: Tool) -> JSON:
    declaration: JSON = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    params = tool.parameters
    # Gemini rejects an OBJECT schema with no properties; a function without
    # parameters simply leaves them out.
    if params and (params.get("properties") or not params.keys() <= _NO_PARAMETER_KEYS):
        declaration.update(_schema(params, "parameters", "parametersJsonSchema"))
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
                config.update(_schema(schema, "responseSchema", "responseJsonSchema"))
    return config


def encode_embed_request(req: EmbeddingRequest, model: str) -> bytes:
    """The body of ``models/{model}:batchEmbedContents``: one request per input."""
    name = model if model.startswith("models/") else f"models/{model}"
    requests: list[JSON] = []
    for i, item in enumerate(req.inputs):
        if not isinstance(item, str):
            raise GatewayError.invalid(
                "Gemini embeds text only; send strings, not token arrays", param=f"input[{i}]"
            )
        entry: JSON = {"model": name, "content": {"parts": [{"text": item}]}}
        if req.dimensions is not None:
            entry["outputDimensionality"] = req.dimensions
        requests.append(entry)
    return orjson.dumps({"requests": requests})


# ---------------------------------------------------------------------------
# Gemini -> gateway
# ---------------------------------------------------------------------------


class GeminiError(Exception):
    """An ``{"error": {"code", "message", "status", "details"}}`` body from Gemini.

    ``status`` is the HTTP status the failure deserves (``RESOURCE_EXHAUSTED``
    is always 429, a rejected API key 401 although Gemini answers 400), and
    ``retry_after`` comes from a ``google.rpc.RetryInfo`` detail. The provider
    maps it to a GatewayError, so the contract's mapping lives in one place.
    """

    def __init__(self, status: int, message: str, *, reason: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.retry_after = retry_after


# Canonical gRPC status names -> HTTP, for errors that come without a code.
_HTTP_OF_STATUS = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
    "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500,
    "UNKNOWN": 500, "DATA_LOSS": 500, "UNIMPLEMENTED": 501, "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def error_from_body(body: bytes, status: int) -> GeminiError:
    """Read a non-2xx Gemini answer (any body, even not JSON)."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return GeminiError(status, body[:500].decode(errors="replace").strip())
    if isinstance(data, list) and data:
        data = data[0]  # an ``alt=json`` stream wraps its error in an array
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return GeminiError(status, body[:500].decode(errors="replace").strip())
    return _error(error, status)


def _error(error: JSON, http_status: int | None) -> GeminiError:
    reason = error.get("status")
    message = str(error.get("message") or reason or "")
    code = error.get("code")
    if http_status is not None:
        status = http_status
    elif isinstance(code, int) and code >= 400:  # inside a 200 stream: its own code
        status = code
    else:
        status = _HTTP_OF_STATUS.get(str(reason), 500)
    details = error.get("details")
    details = details if isinstance(details, list) else []
    if reason == "RESOURCE_EXHAUSTED":
        status = 429
    elif "API key not valid" in message or any(
        isinstance(d, dict) and d.get("reason") == "API_KEY_INVALID" for d in details
    ):
        status = 401  # Gemini says 400, but it is the gateway's key, not the client's request
    return GeminiError(status, message, reason=reason if isinstance(reason, str) else None,
                       retry_after=_retry_delay(details))


def _retry_delay(details: list[Any]) -> float | None:
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(0.0, float(delay[:-1]))
                except ValueError:
                    return None
    return None


_FILTERED = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
})
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class GenerateStreamDecoder:
    """Turns ``streamGenerateContent?alt=sse`` payloads into canonical events.

    Feed each SSE ``data`` string; call :meth:`finish` when the stream ends.
    Gemini repeats ``usageMetadata`` cumulatively on every chunk, so usage is
    held back and reported once, by :meth:`finish`, with the last values.
    A stream that ends before every candidate has a ``finishReason`` was cut
    off: :meth:`finish` raises rather than letting it end cleanly.
    """

    __slots__ = ("_calls", "_done", "_model", "_next_call", "_seen", "_stem", "_usage", "id")

    def __init__(self, *, model: str) -> None:
        self._model = model
        self.id: str | None = None  # the response id, once the first chunk is in
        self._stem = ""
        self._usage: JSON | None = None
        self._calls: dict[int, int] = {}  # candidate index -> tool calls so far
        self._next_call = 0  # across candidates, for unique ids
        self._seen: set[int] = set()
        self._done: set[int] = set()

    @property
    def finished(self) -> bool:
        """Every candidate seen so far has ended (or the prompt was blocked)."""
        return bool(self._done) and self._seen <= self._done

    def feed(self, data: str) -> list[Event]:
        """Events for one chunk. Raises GeminiError for an error chunk, ValueError for junk."""
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError(f"expected a GenerateContentResponse, got {type(chunk).__name__}")
        return self.feed_object(chunk)

    def feed_object(self, chunk: JSON) -> list[Event]:
        error = chunk.get("error")
        if isinstance(error, dict):
            raise _error(error, None)
        events: list[Event] = []
        if self.id is None:
            response_id = chunk.get("responseId") or "gemini-" + os.urandom(12).hex()
            self.id = response_id
            self._stem = _ID_UNSAFE.sub("", response_id)
            model = chunk.get("modelVersion") or self._model
            events.append(Start(id=response_id, model=model, created=int(time.time())))
        usage = chunk.get("usageMetadata")
        if usage:
            self._usage = usage
        candidates = chunk.get("candidates")
        if candidates:
            for position, candidate in enumerate(candidates):
                self._candidate(candidate, position, events)
        else:
            feedback = chunk.get("promptFeedback")
            if isinstance(feedback, dict) and feedback.get("blockReason") and 0 not in self._done:
                self._done.add(0)
                events.append(Finish(reason="content_filter"))
        return events

    def _candidate(self, candidate: JSON, position: int, events: list[Event]) -> None:
        index = candidate.get("index", position)
        self._seen.add(index)
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if parts:
            for part in parts:
                text = part.get("text")
                if text is not None:
                    # Thought summaries are not part of the answer.
                    if text and not part.get("thought"):
                        events.append(TextDelta(text=text, index=index))
                    continue
                call = part.get("functionCall")
                if call is not None:
                    n = self._calls.get(index, 0)
                    self._calls[index] = n + 1
                    call_id = call.get("id") or f"call_{self._stem}_{self._next_call}"
                    self._next_call += 1
                    events.append(ToolCallDelta(
                        call_index=n,
                        id=call_id,
                        name=call.get("name") or "",
                        arguments=orjson.dumps(call.get("args") or {}).decode(),
                        index=index,
                    ))
        reason = candidate.get("finishReason")
        if reason and index not in self._done:
            self._done.add(index)
            events.append(Finish(reason=self._reason(reason, index), index=index))

    def _reason(self, reason: str, index: int) -> FinishReason:
        if reason == "MAX_TOKENS":
            return "length"
        if reason in _FILTERED:
            return "content_filter"
        # STOP, and the rest (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL ...):
        # the turn is over; Gemini says STOP even when it called functions.
        return "tool_calls" if self._calls.get(index) else "stop"

    def end_open_candidates(self) -> list[Event]:
        """Finish candidates that came without a ``finishReason`` (a whole body is complete)."""
        events: list[Event] = []
        for index in sorted(self._seen - self._done):
            self._done.add(index)
            events.append(Finish(reason=self._reason("STOP", index), index=index))
        return events

    def finish(self) -> list[Event]:
        """The closing events (the Usage, if Gemini reported any).

        Raises GatewayError ``upstream_stream_cut`` when the stream ended before
        its terminal chunk.
        """
        if not self.finished:
            raise GatewayError(
                ErrorKind.UPSTREAM,
                "the Gemini stream ended before its finishReason",
                code="upstream_stream_cut",
                retryable=True,
            )
        return [] if self._usage is None else [usage_of(self._usage)]


def usage_of(meta: JSON) -> Usage:
    """Canonical usage from ``usageMetadata``.

    ``promptTokenCount`` already includes cached tokens; tokens of built-in tool
    results (``toolUsePromptTokenCount``) are billed as input; thinking tokens
    are billed as output but reported apart from ``candidatesTokenCount``.
    """
    thoughts = meta.get("thoughtsTokenCount") or 0
    tool_results = meta.get("toolUsePromptTokenCount") or 0
    return Usage(
        input_tokens=(meta.get("promptTokenCount") or 0) + tool_results,
        output_tokens=(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=meta.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def decode_generate_response(body: bytes, *, model: str) -> list[Event]:
    """Events of a whole ``generateContent`` answer.

    Raises GeminiError for an error body and ValueError for one that is not a
    usable answer (no candidates and no block reason).
    """
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a GenerateContentResponse, got {type(data).__name__}")
    decoder = GenerateStreamDecoder(model=model)
    events = decoder.feed_object(data)
    events.extend(decoder.end_open_candidates())
    if not decoder.finished:
        raise ValueError("the answer has no candidates and no promptFeedback.blockReason")
    events.extend(decoder.finish())
    return events


def decode_embed_response(body: bytes, *, model: str, inputs: list[str]) -> list[Event]:
    """An EmbeddingsResult and a Usage from a ``batchEmbedContents`` answer.

    Gemini reports no tokens for embeddings (newer models may send
    ``usageMetadata``, which is used when present), so usage is estimated
    locally and marked so.
    """
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a BatchEmbedContentsResponse, got {type(data).__name__}")
    if isinstance(data.get("error"), dict):
        raise _error(data["error"], None)
    embeddings = data.get("embeddings")
    if not isinstance(embeddings, list) or len(embeddings) != len(inputs):
        raise ValueError(f"expected {len(inputs)} embeddings in the answer")
    vectors = [(e.get("values") if isinstance(e, dict) else None) or [] for e in embeddings]
    meta = data.get("usageMetadata")
    prompt_tokens = meta.get("promptTokenCount") if isinstance(meta, dict) else None
    if isinstance(prompt_tokens, int):
        usage = Usage(input_tokens=prompt_tokens)
    else:
        tokens = sum(estimate_text_tokens(text) for text in inputs if isinstance(text, str))
        usage = Usage(input_tokens=tokens, estimated=True)
    return [EmbeddingsResult(model=model, vectors=vectors), usage]
