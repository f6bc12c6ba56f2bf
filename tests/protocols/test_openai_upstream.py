"""OpenAI wire format, upstream side: canonical requests out, answers and streams in.

Fixtures are the API reference's examples and streams recorded from the live
API (fakes.openai_upstream), plus the documented quirks of OpenAI-compatible
servers (Azure's prompt-filter chunk, usage on every chunk, errors mid-stream).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fakes.openai_upstream import (
    AZURE_PROMPT_FILTER_CHUNK,
    CHAT_COMPLETION,
    CHAT_REQUEST,
    EMBEDDING_RESPONSE,
    IMAGE_REQUEST,
    STREAMED_EXAMPLE_CHUNKS,
    STREAMED_PARALLEL_TOOL_CALLS,
    STREAMED_TEXT,
    STREAMED_TEXT_ANSWER,
    STREAMED_TOOL_CALL,
    TOOL_CALL_COMPLETION,
    TOOLS_REQUEST,
)
from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    EmbeddingsResult,
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
from sluicegate.protocols.openai import (
    ChatStreamDecoder,
    decode_chat_request,
    decode_chat_response,
    decode_embeddings_response,
    encode_chat_request,
    encode_embeddings_request,
)
from sluicegate.protocols.openai.chat_upstream import finish_reason
from sluicegate.protocols.sse import SSEParser


def sent(req: ChatRequest, model: str = "gpt-4o") -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(encode_chat_request(req, model))
    return out


def feed_all(decoder: ChatStreamDecoder, data: bytes) -> list[Event]:
    return [e for sse in SSEParser().feed(data) for e in decoder.feed(sse.data)]


def user(text: str = "Hi") -> Message:
    return Message(role="user", content=[TextPart(text=text)])


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize("documented", [CHAT_REQUEST, IMAGE_REQUEST, TOOLS_REQUEST],
                         ids=["default", "image", "tools"])
def test_documented_requests_pass_through_unchanged(documented: dict[str, Any]) -> None:
    req = decode_chat_request(orjson.dumps(documented))

    assert sent(req, documented["model"]) == documented


def test_client_fields_without_canonical_meaning_pass_through() -> None:
    req = decode_chat_request(orjson.dumps({
        **CHAT_REQUEST, "logprobs": True, "top_logprobs": 2, "reasoning_effort": "low",
        "metadata": {"team": "a"}, "service_tier": "flex"}))

    body = sent(req)

    assert {k: body[k] for k in ("logprobs", "top_logprobs", "reasoning_effort", "metadata",
                                 "service_tier")} == {
        "logprobs": True, "top_logprobs": 2, "reasoning_effort": "low",
        "metadata": {"team": "a"}, "service_tier": "flex"}
    assert body["model"] == "gpt-4o"  # the target's model, not the alias


def test_streams_always_ask_for_usage() -> None:
    req = ChatRequest(model="smart", messages=[user()], stream=True, include_usage=False)

    body = sent(req)

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(("client_field", "sent_field"), [
    ("max_tokens", "max_tokens"),
    ("max_completion_tokens", "max_completion_tokens"),
])
def test_max_tokens_keeps_the_clients_name_and_the_canonical_value(
        client_field: str, sent_field: str) -> None:
    req = decode_chat_request(orjson.dumps({**CHAT_REQUEST, client_field: 500}))
    req.max_tokens = 200  # e.g. lowered by a later stage

    body = sent(req)

    assert body[sent_field] == 200
    assert {"max_tokens", "max_completion_tokens"} & body.keys() == {sent_field}


def test_request_from_another_protocol() -> None:
    """An Anthropic-shaped canonical request: cache_control, base64 images, tool results."""
    req = ChatRequest(
        model="smart",
        messages=[
            Message(role="system", content=[
                TextPart(text="You are terse.", cache_control={"type": "ephemeral"})]),
            Message(role="user", content=[
                TextPart(text="What is this?"),
                ImagePart(media_type="image/jpeg", data="/9j/4AAQ"),
            ]),
            Message(role="assistant", content=[TextPart(text="Let me look.")], tool_calls=[
                ToolCall(id="toolu_1", name="lookup", arguments='{"q":"x"}')]),
            Message(role="tool", tool_call_id="toolu_1", is_error=True,
                    content=[TextPart(text="not found")]),
        ],
        max_tokens=1024, top_k=40, stop=["\n\nHuman:"],
        tools=[Tool(name="lookup", description="Look up", parameters={"type": "object"})],
        tool_choice=ToolChoice(mode="tool", name="lookup", parallel=False),
        extra={"anthropic": {"metadata": {"user_id": "u"}}},
    )

    assert sent(req, "gpt-4o-mini") == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            ]},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "toolu_1", "type": "function",
                 "function": {"name": "lookup", "arguments": '{"q":"x"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "not found"},
        ],
        "max_tokens": 1024,
        "stop": ["\n\nHuman:"],
        "tools": [{"type": "function", "function": {
            "name": "lookup", "description": "Look up", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": False,
    }


def test_tool_choice_is_not_sent_without_tools() -> None:
    req = ChatRequest(model="m", messages=[user()], tool_choice=ToolChoice(mode="none",
                                                                          parallel=True))

    assert {"tool_choice", "parallel_tool_calls", "tools"} & sent(req).keys() == set()


def test_assistant_with_only_tool_calls_has_null_content() -> None:
    req = ChatRequest(model="m", messages=[
        user(), Message(role="assistant", tool_calls=[ToolCall(id="c", name="f", arguments="{}")])])

    assert sent(req)["messages"][1]["content"] is None


# --------------------------------------------------------------------------- whole answers


def test_documented_answer_events() -> None:
    assert decode_chat_response(orjson.dumps(CHAT_COMPLETION)) == [
        Start(id="chatcmpl-123", model="gpt-4o-mini", created=1677652288),
        TextDelta(text="\n\nHello there, how may I assist you today?"),
        Finish(reason="stop"),
        Usage(input_tokens=9, output_tokens=12),
    ]


def test_documented_tool_call_answer_events() -> None:
    assert decode_chat_response(orjson.dumps(TOOL_CALL_COMPLETION)) == [
        Start(id="chatcmpl-abc123", model="gpt-4o-mini", created=1699896916),
        ToolCallDelta(call_index=0, id="call_abc123", name="get_current_weather",
                      arguments='{\n"location": "Boston, MA"\n}'),
        Finish(reason="tool_calls"),
        Usage(input_tokens=82, output_tokens=17),
    ]


def test_usage_details_and_several_choices() -> None:
    answer = {
        "id": "c", "object": "chat.completion", "created": 1, "model": "o3-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"},
            {"index": 1, "message": {"role": "assistant", "content": "B"},
             "finish_reason": "length"},
        ],
        "usage": {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                  "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 192, "audio_tokens": 0}},
    }

    events = decode_chat_response(orjson.dumps(answer))

    assert events[1:] == [
        TextDelta(text="A", index=0), Finish(reason="stop", index=0),
        TextDelta(text="B", index=1), Finish(reason="length", index=1),
        Usage(input_tokens=2006, output_tokens=300, cached_tokens=1920, reasoning_tokens=192),
    ]


def test_refusal_is_what_the_model_said() -> None:
    answer = {"id": "c", "model": "m", "created": 1, "choices": [{"index": 0, "message": {
        "role": "assistant", "content": None, "refusal": "I can't help with that."},
        "finish_reason": "stop"}]}

    assert TextDelta(text="I can't help with that.") in decode_chat_response(
        orjson.dumps(answer))


@pytest.mark.parametrize(("body", "kind", "code"), [
    (b"<html>502 Bad Gateway</html>", ErrorKind.UPSTREAM, "upstream_bad_response"),
    (b"[]", ErrorKind.UPSTREAM, "upstream_bad_response"),
    (b'{"id": "c", "object": "chat.completion"}', ErrorKind.UPSTREAM, "upstream_bad_response"),
    (b'{"choices": [{"index": 0}]}', ErrorKind.UPSTREAM, "upstream_bad_response"),
    (b'{"error": {"message": "The server had an error", "type": "server_error"}}',
     ErrorKind.UPSTREAM, "upstream_error"),
    (b'{"error": {"message": "Rate limit reached", "type": "requests",'
     b' "code": "rate_limit_exceeded"}}', ErrorKind.RATE_LIMITED, "upstream_rate_limited"),
])
def test_unusable_answers_raise(body: bytes, kind: ErrorKind, code: str) -> None:
    with pytest.raises(GatewayError) as info:
        decode_chat_response(body, provider="main")

    assert (info.value.kind, info.value.code) == (kind, code)
    assert "'main'" in info.value.message


@pytest.mark.parametrize(("upstream", "canonical"), [
    ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"),
    ("content_filter", "content_filter"), ("function_call", "tool_calls"), ("eos", "stop"),
])
def test_finish_reasons(upstream: str, canonical: str) -> None:
    assert finish_reason(upstream) == canonical


# --------------------------------------------------------------------------- streams


def test_documented_stream_example() -> None:
    decoder = ChatStreamDecoder()

    events = [e for chunk in STREAMED_EXAMPLE_CHUNKS for e in decoder.feed(chunk)]
    events += decoder.feed("[DONE]")

    assert events == [Start(id="chatcmpl-123", model="gpt-4o-mini", created=1694268190),
                      TextDelta(text="Hello"), Finish(reason="stop")]
    assert decoder.done


def test_recorded_text_stream() -> None:
    decoder = ChatStreamDecoder()

    events = feed_all(decoder, STREAMED_TEXT)

    assert events[0] == Start(id="chatcmpl-9tXjg9DdaOfymTPDrSLfxslQEH0C2",
                              model="gpt-4o-2024-08-06", created=1723024748)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == STREAMED_TEXT_ANSWER
    assert events[-2:] == [Finish(reason="stop"), Usage(input_tokens=14, output_tokens=47)]
    assert decoder.done


def test_recorded_tool_call_stream() -> None:
    events = feed_all(ChatStreamDecoder(), STREAMED_TOOL_CALL)

    assert events == [
        Start(id="chatcmpl-9tXjtfxZZh2FYaFVxXKf2jiqNDiSo", model="gpt-4o-2024-08-06",
              created=1723024761),
        ToolCallDelta(call_index=0, id="call_5uxEBMFySqqQGu02I5QHA8k6", name="get_weather",
                      arguments=""),
        *[ToolCallDelta(call_index=0, arguments=a)
          for a in ['{"', "city", '":"', "New", " York", " City", '"}']],
        Finish(reason="tool_calls"),
        Usage(input_tokens=44, output_tokens=16),
    ]


def test_recorded_parallel_tool_calls_collect_into_two_calls() -> None:
    collector = ResponseCollector()
    for event in feed_all(ChatStreamDecoder(), STREAMED_PARALLEL_TOOL_CALLS):
        collector.add(event)

    response = collector.response()

    assert response.choices[0].message.tool_calls == [
        ToolCall(id="call_lQnnsesjFMWMQ5IeWPHzR4th", name="GetWeatherArgs",
                 arguments='{"city": "Edinburgh", "country": "UK", "units": "c"}'),
        ToolCall(id="call_2xjOUgaCdiwAcl9ZBL9LyMUU", name="get_stock_price",
                 arguments='{"ticker": "AAPL", "exchange": "NASDAQ"}'),
    ]
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage == Usage(input_tokens=149, output_tokens=60)


def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
    return orjson.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 7,
                         "model": "m", "choices": choices, **extra}).decode()


def test_usage_null_chunks_and_usage_only_once_at_the_end() -> None:
    """With include_usage OpenAI sends usage: null on every chunk; some compatible
    servers report running usage on every chunk: only the last one counts."""
    decoder = ChatStreamDecoder()
    events = decoder.feed(chunk([{"index": 0, "delta": {"content": "a"}}], usage=None))
    events += decoder.feed(chunk([{"index": 0, "delta": {"content": "b"}}],
                                 usage={"prompt_tokens": 5, "completion_tokens": 1}))
    events += decoder.feed(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                 usage={"prompt_tokens": 5, "completion_tokens": 2}))
    assert not any(isinstance(e, Usage) for e in events)

    events += decoder.feed("[DONE]")

    assert events[-1] == Usage(input_tokens=5, output_tokens=2)
    assert sum(isinstance(e, Usage) for e in events) == 1


def test_stream_without_usage_invents_none() -> None:
    decoder = ChatStreamDecoder()
    decoder.feed(chunk([{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}]))

    assert decoder.feed("[DONE]") == []


def test_azure_prompt_filter_chunk_comes_before_start() -> None:
    decoder = ChatStreamDecoder()

    assert decoder.feed(AZURE_PROMPT_FILTER_CHUNK) == []
    events = decoder.feed(chunk([{"index": 0, "delta": {"role": "assistant", "content": "Hi"},
                                  "content_filter_results": {}}]))
    # Azure's asynchronous-filter annotation: a choice without a delta.
    events += decoder.feed(chunk([{"index": 0, "finish_reason": None,
                                   "content_filter_offsets": {"check_offset": 1}}]))

    assert events == [Start(id="c1", model="m", created=7), TextDelta(text="Hi")]


def test_tool_call_ids_repeated_by_a_server_are_passed_once() -> None:
    decoder = ChatStreamDecoder()
    call = {"index": 3, "id": "call_9", "type": "function", "function": {"name": "f"}}
    events = decoder.feed(chunk([{"index": 0, "delta": {"tool_calls": [
        {**call, "function": {"name": "f", "arguments": '{"a"'}}]}}]))
    events += decoder.feed(chunk([{"index": 0, "delta": {"tool_calls": [
        {**call, "function": {"name": "f", "arguments": ":1}"}}]}}]))

    assert events[1:] == [
        ToolCallDelta(call_index=0, id="call_9", name="f", arguments='{"a"'),
        ToolCallDelta(call_index=0, arguments=":1}"),
    ]


def test_legacy_function_call_stream() -> None:
    decoder = ChatStreamDecoder()
    events = decoder.feed(chunk([{"index": 0, "delta": {
        "role": "assistant", "content": None,
        "function_call": {"name": "get_weather", "arguments": ""}}}]))
    events += decoder.feed(chunk([{"index": 0, "delta": {"function_call": {"arguments": "{}"}}}]))
    events += decoder.feed(chunk([{"index": 0, "delta": {}, "finish_reason": "function_call"}]))

    assert events[1:] == [
        ToolCallDelta(call_index=0, id="get_weather", name="get_weather", arguments=""),
        ToolCallDelta(call_index=0, arguments="{}"),
        Finish(reason="tool_calls"),
    ]


@pytest.mark.parametrize(("error", "kind", "code"), [
    ({"message": "The server had an error while processing your request.",
      "type": "server_error"}, ErrorKind.UPSTREAM, "upstream_error"),
    ({"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"},
     ErrorKind.RATE_LIMITED, "upstream_rate_limited"),
    ({"message": "maximum context length is 8192 tokens", "type": "invalid_request_error"},
     ErrorKind.INVALID_REQUEST, "context_length_exceeded"),
    ({"message": "overloaded", "code": 503}, ErrorKind.UPSTREAM, "upstream_error"),
    ("something broke", ErrorKind.UPSTREAM, "upstream_error"),
])
def test_error_mid_stream_raises(error: Any, kind: ErrorKind, code: str) -> None:
    decoder = ChatStreamDecoder(provider="main")
    decoder.feed(chunk([{"index": 0, "delta": {"content": "Hel"}}]))

    with pytest.raises(GatewayError) as info:
        decoder.feed(orjson.dumps({"error": error}).decode())

    assert (info.value.kind, info.value.code) == (kind, code)
    assert not decoder.done


@pytest.mark.parametrize("payload", ["{not json", "[1]", '{"choices": "x", "id": "c"}'])
def test_garbled_chunks_raise(payload: str) -> None:
    with pytest.raises(GatewayError) as info:
        ChatStreamDecoder().feed(payload)

    assert info.value.code == "upstream_bad_response"


def test_done_without_any_answer_raises() -> None:
    with pytest.raises(GatewayError) as info:
        ChatStreamDecoder().feed("[DONE]")

    assert info.value.code == "upstream_bad_response"


def test_nothing_after_done_counts() -> None:
    decoder = ChatStreamDecoder()
    decoder.feed(STREAMED_EXAMPLE_CHUNKS[0])
    decoder.feed("[DONE]")

    assert decoder.feed(STREAMED_EXAMPLE_CHUNKS[1]) == []


# --------------------------------------------------------------------------- embeddings


def test_embeddings_request() -> None:
    req = EmbeddingRequest(model="embed", inputs=["a", [1, 2]], encoding_format="base64",
                           dimensions=256, user="u", extra={"openai": {"x": 1}})

    assert orjson.loads(encode_embeddings_request(req, "text-embedding-3-small")) == {
        "x": 1, "model": "text-embedding-3-small", "input": ["a", [1, 2]],
        "encoding_format": "base64", "dimensions": 256, "user": "u"}


def test_documented_embeddings_response() -> None:
    assert decode_embeddings_response(orjson.dumps(EMBEDDING_RESPONSE)) == [
        EmbeddingsResult(model="text-embedding-ada-002",
                         vectors=[[0.0023064255, -0.009327292, -0.0028842222]]),
        Usage(input_tokens=8),
    ]


def test_embeddings_come_back_in_input_order() -> None:
    answer = {"object": "list", "model": "m", "usage": {"prompt_tokens": 2, "total_tokens": 2},
              "data": [{"object": "embedding", "index": 1, "embedding": [1.0]},
                       {"object": "embedding", "index": 0, "embedding": [0.0]}]}

    result = decode_embeddings_response(orjson.dumps(answer))[0]

    assert isinstance(result, EmbeddingsResult)
    assert result.vectors == [[0.0], [1.0]]


@pytest.mark.parametrize("body", [b"nope", b'{"object": "list"}', b'{"data": [{"index": 0}]}'])
def test_unusable_embeddings_raise(body: bytes) -> None:
    with pytest.raises(GatewayError) as info:
        decode_embeddings_response(body)

    assert info.value.code == "upstream_bad_response"
