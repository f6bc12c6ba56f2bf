"""A fake OpenAI (and Azure OpenAI) API: an in-process aiohttp server that speaks the real protocol.

    async with OpenAIUpstream() as fake:
        fake.reply_with(text="Hi!")                   # every following call
        fake.fail(500, times=1)                       # ... except the next one
        provider_config.base_url = fake.url           # http://127.0.0.1:PORT/v1
        openai.AsyncOpenAI(base_url=fake.url, api_key="x")   # the SDK takes /v1 too
        ...
        fake.requests[-1].json["messages"]            # what the gateway sent

It answers ``POST /v1/chat/completions`` like OpenAI does: a ``chat.completion``
object, or with ``"stream": true`` ``chat.completion.chunk`` frames
(``data: JSON\\n\\n``, ``text/event-stream``): a first chunk with the role, content
and tool-call deltas (id, type and name on a call's first delta only), a chunk
with ``finish_reason``, with ``stream_options.include_usage`` a final
``"choices": []`` chunk carrying usage (and ``"usage": null`` on all others),
then ``data: [DONE]``. ``POST /v1/embeddings`` answers a ``list`` of embeddings
(float arrays, or base64 float32 for ``encoding_format: base64``).

The Azure paths ``POST /openai/deployments/{deployment}/chat/completions`` and
``.../embeddings`` answer the same way; they require the ``api-version`` query
parameter (404 without, as Azure does) and take the key from ``api-key``, as
do the paths of Azure's v1 API (``/openai/v1/chat/completions``, ...).
A missing key gets OpenAI's real 401 body; with ``OpenAIUpstream(api_key=...)``
a wrong key does too.

Scripting: ``reply_with`` / ``reply_with_tool_calls`` / ``fail`` / ``reply_raw``
set the answer for every following request, or, with ``times=n``, queue it for
the next ``n`` requests only (queued answers go first, in order). Faults that
shape a stream (``cut_stream_after``, ``error_in_stream_after``,
``hold_stream_after``, ``delay_first_byte``, ``pace_stream``) stay on until
``reset()``. All of this but the answers themselves comes from
``fakes.base.FakeUpstream``, shared with ``fakes.anthropic_upstream``.

The module constants are documented example payloads (the OpenAI API
reference's examples, and streams recorded from the live API by the official
openai-python SDK's test suite), for table-driven tests.
"""

from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FakeUpstream, Raw, sse_frame
from fakes.base import RecordedRequest as RecordedRequest  # what ``requests`` holds

# --------------------------------------------------------------------------- documented payloads

# API reference, "Create chat completion", example "Default": the request...
CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
    ],
}
# ... and its response (the docs' copy has a stray trailing comma after
# "content", which is not JSON; otherwise byte for byte in content).
CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1677652288,
    "model": "gpt-4o-mini",
    "system_fingerprint": "fp_44709d6fcb",
    "choices": [{
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "\n\nHello there, how may I assist you today?",
        },
        "logprobs": None,
        "finish_reason": "stop",
    }],
    "usage": {
        "prompt_tokens": 9,
        "completion_tokens": 12,
        "total_tokens": 21,
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}

# Example "Image input": the request.
IMAGE_REQUEST: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [{
        "role": "user",
        "content": [
            {"type": "text", "text": "What's in this image?"},
            {"type": "image_url", "image_url": {
                "url": "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/"
                       "Gfp-wisconsin-madison-the-nature-boardwalk.jpg/"
                       "2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg",
            }},
        ],
    }],
    "max_tokens": 300,
}

# Example "Functions": the request...
TOOLS_REQUEST: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "What's the weather like in Boston today?"}],
    "tools": [{
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
        },
    }],
    "tool_choice": "auto",
}
# ... and its response.
TOOL_CALL_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1699896916,
    "model": "gpt-4o-mini",
    "choices": [{
        "index": 0,
        "message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [{
                "id": "call_abc123",
                "type": "function",
                "function": {
                    "name": "get_current_weather",
                    "arguments": "{\n\"location\": \"Boston, MA\"\n}",
                },
            }],
        },
        "logprobs": None,
        "finish_reason": "tool_calls",
    }],
    "usage": {
        "prompt_tokens": 82,
        "completion_tokens": 17,
        "total_tokens": 99,
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}

# Example "Streaming": the documented chunks (abridged in the docs with "....").
STREAMED_EXAMPLE_CHUNKS: list[str] = [
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,'
    '"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,'
    '"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}',
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,'
    '"delta":{},"logprobs":null,"finish_reason":"stop"}]}',
]


def _recorded(head: str, choices: list[str], usage: str) -> bytes:
    """Rebuild a recorded stream from its per-chunk ``choices`` (the rest is constant)."""
    frames = [f'data: {{{head},"choices":[{c}]}}\n\n' for c in choices]
    frames.append(f'data: {{{head},"choices":[],"usage":{usage}}}\n\n')
    frames.append("data: [DONE]\n\n")
    return "".join(frames).encode()


def _content(text: str) -> str:
    return ('{"index":0,"delta":{"content":' + orjson.dumps(text).decode()
            + '},"logprobs":null,"finish_reason":null}')


def _args(index: int, text: str) -> str:
    return ('{"index":0,"delta":{"tool_calls":[{"index":' + str(index)
            + ',"function":{"arguments":' + orjson.dumps(text).decode()
            + '}}]},"logprobs":null,"finish_reason":null}')


def _finish(reason: str) -> str:
    return '{"index":0,"delta":{},"logprobs":null,"finish_reason":"' + reason + '"}'


# Recorded from the live API (openai-python's tests, "test_parse_nothing";
# gpt-4o-2024-08-06 with stream_options.include_usage): a plain text answer.
STREAMED_TEXT_ANSWER = (
    "I'm unable to provide real-time updates, including current weather information. For the "
    "latest weather in San Francisco, I recommend checking a reliable weather website or app "
    "such as the Weather Channel, BBC Weather, or a local San Francisco news station."
)
STREAMED_TEXT: bytes = _recorded(
    '"id":"chatcmpl-9tXjg9DdaOfymTPDrSLfxslQEH0C2","object":"chat.completion.chunk",'
    '"created":1723024748,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_845eaabc1f"',
    ['{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,'
     '"finish_reason":null}']
    + [_content(t) for t in [
        "I'm", " unable", " to", " provide", " real", "-time", " updates", ",", " including",
        " current", " weather", " information", ".", " For", " the", " latest", " weather", " in",
        " San", " Francisco", ",", " I", " recommend", " checking", " a", " reliable", " weather",
        " website", " or", " app", " such", " as", " the", " Weather", " Channel", ",", " BBC",
        " Weather", ",", " or", " a", " local", " San", " Francisco", " news", " station", ".",
    ]]
    + [_finish("stop")],
    '{"prompt_tokens":14,"completion_tokens":47,"total_tokens":61}',
)

# Recorded ("test_allows_non_strict_tools_but_no_parsing"): one tool call whose
# id and name come with the role in the first chunk.
STREAMED_TOOL_CALL: bytes = _recorded(
    '"id":"chatcmpl-9tXjtfxZZh2FYaFVxXKf2jiqNDiSo","object":"chat.completion.chunk",'
    '"created":1723024761,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_845eaabc1f"',
    ['{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,'
     '"id":"call_5uxEBMFySqqQGu02I5QHA8k6","type":"function","function":{"name":"get_weather",'
     '"arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}']
    + [_args(0, t) for t in ['{"', "city", '":"', "New", " York", " City", '"}']]
    + [_finish("tool_calls")],
    '{"prompt_tokens":44,"completion_tokens":16,"total_tokens":60}',
)

# Recorded ("test_parse_multiple_pydantic_tools"): two parallel tool calls.
STREAMED_PARALLEL_TOOL_CALLS: bytes = _recorded(
    '"id":"chatcmpl-9tXjpPLJgivc9nyuBCCWX8HNg9L2J","object":"chat.completion.chunk",'
    '"created":1723024757,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_2a322c9ffc"',
    ['{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null,'
     '"finish_reason":null}',
     '{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_lQnnsesjFMWMQ5IeWPHzR4th",'
     '"type":"function","function":{"name":"GetWeatherArgs","arguments":""}}]},'
     '"logprobs":null,"finish_reason":null}']
    + [_args(0, t) for t in ['{"ci', 'ty": ', '"Edinb', "urgh", '", "c', "ountry", '": "',
                             'UK", ', '"units', '": "', 'c"}']]
    + ['{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2xjOUgaCdiwAcl9ZBL9LyMUU",'
       '"type":"function","function":{"name":"get_stock_price","arguments":""}}]},'
       '"logprobs":null,"finish_reason":null}']
    + [_args(1, t) for t in ['{"ti', 'cker"', ': "AAP', 'L", ', '"exch', 'ange":', ' "NA',
                             'SDAQ"', "}"]]
    + [_finish("tool_calls")],
    '{"prompt_tokens":149,"completion_tokens":60,"total_tokens":209}',
)

# Azure OpenAI opens streams with a prompt-filter chunk that has no id and no choices.
AZURE_PROMPT_FILTER_CHUNK = (
    '{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":'
    '[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},'
    '"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,'
    '"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}'
)

# API reference, "Create embeddings": the request and response (the docs
# abridge the 1536 floats; the three shown are kept).
EMBEDDING_REQUEST: dict[str, Any] = {
    "input": "The food was delicious and the waiter...",
    "model": "text-embedding-ada-002",
    "encoding_format": "float",
}
EMBEDDING_RESPONSE: dict[str, Any] = {
    "object": "list",
    "data": [{"object": "embedding",
              "embedding": [0.0023064255, -0.009327292, -0.0028842222],
              "index": 0}],
    "model": "text-embedding-ada-002",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}

# Error bodies as OpenAI sends them, per status.
ERRORS: dict[int, dict[str, Any]] = {
    400: {"message": "This model's maximum context length is 128000 tokens. However, your "
                     "messages resulted in 130412 tokens. Please reduce the length of the "
                     "messages.",
          "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"},
    401: {"message": "Incorrect API key provided: sk-wrong. You can find your API key at "
                     "https://platform.openai.com/account/api-keys.",
          "type": "invalid_request_error", "param": None, "code": "invalid_api_key"},
    404: {"message": "The model `gpt-5-nonexistent` does not exist or you do not have access "
                     "to it.",
          "type": "invalid_request_error", "param": None, "code": "model_not_found"},
    429: {"message": "Rate limit reached for gpt-4o in organization org-123 on requests per min "
                     "(RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.",
          "type": "requests", "param": None, "code": "rate_limit_exceeded"},
    500: {"message": "The server had an error while processing your request. Sorry about that!",
          "type": "server_error", "param": None, "code": None},
    503: {"message": "The engine is currently overloaded, please try again later.",
          "type": "server_error", "param": None, "code": None},
}
MISSING_KEY_ERROR: dict[str, Any] = {
    "message": "You didn't provide an API key. You need to provide your API key in an "
               "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    "type": "invalid_request_error", "param": None, "code": None,
}
# What OpenAI sends inside a 200 stream when it fails after starting.
STREAMED_ERROR: dict[str, Any] = {"error": ERRORS[500]}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The JSON body OpenAI sends with ``status``."""
    error = dict(ERRORS.get(status, ERRORS[500] if status >= 500 else ERRORS[400]))
    if message is not None:
        error["message"] = message
    return {"error": error}


# --------------------------------------------------------------------------- scripting


@dataclass
class Reply:
    """An answer: text and/or tool calls ``(id, name, arguments JSON)``, finish reason, usage."""

    text: str | None = CHAT_COMPLETION["choices"][0]["message"]["content"]
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: dict[str, Any] = field(default_factory=lambda: dict(CHAT_COMPLETION["usage"]))
    id: str | None = None
    model: str | None = None  # None: echo the requested model
    created: int = 1677652288


Script = Reply | Raw


def completion(reply: Reply, model: str) -> dict[str, Any]:
    """The ``chat.completion`` object the real API returns for ``reply``."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in reply.tool_calls
        ]
    return {
        "id": reply.id or "chatcmpl-123",
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model or model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": reply.finish_reason}],
        "usage": reply.usage,
        "system_fingerprint": "fp_44709d6fcb",
    }


def stream_frames(reply: Reply, model: str, include_usage: bool) -> list[bytes]:
    """The SSE frames of ``reply`` streamed: its chunks, with ``include_usage`` a final
    ``"choices": []`` chunk carrying usage (and ``"usage": null`` on the others), then
    ``data: [DONE]``."""
    frames = []
    for chunk in stream_chunks(reply, model):
        if include_usage:
            chunk["usage"] = None
        frames.append(sse_frame(chunk))
    if include_usage:
        last = stream_chunks(reply, model)[-1]
        last.update(choices=[], usage=reply.usage)
        frames.append(sse_frame(last))
    frames.append(b"data: [DONE]\n\n")
    return frames


def stream_chunks(reply: Reply, model: str) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects the real API streams for ``reply`` (no usage)."""
    head = {"id": reply.id or "chatcmpl-123", "object": "chat.completion.chunk",
            "created": reply.created, "model": reply.model or model,
            "system_fingerprint": "fp_44709d6fcb"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": finish}]}

    chunks: list[dict[str, Any]] = []
    first: dict[str, Any] = {"role": "assistant",
                             "content": "" if reply.text is not None else None, "refusal": None}
    if reply.text is not None:
        chunks.append(chunk(first))
        chunks.extend(chunk({"content": piece})
                      for piece in re.findall(r"\s*\S+|\s+$", reply.text))
    for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
        opening = {"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                   "function": {"name": name, "arguments": ""}}]}
        chunks.append(chunk({**first, **opening} if not chunks else opening))
        chunks.extend(
            chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[i:i + 8]}}]})
            for i in range(0, len(arguments), 8)
        )
    chunks.append(chunk({}, reply.finish_reason))
    return chunks


def embedding_vector(index: int, dimensions: int | None) -> list[float]:
    """A deterministic vector per input position (the documented floats, shifted)."""
    base = EMBEDDING_RESPONSE["data"][0]["embedding"]
    size = dimensions or len(base)
    return [round(base[i % len(base)] + index * 0.001, 10) for i in range(size)]


class OpenAIUpstream(FakeUpstream[Reply]):
    """The fake server; see the module docstring. Use as ``async with OpenAIUpstream() as fake``.

    ``api_key``: when given, other keys get the real 401. ``deployments``: the
    Azure deployments that exist (others get Azure's DeploymentNotFound 404);
    ``None`` accepts any.
    """

    REQUEST_ID_HEADER = "x-request-id"
    INVALID_STREAM_FRAME = b"data: {not json\n\n"
    STREAM_ERROR = STREAMED_ERROR

    def __init__(self, *, api_key: str | None = None,
                 deployments: set[str] | None = None) -> None:
        self.deployments = deployments
        super().__init__(api_key=api_key)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{deployment}/embeddings", self._embeddings)
        app.router.add_post("/openai/v1/chat/completions", self._chat)  # Azure's v1 API
        app.router.add_post("/openai/v1/embeddings", self._embeddings)

    @property
    def azure_url(self) -> str:
        """The Azure ``base_url`` (the resource endpoint): ``http://127.0.0.1:PORT``."""
        return self.origin

    # ---- scripting

    def _default_reply(self) -> Reply:
        return Reply()

    def reply_with(
        self,
        text: str = "Hello!",
        *,
        finish_reason: str = "stop",
        usage: dict[str, Any] | None = None,
        model: str | None = None,
        id: str | None = None,
        times: int | None = None,
    ) -> Reply:
        """A text answer. ``usage`` is OpenAI's usage object (default 9 in, 12 out)."""
        return self.reply(Reply(text=text, finish_reason=finish_reason,
                                usage=usage or dict(CHAT_COMPLETION["usage"]), model=model, id=id),
                          times=times)

    def reply_with_tool_calls(
        self,
        calls: list[tuple[str, str, str]] | None = None,
        *,
        text: str | None = None,
        usage: dict[str, Any] | None = None,
        model: str | None = None,
        times: int | None = None,
    ) -> Reply:
        """Tool calls ``(id, name, arguments JSON)``, several for parallel calls.

        The default is the documented ``get_current_weather`` call.
        """
        if calls is None:
            call = TOOL_CALL_COMPLETION["choices"][0]["message"]["tool_calls"][0]
            calls = [(call["id"], call["function"]["name"], call["function"]["arguments"])]
        return self.reply(Reply(text=text, tool_calls=calls, finish_reason="tool_calls",
                                usage=usage or dict(TOOL_CALL_COMPLETION["usage"]), model=model),
                          times=times)

    def fail(
        self,
        status: int = 500,
        body: bytes | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        *,
        times: int | None = None,
    ) -> None:
        """Answer ``status`` with OpenAI's error body for it (or ``body``), plus ``headers``
        (e.g. ``{"retry-after": "2"}``)."""
        self._fail(status, error_body(status) if body is None else body, headers, times)

    def error_in_stream_after(self, chunks: int, payload: dict[str, Any] | None = None) -> None:
        """After ``chunks`` frames send ``data: PAYLOAD`` (default ``STREAMED_ERROR``,
        ``{"error": {...server_error...}}``) and end the stream without ``[DONE]``."""
        self._error_in_stream_after(chunks, payload)

    def _error_frame(self, payload: dict[str, Any]) -> bytes:
        return sse_frame(payload)

    # ---- endpoints

    def _check(self, request: web.Request, body: bytes, request_id: str) -> web.Response | None:
        """Azure routing, authentication and JSON: the errors that come before any answer."""
        azure = request.path.startswith("/openai/")
        deployment = request.match_info.get("deployment")
        if azure:
            if deployment is not None and "api-version" not in request.query:
                return self._json(404, {"error": {"code": "404", "message": "Resource not found"}},
                                  request_id)
            key = request.headers.get("api-key")
        else:
            auth = request.headers.get("authorization", "")
            key = auth[7:] if auth.startswith("Bearer ") else None
        if not key:
            return self._json(401, {"error": MISSING_KEY_ERROR}, request_id)
        if self.api_key is not None and key != self.api_key:
            if azure:
                return self._json(401, {"error": {"code": "401", "message": (
                    "Access denied due to invalid subscription key or wrong API endpoint. Make "
                    "sure to provide a valid key for an active subscription and use a correct "
                    "regional API endpoint for your resource.")}}, request_id)
            return self._json(401, error_body(401), request_id)
        if deployment is not None and self.deployments is not None and (
                deployment not in self.deployments):
            return self._json(404, {"error": {"code": "DeploymentNotFound", "message": (
                "The API deployment for this resource does not exist. If you created the "
                "deployment within the last 5 minutes, please wait a moment and try again.")}},
                request_id)
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._json(400, error_body(
                400, "We could not parse the JSON body of your request."), request_id)
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, request_id = await self._receive(request)
        rejected = self._check(request, body, request_id)
        if rejected is not None:
            return rejected
        data = orjson.loads(body)
        model = data.get("model") or request.match_info.get("deployment", "")
        if not model:
            return self._json(400, error_body(400, "you must provide a model parameter"),
                              request_id)
        if not isinstance(data.get("messages"), list):
            return self._json(400, error_body(400, "Missing required parameter: 'messages'."),
                              request_id)
        script = self._next_script()
        stream = bool(data.get("stream"))
        if isinstance(script, Raw):
            return await self._send_raw(request, script, request_id, stream=stream)
        if not stream:
            return self._json(200, completion(script, model), request_id)
        include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        return await self._stream(request, stream_frames(script, model, include_usage), request_id)

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body, request_id = await self._receive(request)
        rejected = self._check(request, body, request_id)
        if rejected is not None:
            return rejected
        script = self._queue.pop(0) if self._queue else None  # the default is a chat answer
        if isinstance(script, Raw):
            return await self._send_raw(request, script, request_id, stream=False)
        data = orjson.loads(body)
        inputs = data.get("input")
        if inputs is None:
            return self._json(400, error_body(400, "Missing required parameter: 'input'."),
                              request_id)
        if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        model = data.get("model") or request.match_info.get("deployment", "")
        base64_format = data.get("encoding_format") == "base64"
        items = []
        tokens = 0
        for index, item in enumerate(inputs):
            vector = embedding_vector(index, data.get("dimensions"))
            tokens += len(item.split()) if isinstance(item, str) else len(item)
            embedding: Any = (base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                              if base64_format else vector)
            items.append({"object": "embedding", "index": index, "embedding": embedding})
        return self._json(200, {"object": "list", "data": items, "model": model,
                                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
                          request_id)
