"""Anthropic Messages, upstream side: requests out, answers and streams in."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fakes.anthropic_upstream import (
    STREAMED_ERROR,
    STREAMED_TEXT,
    STREAMED_TOOL_USE,
    TEXT_MESSAGE,
    TOOL_USE_MESSAGE,
    Reply,
    stream_events,
)
from sluicegate.canonical import (
    ChatRequest,
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
from sluicegate.canonical.collect import ResponseCollector
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.anthropic import (
    DEFAULT_MAX_TOKENS,
    MessagesStreamDecoder,
    MessagesStreamEncoder,
    decode_messages_request,
    decode_messages_response,
    encode_messages_request,
)
from sluicegate.protocols.anthropic.messages_upstream import JSON_OBJECT_INSTRUCTION
from sluicegate.protocols.sse import SSEParser


def encode(req: ChatRequest, model: str = "claude-opus-4-6") -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(encode_messages_request(req, model))
    return data


def chat(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="smart", messages=list(messages), **fields)


USER = Message(role="user", content=[TextPart(text="Hello")])


# --------------------------------------------------------------------------- requests


def test_minimal_request_gets_default_max_tokens() -> None:
    assert encode(chat(USER)) == {
        "model": "claude-opus-4-6",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
    }


def test_system_messages_are_lifted_with_cache_control() -> None:
    body = encode(chat(
        Message(role="system", content=[TextPart(text="Be brief.")]),
        USER,
        Message(role="system",
                content=[TextPart(text="Long doc", cache_control={"type": "ephemeral"})]),
    ))
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Long doc", "cache_control": {"type": "ephemeral"}},
    ]
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_openai_style_tool_loop_becomes_alternating_turns() -> None:
    body = encode(chat(
        USER,
        Message(role="assistant", content=[TextPart(text="")], tool_calls=[
            ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}'),
            ToolCall(id="call_2", name="get_time", arguments="{not json"),
        ]),
        Message(role="tool", tool_call_id="call_1", content=[TextPart(text="sunny")]),
        Message(role="tool", tool_call_id="call_2", content=[TextPart(text="boom")], is_error=True),
        Message(role="user", content=[TextPart(text="And tomorrow?")]),
    ))
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "boom", "is_error": True},
            {"type": "text", "text": "And tomorrow?"},
        ]},
    ]


def test_tool_call_arguments_nested_past_what_the_encoder_writes_are_sent_as_empty() -> None:
    deep = '{"a": ' * 300 + "1" + "}" * 300  # orjson reads it but cannot write it back
    body = encode(chat(
        USER,
        Message(role="assistant", tool_calls=[ToolCall(id="c", name="f", arguments=deep)]),
    ))
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "c", "name": "f", "input": {}}
    ]


def test_consecutive_same_role_messages_merge_and_empty_ones_drop() -> None:
    body = encode(chat(
        USER, Message(role="user", content=[TextPart(text="Are you there?")]),
        Message(role="assistant", content=[]),
        Message(role="user", content=[TextPart(text="Hello?")]),
    ))
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Hello"}, {"type": "text", "text": "Are you there?"},
        {"type": "text", "text": "Hello?"},
    ]}]


@pytest.mark.parametrize(
    ("image", "source"),
    [
        (ImagePart(media_type="image/jpeg", data="/9j/4AAQ"),
         {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}),
        (ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
         {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}),
        (ImagePart(url="https://example.com/cat.jpg"),
         {"type": "url", "url": "https://example.com/cat.jpg"}),
    ],
)
def test_images(image: ImagePart, source: dict[str, Any]) -> None:
    body = encode(chat(Message(role="user", content=[image, TextPart(text="What is this?")])))
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": source}, {"type": "text", "text": "What is this?"},
    ]


def test_tool_result_with_image_or_cache_control_uses_blocks() -> None:
    body = encode(chat(Message(role="tool", tool_call_id="toolu_1", content=[
        TextPart(text="chart:"), ImagePart(media_type="image/png", data="AAA"),
        TextPart(text="done", cache_control={"type": "ephemeral"}),
    ])))
    assert body["messages"][0]["content"] == [{
        "type": "tool_result", "tool_use_id": "toolu_1", "content": [
            {"type": "text", "text": "chart:"},
            {"type": "image",
             "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
            {"type": "text", "text": "done", "cache_control": {"type": "ephemeral"}},
        ],
    }]


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice(mode="auto"), {"type": "auto"}),
        (ToolChoice(mode="required"), {"type": "any"}),
        (ToolChoice(mode="tool", name="calc"), {"type": "tool", "name": "calc"}),
        (ToolChoice(mode="none"), {"type": "none"}),
        (ToolChoice(mode="auto", parallel=False),
         {"type": "auto", "disable_parallel_tool_use": True}),
        (ToolChoice(mode="required", parallel=True), {"type": "any"}),
    ],
)
def test_tools_and_tool_choice(choice: ToolChoice, wire: dict[str, Any]) -> None:
    body = encode(chat(USER, tools=[
        Tool(name="calc", description="Add numbers", parameters={"type": "object"}),
        Tool(name="noop"),
    ], tool_choice=choice))
    assert body["tools"] == [
        {"name": "calc", "description": "Add numbers", "input_schema": {"type": "object"}},
        {"name": "noop", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert body["tool_choice"] == wire


def test_tool_choice_without_tools_is_not_sent() -> None:
    assert "tool_choice" not in encode(chat(USER, tool_choice=ToolChoice(mode="auto")))


def test_sampling_fields_and_what_has_no_anthropic_equivalent() -> None:
    body = encode(chat(
        USER, stream=True, max_tokens=50, temperature=1.7, top_p=0.5, top_k=3, stop=["END"],
        user="u-1", seed=7, n=1,
    ))
    assert body == {
        "model": "claude-opus-4-6", "max_tokens": 50, "stream": True,
        "temperature": 1.0,  # clamped to Anthropic's range
        "top_p": 0.5, "top_k": 3, "stop_sequences": ["END"], "metadata": {"user_id": "u-1"},
        "messages": body["messages"],
    }


def test_a_json_schema_becomes_anthropic_structured_output() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    body = encode(chat(USER, response_format=response_format))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "response_format" not in body


def test_json_mode_becomes_an_instruction_at_the_end_of_the_system_prompt() -> None:
    body = encode(chat(
        Message(role="system", content=[TextPart(text="Be brief.")]), USER,
        response_format={"type": "json_object"},
    ))
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": JSON_OBJECT_INSTRUCTION},
    ]
    assert "output_config" not in body


def test_an_anthropic_clients_own_output_format_is_forwarded_alone() -> None:
    own = {"type": "json_schema", "schema": {"type": "object"}}
    body = encode(chat(
        USER, response_format={"type": "json_schema", "json_schema": {"name": "o", "schema": {}}},
        extra={"anthropic": {"output_format": own}},
    ))
    assert body["output_format"] == own and "output_config" not in body


# Requests from Anthropic's docs: through the gateway to an Anthropic upstream
# they must arrive as sent (model aside, and in the block form of content).
DOCUMENTED_REQUESTS: list[dict[str, Any]] = [
    {
        "model": "claude-opus-4-6", "max_tokens": 1024,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, world"}]}],
    },
    {
        "model": "claude-opus-4-6", "max_tokens": 1024, "stream": True,
        "system": [
            {"type": "text",
             "text": "You are an AI assistant tasked with analyzing literary works."},
            {"type": "text", "text": "<the entire contents of Pride and Prejudice>",
             "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Analyze the major themes in Pride and Prejudice."}]}],
    },
    {
        "model": "claude-opus-4-6", "max_tokens": 1024,
        "tools": [{
            "name": "get_weather", "description": "Get the current weather in a given location",
            "input_schema": {"type": "object", "properties": {"location": {
                "type": "string", "description": "The city and state, e.g. San Francisco, CA"}},
                "required": ["location"]},
            "cache_control": {"type": "ephemeral"},
            "strict": True,
            "input_examples": [{"location": "Paris, France"}],
        }, {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What's the weather like in San Francisco?"}]},
            {"role": "assistant", "content": [
                {"type": "text",
                 "text": "I'll check the current weather in San Francisco for you."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                 "input": {"location": "San Francisco, CA", "unit": "celsius"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                 "content": "15 degrees"},
                {"type": "text", "text": "Thanks! And in Paris?"},
            ]},
        ],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "cache_control": {"type": "ephemeral"},
        "metadata": {"user_id": "13803d75-b4b5-4c3e-b2a2-6f21399b021b"},
    },
    {
        "model": "claude-opus-4-6", "max_tokens": 1024, "temperature": 0.2, "top_k": 5,
        "stop_sequences": ["\n\nHuman:"],
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                         "data": "/9j/4AAQSkZJRg=="}},
            {"type": "image", "source": {"type": "url",
                                         "url": "https://upload.wikimedia.org/ant.jpg"}},
            {"type": "text", "text": "Compare these images."},
        ]}],
    },
]


@pytest.mark.parametrize("request_body", DOCUMENTED_REQUESTS)
def test_anthropic_to_anthropic_round_trip(request_body: dict[str, Any]) -> None:
    req = decode_messages_request(orjson.dumps(request_body))
    assert encode(req, request_body["model"]) == request_body


# --------------------------------------------------------------------------- answers


def collect(events: list[Event]) -> ResponseCollector:
    collector = ResponseCollector()
    for event in events:
        collector.add(event)
    return collector


def test_documented_text_message() -> None:
    events = decode_messages_response(orjson.dumps(TEXT_MESSAGE))
    assert isinstance(events[0], Start)
    assert (events[0].id, events[0].model) == ("msg_013Zva2CMHLNnXjNJJKqJ2EF",
                                               "claude-sonnet-4-5-20250929")
    assert events[1:] == [
        TextDelta(text="Hi! My name is Claude."),
        Finish(reason="stop"),
        Usage(input_tokens=2095, output_tokens=503),
    ]


def test_documented_tool_use_message() -> None:
    events = decode_messages_response(orjson.dumps(TOOL_USE_MESSAGE))
    assert events[1:] == [
        TextDelta(text="I'll check the current weather in San Francisco for you."),
        ToolCallDelta(call_index=0, id="toolu_01A09q90qw90lq917835lq9", name="get_weather",
                      arguments='{"location":"San Francisco, CA","unit":"celsius"}'),
        Finish(reason="tool_calls"),
        Usage(input_tokens=472, output_tokens=91),
    ]


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
     ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("pause_turn", "stop"),
     ("model_context_window_exceeded", "length")],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    events = decode_messages_response(orjson.dumps({**TEXT_MESSAGE, "stop_reason": stop_reason}))
    assert Finish(reason=finish) in events  # type: ignore[arg-type]


def test_cache_usage_is_folded_into_input_tokens() -> None:
    usage = {"input_tokens": 21, "cache_creation_input_tokens": 188086,
             "cache_read_input_tokens": 0, "output_tokens": 393}
    events = decode_messages_response(orjson.dumps({**TEXT_MESSAGE, "usage": usage}))
    assert events[-1] == Usage(input_tokens=188107, output_tokens=393, cached_tokens=0,
                               cache_write_tokens=188086)


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"type": "message"}'])
def test_unusable_answers(raw: bytes) -> None:
    with pytest.raises(GatewayError) as info:
        decode_messages_response(raw)
    assert info.value.code == "upstream_bad_response"


# --------------------------------------------------------------------------- streams


def decode_stream(raw: bytes, chunk: int = 7) -> tuple[list[Event], MessagesStreamDecoder]:
    """Feed ``raw`` in small chunks, as a network would deliver it."""
    parser = SSEParser()
    decoder = MessagesStreamDecoder("claude")
    events: list[Event] = []
    for i in range(0, len(raw), chunk):
        for sse in parser.feed(raw[i:i + chunk]):
            events.extend(decoder.feed(sse.event, sse.data))
    for sse in parser.close():
        events.extend(decoder.feed(sse.event, sse.data))
    return events, decoder


def test_documented_text_stream() -> None:
    events, decoder = decode_stream(STREAMED_TEXT)
    assert decoder.done
    assert isinstance(events[0], Start)
    assert events[0].id == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
    assert events[1:] == [
        TextDelta(text="Hello"), TextDelta(text="!"), Finish(reason="stop"),
        Usage(input_tokens=25, output_tokens=15),
    ]


def test_documented_tool_use_stream() -> None:
    events, decoder = decode_stream(STREAMED_TOOL_USE)
    assert decoder.done
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(call_index=0, id="toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                                     name="get_weather")
    assert all(c.call_index == 0 and c.id is None for c in calls[1:])
    answer = collect(events).response()
    message = answer.choices[0].message
    assert message.text() == "Okay, let's check the weather for San Francisco, CA:"
    assert orjson.loads(message.tool_calls[0].arguments) == {"location": "San Francisco, CA",
                                                             "unit": "fahrenheit"}
    assert answer.choices[0].finish_reason == "tool_calls"
    assert answer.usage == Usage(input_tokens=472, output_tokens=89)


def test_recorded_stream_with_cache_usage_on_message_delta() -> None:
    # A recorded claude-haiku-4-5 stream: newer APIs repeat the (cumulative)
    # input and cache counts on message_delta.
    raw = b"".join(
        b"data: " + line + b"\n\n" for line in [
            b'{"type":"message_start","message":{"model":"claude-haiku-4-5-20251001","id":"msg_01K2JbSUMYhez5RHoK9ZCj9U","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":849,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":10,"service_tier":"standard"}}}',
            b'{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_01KFbKqPYSuAKujiL6mTfzYA","name":"json","input":{}}}',
            b'{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}',
            b'{"type":"ping"}',
            b'{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"elements\\": [{\\"location\\": \\"San Francisco\\", \\"temperature\\": 58, \\"condition\\": \\"sunny\\"}]"}}',  # noqa: E501
            b'{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"}"}}',
            b'{"type":"content_block_stop","index":0}',
            b'{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":849,"cache_creation_input_tokens":0,"cache_read_input_tokens":300,"output_tokens":47}}',
            b'{"type":"message_stop"}',
        ]
    )  # (no "event:" lines: the decoder then goes by the data's "type")
    events, decoder = decode_stream(raw)
    assert decoder.done
    assert events[-2:] == [Finish(reason="tool_calls"),
                           Usage(input_tokens=1149, output_tokens=47, cached_tokens=300)]


def test_thinking_blocks_are_skipped_and_indexes_still_line_up() -> None:
    raw = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m",'
        b'"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"thinking","thinking":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"thinking_delta","thinking":"Let me think"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"signature_delta","signature":"EqQB"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":1,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,'
        b'"delta":{"type":"text_delta","text":"42"}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"output_tokens":30}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    events, _ = decode_stream(raw)
    assert events[1:] == [TextDelta(text="42"), Finish(reason="stop"),
                          Usage(input_tokens=5, output_tokens=30)]


def test_error_event_mid_stream_raises_mapped_error() -> None:
    raw = STREAMED_TEXT.split(b"event: content_block_stop")[0] + STREAMED_ERROR
    with pytest.raises(GatewayError) as info:
        decode_stream(raw)
    err = info.value
    assert err.kind is ErrorKind.UPSTREAM
    assert err.retryable
    assert err.upstream_status == 529
    assert "overloaded_error" in err.message


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [("rate_limit_error", ErrorKind.RATE_LIMITED), ("api_error", ErrorKind.UPSTREAM),
     ("invalid_request_error", ErrorKind.INVALID_REQUEST), ("timeout_error", ErrorKind.TIMEOUT),
     ("something_new", ErrorKind.UPSTREAM)],
)
def test_error_event_kinds(error_type: str, kind: ErrorKind) -> None:
    decoder = MessagesStreamDecoder("claude")
    with pytest.raises(GatewayError) as info:
        decoder.feed("error", orjson.dumps(
            {"type": "error", "error": {"type": error_type, "message": "m"}}).decode())
    assert info.value.kind is kind


def test_cut_stream_is_not_done() -> None:
    _, decoder = decode_stream(STREAMED_TEXT.split(b"event: message_stop")[0])
    assert not decoder.done


def test_invalid_json_in_stream() -> None:
    with pytest.raises(GatewayError) as info:
        MessagesStreamDecoder().feed("content_block_delta", "{oops")
    assert info.value.code == "upstream_bad_response"


# --------------------------------------------------------------------------- full circle


@pytest.mark.parametrize(
    "reply",
    [
        Reply(content=[{"type": "text", "text": "Hello there, how are you?"}],
              usage={"input_tokens": 10, "output_tokens": 7}),
        Reply(content=[
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "toolu_a", "name": "get_weather",
             "input": {"location": "San Francisco, CA", "unit": "celsius"}},
            {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {"tz": "PST"}},
        ], stop_reason="tool_use",
            usage={"input_tokens": 12, "cache_read_input_tokens": 400,
                   "cache_creation_input_tokens": 50, "output_tokens": 60}),
    ],
    ids=["text", "parallel-tools-with-cache"],
)
def test_upstream_stream_through_the_gateway_reaches_the_client_unchanged(reply: Reply) -> None:
    upstream = b"".join(b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
                        for name, data in stream_events(reply, "claude-opus-4-6"))
    events, _ = decode_stream(upstream)
    encoder = MessagesStreamEncoder(id="msg_gw", model="claude-opus-4-6")
    to_client = b"".join(encoder.encode(e) for e in events) + encoder.end()

    # Decoding what the client got gives the same canonical events (Start aside).
    again, decoder = decode_stream(to_client, chunk=11)
    assert decoder.done
    assert again[1:] == events[1:]
    answer = collect(again).response()
    assert answer.usage is not None
    assert answer.usage.cached_tokens == reply.usage.get("cache_read_input_tokens", 0)
