"""OpenAI wire format, client side: requests in, answers and stream chunks out.

Built from the API reference's example payloads and streams recorded from the
live API (see fakes.openai_upstream); the official ``openai`` SDK parses what
the encoders emit.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from fakes.openai_upstream import (
    CHAT_COMPLETION,
    CHAT_REQUEST,
    EMBEDDING_REQUEST,
    IMAGE_REQUEST,
    STREAMED_PARALLEL_TOOL_CALLS,
    STREAMED_TEXT,
    STREAMED_TEXT_ANSWER,
    STREAMED_TOOL_CALL,
    TOOL_CALL_COMPLETION,
    TOOLS_REQUEST,
)
from sluicegate.canonical import (
    ChatResponse,
    Choice,
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
    ToolCall,
    ToolChoice,
    Usage,
)
from sluicegate.canonical.collect import ResponseCollector
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.openai import (
    ChatStreamDecoder,
    ChatStreamEncoder,
    decode_chat_request,
    decode_chat_response,
    decode_embeddings_request,
    encode_chat_response,
    encode_embeddings_response,
    encode_error,
    encode_models,
)
from sluicegate.protocols.sse import SSEParser


def body(**fields: Any) -> bytes:
    return orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}],
                         **fields})


def sse_payloads(data: bytes) -> list[str]:
    return [event.data for event in SSEParser().feed(data)]


def decode_stream(data: bytes) -> list[Event]:
    decoder = ChatStreamDecoder()
    return [event for payload in sse_payloads(data) for event in decoder.feed(payload)]


# --------------------------------------------------------------------------- requests


def test_documented_default_request() -> None:
    req = decode_chat_request(orjson.dumps(CHAT_REQUEST))

    assert req.model == "gpt-4o-mini"
    assert [(m.role, m.text()) for m in req.messages] == [
        ("system", "You are a helpful assistant."), ("user", "Hello!")]
    assert req.stream is False and req.include_usage is False
    assert req.extra == {}


def test_documented_image_request() -> None:
    req = decode_chat_request(orjson.dumps(IMAGE_REQUEST))

    text, image = req.messages[0].content
    assert text == TextPart(text="What's in this image?")
    assert isinstance(image, ImagePart)
    assert image.url == IMAGE_REQUEST["messages"][0]["content"][1]["image_url"]["url"]
    assert req.max_tokens == 300


def test_documented_tools_request() -> None:
    req = decode_chat_request(orjson.dumps(TOOLS_REQUEST))

    (tool,) = req.tools
    assert tool.name == "get_current_weather"
    assert tool.description == "Get the current weather in a given location"
    assert tool.parameters["required"] == ["location"]
    assert req.tool_choice == ToolChoice(mode="auto")


def test_conversation_with_tool_results() -> None:
    req = decode_chat_request(body(messages=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Boston?"},
                                     {"type": "image_url", "image_url": {
                                         "url": "data:image/png;base64,iVBORw0KGgo=",
                                         "detail": "low"}}]},
        TOOL_CALL_COMPLETION["choices"][0]["message"],
        {"role": "tool", "tool_call_id": "call_abc123", "content": '{"temp": 22}'},
    ]))

    system, user, assistant, tool = req.messages
    assert system == Message(role="system", content=[TextPart(text="Be brief.")])
    assert isinstance(user.content[1], ImagePart)
    assert user.content[1].as_data() == ("image/png", "iVBORw0KGgo=")
    assert user.content[1].detail == "low"
    assert assistant.content == []  # "content": null
    assert assistant.tool_calls == [ToolCall(id="call_abc123", name="get_current_weather",
                                             arguments='{\n"location": "Boston, MA"\n}')]
    assert tool == Message(role="tool", content=[TextPart(text='{"temp": 22}')],
                           tool_call_id="call_abc123")


def test_sampling_and_stream_fields() -> None:
    req = decode_chat_request(body(
        stream=True, stream_options={"include_usage": True}, temperature=0.2, top_p=0.9,
        stop="END", n=2, seed=7, user="u-1", max_tokens=64,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        tool_choice={"type": "function", "function": {"name": "f"}}, parallel_tool_calls=False,
        tools=[{"type": "function", "function": {"name": "f", "strict": True}}],
    ))

    assert (req.stream, req.include_usage) == (True, True)
    assert (req.temperature, req.top_p, req.stop, req.n, req.seed, req.user) == (
        0.2, 0.9, ["END"], 2, 7, "u-1")
    assert req.max_tokens == 64
    assert req.response_format == {"type": "json_schema",
                                   "json_schema": {"name": "x", "schema": {}}}
    assert req.tool_choice == ToolChoice(mode="tool", name="f", parallel=False)
    assert req.tools[0].strict is True


def test_unknown_fields_are_kept_for_an_openai_upstream() -> None:
    req = decode_chat_request(body(logprobs=True, top_logprobs=2, presence_penalty=0.5,
                                   reasoning_effort="low", metadata={"team": "a"},
                                   max_completion_tokens=100))

    assert req.extra == {"openai": {
        "logprobs": True, "top_logprobs": 2, "presence_penalty": 0.5, "reasoning_effort": "low",
        "metadata": {"team": "a"}, "max_completion_tokens": 100}}
    assert req.max_tokens == 100


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert decode_chat_request(body(max_tokens=10, max_completion_tokens=20)).max_tokens == 20


def test_legacy_function_calling_becomes_tools() -> None:
    req = decode_chat_request(body(
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None,
             "function_call": {"name": "get_weather", "arguments": "{}"}},
            {"role": "function", "name": "get_weather", "content": "sunny"},
        ],
        functions=[{"name": "get_weather", "parameters": {"type": "object"}}],
        function_call={"name": "get_weather"},
    ))

    assert req.tools[0].name == "get_weather"
    assert req.tool_choice == ToolChoice(mode="tool", name="get_weather")
    call = req.messages[1].tool_calls[0]
    assert req.messages[2].role == "tool" and req.messages[2].tool_call_id == call.id


@pytest.mark.parametrize(("raw", "param", "code"), [
    (b"{not json", None, "invalid_json"),
    (b"[1, 2]", None, "invalid_type"),
    (orjson.dumps({"messages": [{"role": "user", "content": "x"}]}), "model",
     "missing_required_parameter"),
    (body(model=4), "model", "invalid_type"),
    (orjson.dumps({"model": "m"}), "messages", "missing_required_parameter"),
    (body(messages=[]), "messages", "empty_array"),
    (body(messages="hi"), "messages", "invalid_type"),
    (body(messages=["hi"]), "messages[0]", "invalid_type"),
    (body(messages=[{"content": "x"}]), "messages[0].role", "missing_required_parameter"),
    (body(messages=[{"role": "robot", "content": "x"}]), "messages[0].role", "invalid_value"),
    (body(messages=[{"role": "user"}]), "messages[0].content", "missing_required_parameter"),
    (body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": 5}]),
     "messages[1].content", "invalid_type"),
    (body(messages=[{"role": "user", "content": [{"type": "audio"}]}]),
     "messages[0].content[0].type", "invalid_value"),
    (body(messages=[{"role": "user", "content": [{"type": "text"}]}]),
     "messages[0].content[0].text", "missing_required_parameter"),
    (body(messages=[{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "https://x"}}]}]),
     "messages[0].content[0].type", "invalid_value"),
    (body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
     "messages[0].content[0].image_url.url", "missing_required_parameter"),
    (body(messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x", "detail": "max"}}]}]),
     "messages[0].content[0].image_url.detail", "invalid_value"),
    (body(messages=[{"role": "tool", "content": "x"}]), "messages[0].tool_call_id",
     "missing_required_parameter"),
    (body(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                          "function": {"name": "f"}}]}]),
     "messages[0].tool_calls[0].function.arguments", "missing_required_parameter"),
    (body(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "type": "custom"}]}]),
     "messages[0].tool_calls[0].type", "invalid_value"),
    (body(messages=[{"role": "user", "content": "x", "name": 1}]), "messages[0].name",
     "invalid_type"),
    (body(temperature="hot"), "temperature", "invalid_type"),
    (body(temperature=2.5), "temperature", "decimal_above_max_value"),
    (body(top_p=-0.1), "top_p", "decimal_below_min_value"),
    (body(max_tokens=0), "max_tokens", "integer_below_min_value"),
    (body(max_tokens=1.5), "max_tokens", "invalid_type"),
    # Past 64 bits as a reservation in Redis (was a 500 with shared limits).
    (body(max_tokens=2**63 - 1), "max_tokens", "integer_above_max_value"),
    (body(max_completion_tokens=2**64 - 1), "max_completion_tokens", "integer_above_max_value"),
    (body(max_completion_tokens=True), "max_completion_tokens", "invalid_type"),
    (body(n=0), "n", "integer_below_min_value"),
    (body(seed="1"), "seed", "invalid_type"),
    (body(user=5), "user", "invalid_type"),
    (body(stream="yes"), "stream", "invalid_type"),
    (body(stream_options={"include_usage": True}), "stream_options", "invalid_value"),
    (body(stream=True, stream_options={"include_usage": "y"}), "stream_options.include_usage",
     "invalid_type"),
    (body(stop=["a", 1]), "stop[1]", "invalid_type"),
    (body(stop=5), "stop", "invalid_type"),
    (body(tools={"name": "f"}), "tools", "invalid_type"),
    (body(tools=[{"type": "function"}]), "tools[0].function", "missing_required_parameter"),
    (body(tools=[{"type": "retrieval"}]), "tools[0].type", "invalid_value"),
    (body(tools=[{"type": "function", "function": {"description": "d"}}]),
     "tools[0].function.name", "missing_required_parameter"),
    (body(tools=[{"type": "function", "function": {"name": "f", "parameters": []}}]),
     "tools[0].function.parameters", "invalid_type"),
    (body(tool_choice="any"), "tool_choice", "invalid_value"),
    (body(tool_choice={"type": "function", "function": {}}), "tool_choice.function.name",
     "missing_required_parameter"),
    (body(parallel_tool_calls="no"), "parallel_tool_calls", "invalid_type"),
    (body(response_format="json"), "response_format", "invalid_type"),
    (body(response_format={"type": "xml"}), "response_format.type", "invalid_value"),
    (body(response_format={"type": "json_schema"}), "response_format.json_schema",
     "missing_required_parameter"),
])
def test_invalid_requests_name_the_field(raw: bytes, param: str | None, code: str) -> None:
    with pytest.raises(GatewayError) as info:
        decode_chat_request(raw)

    assert info.value.kind is ErrorKind.INVALID_REQUEST
    assert (info.value.param, info.value.code) == (param, code)
    assert info.value.message


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


_HELLO = '"model": "m", "messages": [{"role": "user", "content": "Hello"}]'
_DEEP_BODIES = [
    ("tools", '{HELLO, "tools": [{"type": "function", "function": {"name": "f", "parameters": '
              '{"type": "object", "x": DEEP}}}]}'),
    ("response_format", '{HELLO, "response_format": {"type": "json_schema", "json_schema": '
                        '{"name": "o", "schema": {"x": DEEP}}}}'),
    ("logit_bias", '{HELLO, "logit_bias": DEEP}'),  # kept for an OpenAI upstream
]


@pytest.mark.parametrize("depth", [254, 255, 600, 1000])
@pytest.mark.parametrize(("field", "template"), _DEEP_BODIES, ids=[f for f, _ in _DEEP_BODIES])
def test_json_nested_past_what_an_encoder_can_write_is_a_400_naming_the_field(
    field: str, template: str, depth: int
) -> None:
    # orjson reads 1,024 levels but writes 254: these were accepted, then failed
    # to re-encode as a 500.
    with pytest.raises(GatewayError) as info:
        decode_chat_request(
            template.replace("HELLO", _HELLO).replace("DEEP", nested(depth)).encode()
        )
    assert (info.value.status, info.value.param, info.value.code) == (400, field, "invalid_value")
    assert "nested more than 128 levels" in info.value.message


def test_embeddings_nested_past_the_limit_are_a_400() -> None:
    raw = b'{"model": "e", "input": "x", "extra": %s}' % nested(300).encode()
    with pytest.raises(GatewayError) as info:
        decode_embeddings_request(raw)
    assert (info.value.status, info.value.param) == (400, "extra")


def test_nesting_up_to_the_limit_is_accepted() -> None:
    schema = {"type": "object", "x": orjson.loads(nested(120))}
    req = decode_chat_request(body(tools=[
        {"type": "function", "function": {"name": "f", "parameters": schema}}]))
    assert req.tools[0].parameters == schema


# --------------------------------------------------------------------------- responses


def test_documented_response_round_trips() -> None:
    collector = ResponseCollector()
    for event in decode_chat_response(orjson.dumps(CHAT_COMPLETION)):
        collector.add(event)

    out = orjson.loads(encode_chat_response(collector.response()))

    assert {k: out[k] for k in ("id", "object", "created", "model")} == {
        k: CHAT_COMPLETION[k] for k in ("id", "object", "created", "model")}
    assert out["choices"] == [{
        "index": 0,
        "message": {"role": "assistant", "content": "\n\nHello there, how may I assist you today?",
                    "refusal": None},
        "logprobs": None,
        "finish_reason": "stop",
    }]
    assert out["usage"] == {
        "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_documented_tool_call_response_round_trips() -> None:
    collector = ResponseCollector()
    for event in decode_chat_response(orjson.dumps(TOOL_CALL_COMPLETION)):
        collector.add(event)

    out = orjson.loads(encode_chat_response(collector.response(), model="smart"))

    assert out["model"] == "smart"
    choice = out["choices"][0]
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == TOOL_CALL_COMPLETION["choices"][0]["message"][
        "tool_calls"]
    assert choice["finish_reason"] == "tool_calls"


def test_usage_details() -> None:
    resp = ChatResponse(id="c", model="m", created=1, choices=[
        Choice(index=0, message=Message(role="assistant", content=[TextPart(text="ok")]),
               finish_reason="stop")],
        usage=Usage(input_tokens=100, output_tokens=50, cached_tokens=60, reasoning_tokens=20))

    usage = orjson.loads(encode_chat_response(resp))["usage"]

    assert usage["total_tokens"] == 150
    assert usage["prompt_tokens_details"] == {"cached_tokens": 60}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 20}


# --------------------------------------------------------------------------- stream encoder


def test_stream_chunks_have_openai_shape() -> None:
    enc = ChatStreamEncoder(id="chatcmpl-1", model="gpt-4o", created=1700000000,
                            include_usage=False)

    assert enc.encode(Start(id="", model="", created=0)) == b""
    first = enc.encode(TextDelta(text="Hel"))
    second = enc.encode(TextDelta(text="lo"))
    finish = enc.encode(Finish(reason="stop"))
    assert enc.encode(Usage(input_tokens=3, output_tokens=2)) == b""

    head = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,' \
           b'"model":"gpt-4o","choices":['
    assert first == head + (b'{"index":0,"delta":{"role":"assistant","content":"Hel"},'
                            b'"logprobs":null,"finish_reason":null}]}\n\n')
    assert second == head + (b'{"index":0,"delta":{"content":"lo"},"logprobs":null,'
                             b'"finish_reason":null}]}\n\n')
    assert finish == head + b'{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
    assert enc.end() == b"data: [DONE]\n\n"  # usage not asked for


def test_stream_usage_chunk_when_asked() -> None:
    enc = ChatStreamEncoder(id="c", model="m", created=1, include_usage=True)
    chunk = orjson.loads(sse_payloads(enc.encode(TextDelta(text="x")))[0])
    enc.encode(Usage(input_tokens=10, output_tokens=4, cached_tokens=2))

    usage_frame, done = sse_payloads(enc.end())

    assert chunk["usage"] is None  # OpenAI sends null on every chunk but the last
    usage_chunk = orjson.loads(usage_frame)
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 10
    assert usage_chunk["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}
    assert done == "[DONE]"


def test_start_event_overrides_id_and_model() -> None:
    enc = ChatStreamEncoder(id="gw-1", model="smart", created=5, include_usage=False)
    enc.encode(Start(id="chatcmpl-up", model="gpt-4o-2024-08-06", created=0))

    chunk = orjson.loads(sse_payloads(enc.encode(TextDelta(text="x")))[0])

    assert (chunk["id"], chunk["model"], chunk["created"]) == (
        "chatcmpl-up", "gpt-4o-2024-08-06", 5)


def test_tool_call_chunks() -> None:
    enc = ChatStreamEncoder(id="c", model="m", created=1, include_usage=False)
    frames = [
        enc.encode(ToolCallDelta(call_index=0, id="call_1", name="f", arguments="")),
        enc.encode(ToolCallDelta(call_index=0, arguments='{"a":')),
        enc.encode(ToolCallDelta(call_index=1, id="call_2", name="g", arguments="{}")),
    ]

    deltas = [orjson.loads(sse_payloads(f)[0])["choices"][0]["delta"] for f in frames]

    assert deltas == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": "f", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]},
        {"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                         "function": {"name": "g", "arguments": "{}"}}]},
    ]


def test_empty_answer_still_sends_the_role() -> None:
    enc = ChatStreamEncoder(id="c", model="m", created=1, include_usage=False)

    chunk = orjson.loads(sse_payloads(enc.encode(Finish(reason="length")))[0])

    assert chunk["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunk["choices"][0]["finish_reason"] == "length"


def test_stream_error_frame_has_no_done() -> None:
    enc = ChatStreamEncoder(id="c", model="m", created=1, include_usage=True)

    frame = enc.error(GatewayError(ErrorKind.UPSTREAM, "upstream broke", code="upstream_error"))

    assert frame.endswith(b"\n\n") and b"[DONE]" not in frame
    assert orjson.loads(sse_payloads(frame)[0]) == {"error": {
        "message": "upstream broke", "type": "api_error", "code": "upstream_error",
        "param": None}}


@pytest.mark.parametrize("recorded", [STREAMED_TEXT, STREAMED_TOOL_CALL,
                                      STREAMED_PARALLEL_TOOL_CALLS])
def test_recorded_streams_re_encode_to_the_same_deltas(recorded: bytes) -> None:
    original = [orjson.loads(p) for p in sse_payloads(recorded) if p != "[DONE]"]
    enc = ChatStreamEncoder(id="x", model="x", created=0, include_usage=True)
    out = b"".join(enc.encode(e) for e in decode_stream(recorded)) + enc.end()

    chunks = [orjson.loads(p) for p in sse_payloads(out) if p != "[DONE]"]

    def meaningful(chunk: dict[str, Any]) -> list[Any]:
        # What a client reads: text, tool call pieces and finish reasons (a
        # recorded role-only first chunk has no counterpart; its role moves to
        # the first content chunk).
        out = []
        for choice in chunk["choices"]:
            delta = {k: v for k, v in choice["delta"].items() if k in ("content", "tool_calls")}
            if not delta.get("content"):
                delta.pop("content", None)
            if delta or choice["finish_reason"]:
                out.append((delta, choice["finish_reason"]))
        return out

    assert [m for c in chunks for m in meaningful(c)] == [
        m for c in original for m in meaningful(c)]
    assert {(c["id"], c["model"], c["created"]) for c in chunks} == {
        (original[0]["id"], original[0]["model"], original[0]["created"])}
    assert chunks[-1]["usage"]["total_tokens"] == original[-1]["usage"]["total_tokens"]


# --------------------------------------------------------------------------- errors and models


@pytest.mark.parametrize(("kind", "type_"), [
    (ErrorKind.INVALID_REQUEST, "invalid_request_error"),
    (ErrorKind.AUTHENTICATION, "authentication_error"),
    (ErrorKind.PERMISSION, "permission_error"),
    (ErrorKind.NOT_FOUND, "not_found_error"),
    (ErrorKind.TOO_LARGE, "invalid_request_error"),
    (ErrorKind.RATE_LIMITED, "rate_limit_error"),
    (ErrorKind.UPSTREAM, "api_error"),
    (ErrorKind.UNAVAILABLE, "service_unavailable_error"),
    (ErrorKind.TIMEOUT, "timeout_error"),
])
def test_error_body(kind: ErrorKind, type_: str) -> None:
    err = GatewayError(kind, "nope", code="some_code", param="messages[0]")

    assert orjson.loads(encode_error(err)) == {"error": {
        "message": "nope", "type": type_, "code": "some_code", "param": "messages[0]"}}


def test_models_list() -> None:
    assert orjson.loads(encode_models(["smart", "cheap"], created=1700000000)) == {
        "object": "list",
        "data": [
            {"id": "smart", "object": "model", "created": 1700000000, "owned_by": "sluicegate"},
            {"id": "cheap", "object": "model", "created": 1700000000, "owned_by": "sluicegate"},
        ],
    }


# --------------------------------------------------------------------------- embeddings


@pytest.mark.parametrize(("input_", "inputs"), [
    ("The food was delicious and the waiter...", ["The food was delicious and the waiter..."]),
    (["a", "b"], ["a", "b"]),
    ([1, 2, 3], [[1, 2, 3]]),
    ([[1, 2], [3]], [[1, 2], [3]]),
])
def test_embeddings_inputs(input_: Any, inputs: list[Any]) -> None:
    req = decode_embeddings_request(orjson.dumps({**EMBEDDING_REQUEST, "input": input_}))

    assert req.inputs == inputs
    assert (req.model, req.encoding_format) == ("text-embedding-ada-002", "float")


def test_embeddings_options() -> None:
    req = decode_embeddings_request(orjson.dumps({
        "model": "m", "input": "x", "encoding_format": "base64", "dimensions": 256, "user": "u",
        "extra_field": 1}))

    assert (req.encoding_format, req.dimensions, req.user) == ("base64", 256, "u")
    assert req.extra == {"openai": {"extra_field": 1}}


@pytest.mark.parametrize(("fields", "param"), [
    ({"input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": ""}, "input"),
    ({"model": "m", "input": []}, "input"),
    ({"model": "m", "input": {"text": "x"}}, "input"),
    ({"model": "m", "input": ["a", 2]}, "input[1]"),
    ({"model": "m", "input": [[1, "a"]]}, "input[0][1]"),
    ({"model": "m", "input": [1, "a"]}, "input[1]"),
    ({"model": "m", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
])
def test_invalid_embeddings_requests(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as info:
        decode_embeddings_request(orjson.dumps(fields))

    assert info.value.param == param


def test_embeddings_response() -> None:
    resp = EmbeddingResponse(model="text-embedding-ada-002",
                             vectors=[[0.0023064255, -0.009327292, -0.0028842222]],
                             usage=Usage(input_tokens=8))

    assert orjson.loads(encode_embeddings_response(resp)) == {
        "object": "list",
        "data": [{"object": "embedding", "index": 0,
                  "embedding": [0.0023064255, -0.009327292, -0.0028842222]}],
        "model": "text-embedding-ada-002",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }


# --------------------------------------------------------------------------- the official SDK


class Script:
    """What the test server answers: events, then optionally an error mid-stream."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.error: GatewayError | None = None
        self.requests: list[bytes] = []


SCRIPT = web.AppKey("script", Script)


async def _chat(request: web.Request) -> web.StreamResponse:
    script: Script = request.app[SCRIPT]
    raw = await request.read()
    script.requests.append(raw)
    try:
        req = decode_chat_request(raw)
        if script.error is not None and not script.events:
            raise script.error
    except GatewayError as err:
        return web.Response(status=err.status, body=encode_error(err),
                            content_type="application/json")
    if not req.stream:
        collector = ResponseCollector()
        for event in script.events:
            collector.add(event)
        return web.Response(body=encode_chat_response(collector.response()),
                            content_type="application/json")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    enc = ChatStreamEncoder(id="chatcmpl-gw", model=req.model, created=1700000000,
                            include_usage=req.include_usage)
    for event in script.events:
        if frame := enc.encode(event):
            await resp.write(frame)
    await resp.write(enc.error(script.error) if script.error else enc.end())
    await resp.write_eof()
    return resp


async def _embeddings(request: web.Request) -> web.Response:
    req = decode_embeddings_request(await request.read())
    vectors: list[Any] = [[0.5, -0.25] for _ in req.inputs]
    if req.encoding_format == "base64":
        vectors = [base64.b64encode(struct.pack("<2f", *v)).decode() for v in vectors]
    resp = EmbeddingResponse(model=req.model, vectors=vectors, usage=Usage(input_tokens=4))
    return web.Response(body=encode_embeddings_response(resp), content_type="application/json")


async def _models(request: web.Request) -> web.Response:
    return web.Response(body=encode_models(["smart", "cheap"], created=1700000000),
                        content_type="application/json")


@pytest.fixture
async def sdk() -> AsyncIterator[tuple[openai.AsyncOpenAI, Script]]:
    """An AsyncOpenAI client talking to a tiny server built from the ingress codecs."""
    app = web.Application()
    script = Script()
    app[SCRIPT] = script
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="x", max_retries=0)
    try:
        yield client, script
    finally:
        await client.close()
        await server.close()


async def test_sdk_reads_a_streamed_answer_with_usage(
        sdk: tuple[openai.AsyncOpenAI, Script]) -> None:
    client, script = sdk
    script.events = decode_stream(STREAMED_TEXT)

    stream = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "Weather in SF?"}], stream=True,
        stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        STREAMED_TEXT_ANSWER)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (14, 47)
    assert chunks[0].id == "chatcmpl-9tXjg9DdaOfymTPDrSLfxslQEH0C2"


async def test_sdk_accumulates_streamed_parallel_tool_calls(
        sdk: tuple[openai.AsyncOpenAI, Script]) -> None:
    client, script = sdk
    script.events = decode_stream(STREAMED_PARALLEL_TOOL_CALLS)

    async with client.chat.completions.stream(
            model="smart", messages=[{"role": "user", "content": "Weather and AAPL?"}]) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()

    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("call_lQnnsesjFMWMQ5IeWPHzR4th", "GetWeatherArgs",
         '{"city": "Edinburgh", "country": "UK", "units": "c"}'),
        ("call_2xjOUgaCdiwAcl9ZBL9LyMUU", "get_stock_price",
         '{"ticker": "AAPL", "exchange": "NASDAQ"}'),
    ]


async def test_sdk_raises_on_an_error_mid_stream(sdk: tuple[openai.AsyncOpenAI, Script]) -> None:
    client, script = sdk
    script.events = [Start(id="c", model="m"), TextDelta(text="Hello")]
    script.error = GatewayError(ErrorKind.UPSTREAM, "upstream 'main' broke off",
                                code="upstream_connection_error")

    stream = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "Hi"}], stream=True)
    received = []
    with pytest.raises(openai.APIError) as info:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content)

    assert received == ["Hello"]
    assert "broke off" in info.value.message
    assert info.value.code == "upstream_connection_error"


async def test_sdk_reads_a_whole_answer(sdk: tuple[openai.AsyncOpenAI, Script]) -> None:
    client, script = sdk
    script.events = decode_chat_response(orjson.dumps(TOOL_CALL_COMPLETION))

    completion = await client.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "Weather?"}], tools=[
            {"type": "function", "function": {"name": "get_current_weather"}}])

    message = completion.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_current_weather"
    assert completion.usage is not None and completion.usage.total_tokens == 99
    assert orjson.loads(script.requests[-1])["tools"][0]["type"] == "function"


async def test_sdk_sees_validation_errors(sdk: tuple[openai.AsyncOpenAI, Script]) -> None:
    client, _ = sdk

    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "x"}], temperature=3)

    assert info.value.status_code == 400
    assert info.value.param == "temperature"
    assert info.value.code == "decimal_above_max_value"
    assert info.value.type == "invalid_request_error"


async def test_sdk_sees_rate_limits(sdk: tuple[openai.AsyncOpenAI, Script]) -> None:
    client, script = sdk
    script.error = GatewayError(ErrorKind.RATE_LIMITED, "slow down", code="rate_limit_exceeded")

    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "x"}])

    assert info.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("encoding_format", ["float", "base64"])
async def test_sdk_reads_embeddings(sdk: tuple[openai.AsyncOpenAI, Script],
                                    encoding_format: Any) -> None:
    client, _ = sdk

    result = await client.embeddings.create(model="embed", input=["a", "b"],
                                            encoding_format=encoding_format)

    assert [d.index for d in result.data] == [0, 1]
    if encoding_format == "float":
        assert result.data[0].embedding == [0.5, -0.25]
    else:
        assert isinstance(result.data[0].embedding, str)
    assert result.usage.prompt_tokens == 4


async def test_sdk_lists_models(sdk: tuple[openai.AsyncOpenAI, Script]) -> None:
    client, _ = sdk

    models = [m.id async for m in client.models.list()]

    assert models == ["smart", "cheap"]


def test_request_sent_by_the_sdk_decodes() -> None:
    """A body in the exact shape the SDK posts (documented tools example, streamed)."""
    req = decode_chat_request(orjson.dumps({**TOOLS_REQUEST, "stream": True,
                                            "stream_options": {"include_usage": True}}))

    assert req.stream and req.include_usage
    assert req.tools[0].name == "get_current_weather"


def test_tool_call_delta_collects_like_the_documented_answer() -> None:
    events = decode_stream(STREAMED_TOOL_CALL)
    collector = ResponseCollector()
    for event in events:
        collector.add(event)

    response = collector.response()

    assert isinstance(events[0], Start)
    assert response.choices[0].message.tool_calls == [
        ToolCall(id="call_5uxEBMFySqqQGu02I5QHA8k6", name="get_weather",
                 arguments='{"city":"New York City"}')]
