"""The ``gemini`` provider against a fake Gemini API that speaks the real wire format."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fakes.calls import chat, collect, failure, response_of
from fakes.gemini_upstream import (
    API_KEY_INVALID,
    CAPTURED_FUNCTION_CALL_STREAM,
    CAPTURED_TEXT_STREAM,
    CONTEXT_TOO_LONG,
    INTERNAL,
    INVALID_ARGUMENT,
    MODEL_NOT_FOUND,
    OVERLOADED,
    RATE_LIMITED,
    GeminiUpstream,
    Reply,
    generate_response,
    stream_chunks,
)
from fakes.timing import NO_ANSWER_S
from sluicegate.canonical import (
    EmbeddingRequest,
    EmbeddingsResult,
    ErrorKind,
    Event,
    Finish,
    Message,
    Start,
    TextDelta,
    TextPart,
    Usage,
)
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.config import ProviderConfig
from sluicegate.protocols.gemini import FOREIGN_THOUGHT_SIGNATURE
from sluicegate.providers.gemini import DEFAULT_BASE_URL, GeminiProvider
from sluicegate.providers.http import HttpClient

MODEL = "gemini-2.5-flash"


@pytest.fixture
async def fake() -> AsyncIterator[GeminiUpstream]:
    async with GeminiUpstream() as upstream:
        yield upstream


def gemini(fake: GeminiUpstream, http: HttpClient, **config: Any) -> GeminiProvider:
    config.setdefault("api_key", fake.api_key)
    return GeminiProvider(
        ProviderConfig(name="gemini", type="gemini", base_url=fake.url, **config), http
    )


async def events_of(stream: AsyncIterator[Event]) -> list[Event]:
    """The events, with ``Start.created`` zeroed: Gemini sends no timestamp, it is the clock's."""
    events = await collect(stream)
    for event in events:
        if isinstance(event, Start):
            event.created = 0
    return events


# ---------------------------------------------------------------------------
# Chat
# ---------------------------------------------------------------------------


async def test_non_streamed_chat(fake: GeminiUpstream, http: HttpClient) -> None:
    fake.script(Reply(body=generate_response("AI learns patterns from data.", thoughts_tokens=4)))
    request = chat(text="Explain how AI works in a few words", temperature=0.5)
    events = await events_of(gemini(fake, http).chat(request, MODEL))

    assert events == [
        Start(id="mOEhaMGJHtCtz7IPoNWe2Qo", model=MODEL),
        TextDelta(text="AI learns patterns from data."),
        Finish(reason="stop"),
        Usage(input_tokens=8, output_tokens=16, reasoning_tokens=4),
    ]
    (sent,) = fake.requests
    assert sent.path == f"/v1beta/models/{MODEL}:generateContent"
    assert sent.query == {}
    assert sent.headers["x-goog-api-key"] == fake.api_key
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json == {
        "contents": [{"role": "user", "parts": [{"text": "Explain how AI works in a few words"}]}],
        "generationConfig": {"temperature": 0.5},
    }


async def test_streamed_chat(fake: GeminiUpstream, http: HttpClient) -> None:
    events = await events_of(gemini(fake, http).chat(chat(True, "one two three"), MODEL))

    sent = fake.requests[0]
    assert (sent.path, sent.query) == (f"/v1beta/models/{MODEL}:streamGenerateContent",
                                       {"alt": "sse"})
    assert isinstance(events[0], Start) and events[0].model == MODEL
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one", " two", " three"]
    assert events[-2] == Finish(reason="stop")
    usage = events[-1]  # once, at the end, from the last cumulative usageMetadata
    assert isinstance(usage, Usage) and usage.input_tokens > 0 and usage.output_tokens == 6
    assert sum(isinstance(e, Usage) for e in events) == 1


async def test_captured_stream_bytes(fake: GeminiUpstream, http: HttpClient) -> None:
    fake.script(Reply(raw=CAPTURED_TEXT_STREAM))
    events = await events_of(gemini(fake, http).chat(chat(True), MODEL))
    assert events == [
        Start(id="ag4pavQTzLrj4Q-XkKnZBA", model="gemini-2.5-flash"),
        TextDelta(text="Four."),
        Finish(reason="stop"),
        Usage(input_tokens=51, output_tokens=2),
    ]


async def test_events_are_yielded_as_they_arrive(fake: GeminiUpstream, http: HttpClient) -> None:
    fake.script(Reply(chunks=stream_chunks(["Hel", "lo", " world"]), pause_after=1))
    stream = gemini(fake, http).chat(chat(True), MODEL)

    # The upstream holds the rest of the stream: these must come through anyway.
    first = await asyncio.wait_for(anext(stream), 5)
    second = await asyncio.wait_for(anext(stream), 5)
    assert isinstance(first, Start)
    assert second == TextDelta(text="Hel")

    fake.resume()
    rest = [event async for event in stream]
    assert [e.text for e in rest if isinstance(e, TextDelta)] == ["lo", " world"]
    assert isinstance(rest[-1], Usage)


async def test_tool_call_round_trip(fake: GeminiUpstream, http: HttpClient) -> None:
    provider = gemini(fake, http)
    fake.script(Reply(raw=CAPTURED_FUNCTION_CALL_STREAM))
    question = Message(role="user", content=[TextPart(text="今日の東京の天気を教えて")])

    events = await collect(provider.chat(chat(True, messages=[question]), MODEL))
    answer = response_of(events).choices[0]
    assert answer.finish_reason == "tool_calls"
    (call,) = answer.message.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "call_qpc2afWVFJK4vr0Pq6WiyAU_0", "getWeather", '{"location":"Tokyo"}')

    result = Message(role="tool", tool_call_id=call.id,
                     content=[TextPart(text='{"temperature": 22, "condition": "Cloudy"}')])
    fake.script(Reply(body=generate_response("今日の東京の天気は曇りで、気温は22度です。")))
    follow_up = chat(messages=[question, answer.message, result])
    events = await events_of(provider.chat(follow_up, MODEL))

    assert TextDelta(text="今日の東京の天気は曇りで、気温は22度です。") in events
    assert fake.requests[1].json["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "getWeather",
                                                      "args": {"location": "Tokyo"}},
                                     "thoughtSignature": FOREIGN_THOUGHT_SIGNATURE}]},
        {"role": "user", "parts": [{"functionResponse": {
            "name": "getWeather", "response": {"temperature": 22, "condition": "Cloudy"}}}]},
    ]


async def test_streamed_function_calls_come_whole(fake: GeminiUpstream, http: HttpClient) -> None:
    fake.script(Reply(chunks=stream_chunks(["Checking."], function_calls=[
        {"functionCall": {"name": "a", "args": {"x": 1}}},
        {"functionCall": {"name": "b", "args": {}}},
    ], response_id="resp1")))
    events = await events_of(gemini(fake, http).chat(chat(True), MODEL))
    assert [e for e in events if isinstance(e, ToolCallDelta | Finish)] == [
        ToolCallDelta(call_index=0, id="call_resp1_0", name="a", arguments='{"x":1}'),
        ToolCallDelta(call_index=1, id="call_resp1_1", name="b", arguments="{}"),
        Finish(reason="tool_calls"),
    ]


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------

ERROR_CASES = [
    # reply, status, code, retryable, retry_after
    (Reply.error(RATE_LIMITED, retry_after="30"), 429, "upstream_rate_limited", True, 30.0),
    (Reply.error(RATE_LIMITED), 429, "upstream_rate_limited", True, 37.0),
    (Reply.error(INTERNAL), 502, "upstream_error", True, None),
    (Reply.error(OVERLOADED), 502, "upstream_error", True, None),
    (Reply.error(INVALID_ARGUMENT), 400, "upstream_invalid_request", False, None),
    (Reply.error(CONTEXT_TOO_LONG), 400, "context_length_exceeded", False, None),
    (Reply.error(MODEL_NOT_FOUND), 502, "upstream_model_not_found", True, None),
    (Reply.error(API_KEY_INVALID), 502, "upstream_auth_failed", False, None),
    (Reply(status=502, raw=b"<html><title>502 Bad Gateway</title></html>"), 502,
     "upstream_error", True, None),
]
ERROR_IDS = ["429 with Retry-After", "429 with RetryInfo only", "500 INTERNAL", "503 UNAVAILABLE",
             "400 INVALID_ARGUMENT", "400 context too long", "404 NOT_FOUND",
             "400 API_KEY_INVALID", "502 html"]


@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
@pytest.mark.parametrize(("reply", "status", "code", "retryable", "retry_after"), ERROR_CASES,
                         ids=ERROR_IDS)
async def test_upstream_errors_map_to_contract_statuses(
    fake: GeminiUpstream, http: HttpClient, stream: bool, reply: Reply, status: int, code: str,
    retryable: bool, retry_after: float | None,
) -> None:
    fake.script(reply)
    error, events = await failure(gemini(fake, http).chat(chat(stream), MODEL))
    assert events == []  # failed before the first event: the caller can fail over
    assert (error.status, error.code, error.retryable, error.retry_after) == (
        status, code, retryable, retry_after)


@pytest.mark.parametrize("key", ["wrong-key", None], ids=["wrong key", "no key"])
async def test_rejected_gateway_key_is_an_upstream_failure(
    fake: GeminiUpstream, http: HttpClient, key: str | None
) -> None:
    error, _ = await failure(gemini(fake, http, api_key=key).chat(chat(), MODEL))
    assert (error.kind, error.code) == (ErrorKind.UPSTREAM, "upstream_auth_failed")


@pytest.mark.parametrize(
    ("reply", "code", "yielded"),
    [
        (Reply(chunks=stream_chunks(["a", "b", "c"]), end_after=2), "upstream_stream_cut", 3),
        (Reply(chunks=stream_chunks(["a", "b", "c"]), abort_after=1), "upstream_connection_error",
         2),
        (Reply(chunks=[*stream_chunks(["a", "b"])[:1], OVERLOADED]), "upstream_error", 2),
        (Reply(chunks=[*stream_chunks(["a", "b"])[:1], '{"candidates": [']),
         "upstream_bad_response", 2),
        (Reply(raw=b""), "upstream_stream_cut", 0),
    ],
    ids=["ends without finishReason", "connection dropped", "error chunk", "invalid JSON",
         "empty body"],
)
async def test_broken_streams_raise(
    fake: GeminiUpstream, http: HttpClient, reply: Reply, code: str, yielded: int
) -> None:
    fake.script(reply)
    error, events = await failure(gemini(fake, http).chat(chat(True), MODEL))
    assert error.code == code
    assert error.status == 502 and error.retryable
    assert len(events) == yielded
    assert not any(isinstance(e, Finish | Usage) for e in events)


async def test_unusable_answer_is_a_bad_response(fake: GeminiUpstream, http: HttpClient) -> None:
    fake.script(Reply(raw=b'{"candidates": ['))
    error, _ = await failure(gemini(fake, http).chat(chat(), MODEL))
    assert (error.status, error.code, error.retryable) == (502, "upstream_bad_response", True)


@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
async def test_first_token_timeout(fake: GeminiUpstream, http: HttpClient, stream: bool) -> None:
    fake.script(Reply(delay_s=NO_ANSWER_S))
    provider = gemini(fake, http, first_token_timeout_s=0.05)
    error, _ = await failure(provider.chat(chat(stream), MODEL))
    assert (error.kind, error.code, error.retryable) == (
        ErrorKind.TIMEOUT, "upstream_timeout", True)


async def test_slow_stream_after_first_token_is_not_a_timeout(
    fake: GeminiUpstream, http: HttpClient
) -> None:
    # The stream takes 1.2 s, past the timeout; the first chunk comes at once.
    fake.script(Reply(chunks=stream_chunks(["a", "b", "c"]), chunk_delay_s=0.6))
    provider = gemini(fake, http, first_token_timeout_s=1.0)
    events = await events_of(provider.chat(chat(True), MODEL))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", "b", "c"]


# ---------------------------------------------------------------------------
# Embeddings and configuration
# ---------------------------------------------------------------------------


async def test_embeddings(fake: GeminiUpstream, http: HttpClient) -> None:
    inputs = ["What is the meaning of life?", "How does AI work?"]
    request = EmbeddingRequest(model="embed", inputs=inputs, dimensions=4)
    result, usage = [e async for e in gemini(fake, http).embed(request, "text-embedding-004")]

    sent = fake.requests[0]
    assert sent.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert [r["outputDimensionality"] for r in sent.json["requests"]] == [4, 4]
    assert isinstance(result, EmbeddingsResult)
    assert [len(v) for v in result.vectors] == [4, 4]
    assert usage == Usage(input_tokens=7 + 5, estimated=True)


async def test_base64_embeddings(fake: GeminiUpstream, http: HttpClient) -> None:
    provider = gemini(fake, http)
    floats = [e async for e in provider.embed(EmbeddingRequest(model="e", inputs=["hi"]), "emb")]
    packed = [e async for e in provider.embed(
        EmbeddingRequest(model="e", inputs=["hi"], encoding_format="base64"), "emb")]
    assert isinstance(floats[0], EmbeddingsResult) and isinstance(packed[0], EmbeddingsResult)
    (vector,) = floats[0].vectors
    decoded = struct.unpack(f"<{len(vector)}f", base64.b64decode(packed[0].vectors[0]))
    assert decoded == pytest.approx(vector, abs=1e-6)


async def test_embedding_errors_map_too(fake: GeminiUpstream, http: HttpClient) -> None:
    fake.script(Reply.error(RATE_LIMITED))
    error, _ = await failure(gemini(fake, http).embed(EmbeddingRequest(model="e", inputs=["x"]),
                                                      "text-embedding-004"))
    assert (error.status, error.retry_after) == (429, 37.0)


async def test_configuration(fake: GeminiUpstream, http: HttpClient) -> None:
    provider = gemini(fake, http, headers={"x-goog-user-project": "acme"})
    await events_of(provider.chat(chat(), "models/gemini-2.5-pro"))
    sent = fake.requests[0]
    assert sent.path == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert sent.headers["x-goog-user-project"] == "acme"
    assert "key" not in sent.query  # the key never travels in the URL

    default = GeminiProvider(ProviderConfig(name="g", type="gemini"), http)
    assert default.base_url == DEFAULT_BASE_URL == "https://generativelanguage.googleapis.com/v1beta"
