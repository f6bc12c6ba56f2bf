"""Anthropic Messages, client side: requests in, answers and streams out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sluicegate.canonical import (
    ChatResponse,
    Choice,
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
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.anthropic import (
    MessagesStreamEncoder,
    decode_messages_request,
    encode_error,
    encode_messages_response,
)
from sluicegate.protocols.sse import SSEParser


def body(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello, world"}],
    }
    base.update(fields)
    return orjson.dumps(base)


# --------------------------------------------------------------------------- decoding


def test_basic_request_from_the_docs() -> None:
    req = decode_messages_request(body())
    assert req.model == "claude-sonnet-4-5"
    assert req.max_tokens == 1024
    assert req.messages == [Message(role="user", content=[TextPart(text="Hello, world")])]
    assert req.stream is False
    assert req.include_usage is True  # Anthropic always reports usage
    assert req.extra == {}


def test_sampling_fields_stream_and_user() -> None:
    req = decode_messages_request(body(
        stop_sequences=["\n\nHuman:"], temperature=0.5, top_p=0.9, top_k=40, stream=True,
        metadata={"user_id": "user-42"},
    ))
    assert (req.stop, req.temperature, req.top_p, req.top_k) == (["\n\nHuman:"], 0.5, 0.9, 40)
    assert req.stream is True
    assert req.user == "user-42"


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("You are a pirate.",
         [Message(role="system", content=[TextPart(text="You are a pirate.")])]),
        (
            [
                {"type": "text",
                 "text": "You are an AI assistant tasked with analyzing literary works."},
                {"type": "text", "text": "<the entire contents of Pride and Prejudice>",
                 "cache_control": {"type": "ephemeral"}},
            ],
            [Message(role="system", content=[
                TextPart(text="You are an AI assistant tasked with analyzing literary works."),
                TextPart(text="<the entire contents of Pride and Prejudice>",
                         cache_control={"type": "ephemeral"}),
            ])],
        ),
        ("", []),
    ],
    ids=["string", "blocks-with-cache-control", "empty"],
)
def test_system_becomes_leading_system_message(system: Any, expected: list[Message]) -> None:
    req = decode_messages_request(body(system=system))
    assert req.messages[: len(expected)] == expected
    assert req.messages[len(expected)].role == "user"


def test_images_base64_and_url() -> None:
    req = decode_messages_request(body(messages=[{"role": "user", "content": [
        {"type": "image",
         "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/a.jpg"}},
        {"type": "text", "text": "Describe these images."},
    ]}]))
    assert req.messages == [Message(role="user", content=[
        ImagePart(media_type="image/jpeg", data="/9j/4AAQ"),
        ImagePart(url="https://upload.wikimedia.org/a.jpg"),
        TextPart(text="Describe these images."),
    ])]


def test_tool_use_conversation_from_the_docs() -> None:
    req = decode_messages_request(body(
        tools=[{
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                             "required": ["location"]},
        }],
        messages=[
            {"role": "user", "content": "What's the weather like in San Francisco?"},
            {"role": "assistant", "content": [
                {"type": "text",
                 "text": "I'll check the current weather in San Francisco for you."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                 "input": {"location": "San Francisco, CA", "unit": "celsius"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                 "content": "15 degrees"},
            ]},
        ],
    ))
    assert req.tools == [Tool(
        name="get_weather", description="Get the current weather in a given location",
        parameters={"type": "object", "properties": {"location": {"type": "string"}},
                    "required": ["location"]},
    )]
    assert req.messages[1] == Message(
        role="assistant",
        content=[TextPart(text="I'll check the current weather in San Francisco for you.")],
        tool_calls=[ToolCall(id="toolu_01A09q90qw90lq917835lq9", name="get_weather",
                             arguments='{"location":"San Francisco, CA","unit":"celsius"}')],
    )
    assert req.messages[2] == Message(
        role="tool", tool_call_id="toolu_01A09q90qw90lq917835lq9",
        content=[TextPart(text="15 degrees")],
    )


def test_user_turn_with_several_tool_results_and_text_splits_in_order() -> None:
    req = decode_messages_request(body(messages=[{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
            {"type": "text", "text": "sunny"}]},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "error: no such city",
         "is_error": True, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "What now?"},
    ]}]))
    assert req.messages == [
        Message(role="tool", tool_call_id="toolu_1", content=[TextPart(text="sunny")]),
        Message(role="tool", tool_call_id="toolu_2", is_error=True,
                content=[TextPart(text="error: no such city",
                                  cache_control={"type": "ephemeral"})]),
        Message(role="user", content=[TextPart(text="What now?")]),
    ]


def test_thinking_blocks_in_history_are_dropped() -> None:
    req = decode_messages_request(body(messages=[
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "text", "text": "Hello!"},
        ]},
    ]))
    assert req.messages[1] == Message(role="assistant", content=[TextPart(text="Hello!")])


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice(mode="auto")),
        ({"type": "any"}, ToolChoice(mode="required")),
        ({"type": "tool", "name": "get_weather"}, ToolChoice(mode="tool", name="get_weather")),
        ({"type": "none"}, ToolChoice(mode="none")),
        ({"type": "auto", "disable_parallel_tool_use": True},
         ToolChoice(mode="auto", parallel=False)),
        ({"type": "any", "disable_parallel_tool_use": False},
         ToolChoice(mode="required", parallel=True)),
    ],
)
def test_tool_choice(tool_choice: dict[str, Any], expected: ToolChoice) -> None:
    assert decode_messages_request(body(tool_choice=tool_choice)).tool_choice == expected


def test_unknown_fields_and_server_tools_go_to_extra() -> None:
    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    req = decode_messages_request(body(
        thinking={"type": "enabled", "budget_tokens": 10000},
        service_tier="auto",
        tools=[web_search, {"name": "calc", "input_schema": {"type": "object"},
                            "cache_control": {"type": "ephemeral"}}],
    ))
    extra = req.extra["anthropic"]
    assert extra["thinking"] == {"type": "enabled", "budget_tokens": 10000}
    assert extra["service_tier"] == "auto"
    assert extra["tools"] == [web_search]
    assert extra["_tool_extra"] == {"calc": {"cache_control": {"type": "ephemeral"}}}
    assert [t.name for t in req.tools] == ["calc"]


def test_structured_output_sets_the_canonical_response_format() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}},
              "required": ["name"], "additionalProperties": False}
    output_config = {"format": {"type": "json_schema", "schema": schema}, "effort": "low"}
    req = decode_messages_request(body(output_config=output_config))
    assert req.response_format == {"type": "json_schema",
                                   "json_schema": {"name": "output", "schema": schema}}
    assert req.extra["anthropic"]["output_config"] == output_config  # for an Anthropic upstream
    assert decode_messages_request(body(output_config={"effort": "low"})).response_format is None


ONE = [{"role": "user", "content": "x"}]
INVALID: list[tuple[Any, str | None]] = [
    ({"max_tokens": 10, "messages": []}, "model"),
    ({"model": "m", "messages": ONE}, "max_tokens"),
    ({"model": "m", "max_tokens": 0, "messages": ONE}, "max_tokens"),
    ({"model": "m", "max_tokens": True, "messages": ONE}, "max_tokens"),
    ({"model": "m", "max_tokens": 1.5, "messages": ONE}, "max_tokens"),
    # Past 64 bits as a reservation in Redis (was a 500 with shared limits).
    ({"model": "m", "max_tokens": 2**63 - 1, "messages": ONE}, "max_tokens"),
    ({"model": "m", "max_tokens": 10}, "messages"),
    ({"model": "m", "max_tokens": 10, "messages": []}, "messages"),
    ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
    ({"messages": [{"role": "user"}]}, "messages.0.content"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": [
        {"type": "text", "text": "ok"}, {"type": "video"}]}]}, "messages.1.content.1.type"),
    ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]},
     "messages.0.content.0.type"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]},
     "messages.0.content.0.source.type"),
    ({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "data": "x"}}]}]},
     "messages.0.content.0.source.media_type"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
     "messages.0.content.0.tool_use_id"),
    ({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document"}]}]}]},
     "messages.0.content.0.content.0.type"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "n",
                                                  "input": {}}]}]}, "messages.0.content.0.type"),
    ({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n",
                                                       "input": "x"}]}]},
     "messages.0.content.0.input"),
    ({"system": [{"type": "image"}]}, "system.0.type"),
    ({"system": 3}, "system"),
    ({"tools": [{"name": "t"}]}, "tools.0.input_schema"),
    ({"tools": [{"input_schema": {}}]}, "tools.0.name"),
    ({"tool_choice": {"type": "required"}}, "tool_choice.type"),
    ({"tool_choice": {"type": ["auto"]}}, "tool_choice.type"),  # unhashable: was a 500
    ({"tool_choice": {"type": {"auto": 1}}}, "tool_choice.type"),
    ({"output_config": {"format": {"type": "json_object"}}}, "output_config.format.type"),
    ({"output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema"),
    ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
    ({"stop_sequences": ["a", 1]}, "stop_sequences.1"),
    ({"temperature": 1.5}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_k": -1}, "top_k"),
    ({"stream": "yes"}, "stream"),
    ({"metadata": {"user_id": 7}}, "metadata.user_id"),
    ([1, 2], None),
]


@pytest.mark.parametrize(("fields", "param"), INVALID, ids=[str(p) for _, p in INVALID])
def test_invalid_requests_name_the_field(fields: Any, param: str | None) -> None:
    if isinstance(fields, dict) and "model" not in fields and "max_tokens" not in fields:
        raw = body(**fields)
    else:
        raw = orjson.dumps(fields)
    with pytest.raises(GatewayError) as info:
        decode_messages_request(raw)
    err = info.value
    assert err.kind is ErrorKind.INVALID_REQUEST
    assert err.param == param
    if param:
        assert err.message.startswith(param + ":")


def test_unparseable_json() -> None:
    with pytest.raises(GatewayError) as info:
        decode_messages_request(b'{"model": ')
    assert info.value.code == "invalid_json"
    assert info.value.status == 400


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


_HELLO = '"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "Hello"}]'
_DEEP_BODIES = [
    ("tools", '{HELLO, "tools": [{"name": "t", "input_schema": {"type": "object", "x": DEEP}}]}'),
    ("messages", '{"model": "m", "max_tokens": 9, "messages": [{"role": "assistant", "content": '
                 '[{"type": "tool_use", "id": "t", "name": "n", "input": {"x": DEEP}}]}]}'),
    ("metadata", '{HELLO, "metadata": {"x": DEEP}}'),
    ("container", '{HELLO, "container": DEEP}'),  # unknown: passed on to an Anthropic upstream
]


@pytest.mark.parametrize("depth", [254, 255, 600, 1000])
@pytest.mark.parametrize(("field", "template"), _DEEP_BODIES, ids=[f for f, _ in _DEEP_BODIES])
def test_json_nested_past_what_an_encoder_can_write_is_a_400_naming_the_field(
    field: str, template: str, depth: int
) -> None:
    # orjson reads 1,024 levels but writes 254: these were accepted, then failed
    # to re-encode as a 500.
    with pytest.raises(GatewayError) as info:
        decode_messages_request(
            template.replace("HELLO", _HELLO).replace("DEEP", nested(depth)).encode()
        )
    assert (info.value.status, info.value.param) == (400, field)
    assert "nested more than 128 levels" in info.value.message


def test_json_nested_deeper_than_the_parser_reads_is_invalid_json() -> None:
    with pytest.raises(GatewayError) as info:
        decode_messages_request(body()[:-1] + b', "container": ' + nested(1025).encode() + b"}")
    assert (info.value.status, info.value.code) == (400, "invalid_json")


def test_nesting_up_to_the_limit_is_accepted() -> None:
    schema = {"type": "object", "x": orjson.loads(nested(120))}
    req = decode_messages_request(body(tools=[{"name": "t", "input_schema": schema}]))
    assert req.tools[0].parameters == schema


# --------------------------------------------------------------------------- answers


def response(**fields: Any) -> ChatResponse:
    message = fields.pop("message", Message(role="assistant", content=[TextPart(text="Hi!")]))
    return ChatResponse(
        id=fields.pop("id", "msg_013Zva2CMHLNnXjNJJKqJ2EF"), model="claude-sonnet-4-5", created=0,
        choices=[Choice(index=0, message=message, finish_reason=fields.pop("finish", "stop"))],
        usage=fields.pop("usage", Usage(input_tokens=2095, output_tokens=503)),
    )


def test_text_response_matches_the_documented_shape() -> None:
    data = orjson.loads(encode_messages_response(response()))
    assert data == {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hi!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 2095, "output_tokens": 503, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0},
    }
    # The SDK's own model accepts it.
    message = anthropic.types.Message.model_validate(data)
    assert message.content[0].type == "text"


def test_tool_use_response_parses_arguments_and_subtracts_cache_tokens() -> None:
    message = Message(role="assistant", content=[TextPart(text="Let me check.")], tool_calls=[
        ToolCall(id="toolu_1", name="get_weather", arguments='{"location": "Paris"}'),
        ToolCall(id="toolu_2", name="broken", arguments='{"location": "Par'),
    ])
    usage = Usage(input_tokens=1000, output_tokens=50, cached_tokens=600, cache_write_tokens=300)
    data = orjson.loads(encode_messages_response(
        response(message=message, finish="tool_calls", usage=usage, id="chatcmpl-abc")
    ))
    assert data["id"] == "chatcmpl-abc"  # upstream ids pass through
    assert data["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
         "input": {"location": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "broken", "input": {}},
    ]
    assert data["stop_reason"] == "tool_use"
    assert data["usage"] == {"input_tokens": 100, "output_tokens": 50,
                             "cache_creation_input_tokens": 300, "cache_read_input_tokens": 600}


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"),
     ("content_filter", "refusal"), (None, "end_turn")],
)
def test_stop_reasons(finish: str | None, stop_reason: str) -> None:
    data = orjson.loads(encode_messages_response(response(finish=finish)))
    assert data["stop_reason"] == stop_reason


def test_missing_id_and_usage_are_filled() -> None:
    data = orjson.loads(encode_messages_response(response(id="", usage=None)))
    assert data["id"].startswith("msg_")
    assert data["usage"] == {"input_tokens": 0, "output_tokens": 0}


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        (ErrorKind.INVALID_REQUEST, "invalid_request_error"),
        (ErrorKind.AUTHENTICATION, "authentication_error"),
        (ErrorKind.PERMISSION, "permission_error"),
        (ErrorKind.NOT_FOUND, "not_found_error"),
        (ErrorKind.TOO_LARGE, "request_too_large"),
        (ErrorKind.RATE_LIMITED, "rate_limit_error"),
        (ErrorKind.INTERNAL, "api_error"),
        (ErrorKind.UPSTREAM, "api_error"),
        (ErrorKind.UNAVAILABLE, "overloaded_error"),
        (ErrorKind.TIMEOUT, "timeout_error"),
    ],
)
def test_error_bodies(kind: ErrorKind, error_type: str) -> None:
    data = orjson.loads(encode_error(GatewayError(kind, "went wrong")))
    assert data == {"type": "error", "error": {"type": error_type, "message": "went wrong"}}


def test_error_body_with_request_id() -> None:
    data = orjson.loads(encode_error(GatewayError.invalid("bad"), request_id="req_1"))
    assert data["request_id"] == "req_1"


# --------------------------------------------------------------------------- streams


def encode_all(events: list[Event], **kwargs: Any) -> bytes:
    encoder = MessagesStreamEncoder(id=kwargs.pop("id", "msg_1"), model="claude-sonnet-4-5",
                                    **kwargs)
    return b"".join(encoder.encode(e) for e in events) + encoder.end()


def parse(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    parser = SSEParser()
    out = [(e.event, orjson.loads(e.data)) for e in parser.feed(raw)]
    assert list(parser.close()) == []
    for name, data in out:
        assert name == data["type"]  # event name and data type agree, as Anthropic sends them
    return out


TEXT_EVENTS: list[Event] = [
    Start(id="up-1", model="claude-sonnet-4-5-20250929"),
    TextDelta(text="Hello"),
    TextDelta(text="!"),
    Finish(reason="stop"),
    Usage(input_tokens=25, output_tokens=15),
]


def test_stream_text_sequence() -> None:
    events = parse(encode_all(TEXT_EVENTS))
    assert [name for name, _ in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["id"] == "msg_1" and start["content"] == [] and start["stop_reason"] is None
    assert events[1][1] == {"type": "content_block_start", "index": 0,
                            "content_block": {"type": "text", "text": ""}}
    assert events[2][1] == {"type": "content_block_delta", "index": 0,
                            "delta": {"type": "text_delta", "text": "Hello"}}
    assert events[5][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15, "input_tokens": 25, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0},
    }


def test_stream_frames_are_emitted_as_events_arrive() -> None:
    encoder = MessagesStreamEncoder(id="msg_1", model="m")
    assert encoder.encode(Start(id="x", model="m")).startswith(b"event: message_start\ndata: {")
    assert encoder.encode(TextDelta(text="Hi")).endswith(
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    )
    assert encoder.encode(Usage(output_tokens=1)) == b""  # waits for end()
    assert encoder.end().endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert encoder.end() == b""


def test_stream_text_then_parallel_tool_calls_use_separate_blocks() -> None:
    events = parse(encode_all([
        Start(id="x", model="m"),
        TextDelta(text="Let me check."),
        ToolCallDelta(call_index=0, id="toolu_1", name="get_weather", arguments=""),
        ToolCallDelta(call_index=0, arguments='{"location":'),
        ToolCallDelta(call_index=0, arguments=' "Paris"}'),
        ToolCallDelta(call_index=1, id="toolu_2", name="get_time", arguments="{}"),
        Finish(reason="tool_calls"),
        Usage(input_tokens=1000, output_tokens=40, cached_tokens=900),
    ]))
    assert [(name, data.get("index")) for name, data in events] == [
        ("message_start", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_stop", 2),
        ("message_delta", None), ("message_stop", None),
    ]
    assert events[4][1]["content_block"] == {"type": "tool_use", "id": "toolu_1",
                                             "name": "get_weather", "input": {}}
    assert events[5][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"location":'}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["input_tokens"] == 100
    assert events[-2][1]["usage"]["cache_read_input_tokens"] == 900


def test_stream_stop_sequence_and_lazy_message_start() -> None:
    events = parse(encode_all([TextDelta(text="a"), Finish(reason="stop", stop_sequence="END")]))
    assert events[0][0] == "message_start"
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert events[-2][1]["usage"] == {"output_tokens": 0}


def test_stream_error_event_and_nothing_after() -> None:
    encoder = MessagesStreamEncoder(id="msg_1", model="m")
    encoder.encode(TextDelta(text="partial"))
    raw = encoder.error(GatewayError(ErrorKind.UNAVAILABLE, "no healthy target"))
    assert raw == (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                   b'"message":"no healthy target"}}\n\n')
    assert encoder.end() == b""
    assert encoder.encode(TextDelta(text="late")) == b""


# --------------------------------------------------------------------------- the official SDK


Handler = Callable[[dict[str, Any]], list[bytes]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    """Serve POST /v1/messages from a function of the request body; yield an SDK client."""
    servers: list[TestServer] = []

    async def start(handler: Handler, status: int = 200,
                    content_type: str = "text/event-stream") -> anthropic.AsyncAnthropic:
        async def messages(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(status=status, headers={"content-type": content_type})
            await resp.prepare(request)
            for chunk in handler(await request.json()):
                await resp.write(chunk)
            await resp.write_eof()
            return resp

        app = web.Application()
        app.router.add_post("/v1/messages", messages)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return anthropic.AsyncAnthropic(
            base_url=str(server.make_url("")), api_key="x", max_retries=0
        )

    yield start
    for server in servers:
        await server.close()


def streamed(events: list[Event], fail: GatewayError | None = None) -> Handler:
    def handler(_: dict[str, Any]) -> list[bytes]:
        encoder = MessagesStreamEncoder(id="msg_gw", model="claude-sonnet-4-5")
        chunks = [encoder.encode(e) for e in events]
        chunks.append(encoder.error(fail) if fail else encoder.end())
        return chunks
    return handler


SDK_ARGS: dict[str, Any] = {
    "model": "smart", "max_tokens": 100,  # a gateway alias
    "messages": [{"role": "user", "content": "Hello"}],
}


async def test_sdk_reads_a_streamed_text_answer(serve: Callable[..., Any]) -> None:
    client = await serve(streamed(TEXT_EVENTS))
    async with client.messages.stream(**SDK_ARGS) as stream:
        texts = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert texts == ["Hello", "!"]
    assert message.id == "msg_gw"
    assert message.content[0].type == "text" and message.content[0].text == "Hello!"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (25, 15)


async def test_sdk_reads_streamed_tool_use_and_cache_usage(serve: Callable[..., Any]) -> None:
    client = await serve(streamed([
        Start(id="x", model="m"),
        TextDelta(text="Checking."),
        ToolCallDelta(call_index=0, id="toolu_1", name="get_weather", arguments='{"loc'),
        ToolCallDelta(call_index=0, arguments='ation": "Paris"}'),
        ToolCallDelta(call_index=1, id="toolu_2", name="get_time", arguments='{"tz": "CET"}'),
        Finish(reason="tool_calls"),
        Usage(input_tokens=1000, output_tokens=40, cached_tokens=600, cache_write_tokens=300),
    ]))
    async with client.messages.stream(**SDK_ARGS) as stream:
        message = await stream.get_final_message()
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]
    tool = message.content[1]
    assert tool.type == "tool_use"
    assert (tool.id, tool.name, tool.input) == ("toolu_1", "get_weather", {"location": "Paris"})
    assert message.content[2].input == {"tz": "CET"}
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens, usage.output_tokens) == (100, 600, 300, 40)


async def test_sdk_raw_event_stream(serve: Callable[..., Any]) -> None:
    client = await serve(streamed(TEXT_EVENTS))
    stream = await client.messages.create(**SDK_ARGS, stream=True)
    types = [event.type async for event in stream]
    assert types == ["message_start", "content_block_start", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta", "message_stop"]


async def test_sdk_raises_on_the_error_event(serve: Callable[..., Any]) -> None:
    client = await serve(streamed(
        [Start(id="x", model="m"), TextDelta(text="partial")],
        fail=GatewayError(ErrorKind.UPSTREAM, "upstream broke off"),
    ))
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        async with client.messages.stream(**SDK_ARGS) as stream:
            async for text in stream.text_stream:
                received.append(text)
    assert received == ["partial"]
    assert info.value.body == {"type": "error",
                               "error": {"type": "api_error", "message": "upstream broke off"}}


async def test_sdk_reads_a_non_streamed_answer(serve: Callable[..., Any]) -> None:
    message = Message(role="assistant", content=[TextPart(text="Hi!")], tool_calls=[
        ToolCall(id="toolu_1", name="f", arguments='{"a": 1}')])
    client = await serve(lambda _: [encode_messages_response(response(message=message,
                                                                      finish="tool_calls"))],
                         content_type="application/json")
    result = await client.messages.create(**SDK_ARGS)
    assert result.content[0].type == "text" and result.content[0].text == "Hi!"
    assert result.content[1].type == "tool_use" and result.content[1].input == {"a": 1}
    assert result.usage.input_tokens == 2095


@pytest.mark.parametrize(
    ("err", "sdk_error"),
    [
        (GatewayError.invalid("messages: Field required", param="messages"),
         anthropic.BadRequestError),
        (GatewayError(ErrorKind.AUTHENTICATION, "invalid key"), anthropic.AuthenticationError),
        (GatewayError(ErrorKind.RATE_LIMITED, "slow down"), anthropic.RateLimitError),
        (GatewayError(ErrorKind.UNAVAILABLE, "shed"), anthropic.InternalServerError),
    ],
)
async def test_sdk_raises_on_error_bodies(
    serve: Callable[..., Any], err: GatewayError, sdk_error: type[Exception]
) -> None:
    client = await serve(lambda _: [encode_error(err)], status=err.status,
                         content_type="application/json")
    with pytest.raises(sdk_error) as info:
        await client.messages.create(**SDK_ARGS)
    assert err.message in str(info.value)


def test_tool_arguments_nested_too_deep_to_write_back_become_an_empty_input() -> None:
    deep = '{"a": ' * 300 + "1" + "}" * 300  # orjson reads it, but cannot write it again
    answer = ChatResponse(id="m1", model="m", created=0, choices=[Choice(
        index=0, finish_reason="tool_calls",
        message=Message(role="assistant", tool_calls=[
            ToolCall(id="t1", name="lookup", arguments=deep)]))])
    body = orjson.loads(encode_messages_response(answer))
    assert body["content"] == [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}]
