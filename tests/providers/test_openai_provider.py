"""The openai provider against a fake OpenAI server over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import openai
import orjson
import pytest

from fakes.calls import chat, collect, failure, response_of, text_of
from fakes.openai_upstream import (
    CHAT_COMPLETION,
    STREAMED_PARALLEL_TOOL_CALLS,
    STREAMED_TEXT,
    STREAMED_TEXT_ANSWER,
    OpenAIUpstream,
    error_body,
)
from fakes.timing import NEVER_S, NO_ANSWER_S
from sluicegate.canonical import (
    EmbeddingRequest,
    EmbeddingsResult,
    ErrorKind,
    Finish,
    GatewayError,
    Start,
    TextDelta,
    ToolCall,
    Usage,
)
from sluicegate.config import ProviderConfig
from sluicegate.protocols.upstream_errors import scrub
from sluicegate.providers.http import HttpClient
from sluicegate.providers.openai import OpenAIProvider

KEY = "sk-test"
MODEL = "gpt-4o"


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIUpstream]:
    async with OpenAIUpstream(api_key=KEY) as server:
        yield server


def make(fake: OpenAIUpstream, http: HttpClient, **config: Any) -> OpenAIProvider:
    settings: dict[str, Any] = {"name": "main", "type": "openai", "base_url": fake.url,
                                "api_key": KEY, **config}
    return OpenAIProvider(ProviderConfig(**settings), http)


# --------------------------------------------------------------------------- answers


async def test_whole_answer(fake: OpenAIUpstream, http: HttpClient) -> None:
    events = await collect(make(fake, http).chat(chat(), MODEL))

    assert events == [
        Start(id="chatcmpl-123", model="gpt-4o", created=1677652288),
        TextDelta(text=CHAT_COMPLETION["choices"][0]["message"]["content"]),
        Finish(reason="stop"),
        Usage(input_tokens=9, output_tokens=12),
    ]
    sent = fake.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json == {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}


async def test_streamed_answer(fake: OpenAIUpstream, http: HttpClient) -> None:
    fake.reply_with("The quick brown fox.", usage={"prompt_tokens": 20, "completion_tokens": 5,
                                                   "prompt_tokens_details": {"cached_tokens": 8}})

    events = await collect(make(fake, http).chat(chat(stream=True), MODEL))

    assert isinstance(events[0], Start)
    assert text_of(events) == "The quick brown fox."
    assert len([e for e in events if isinstance(e, TextDelta)]) == 4  # as streamed
    assert events[-2:] == [Finish(reason="stop"),
                           Usage(input_tokens=20, output_tokens=5, cached_tokens=8)]
    assert fake.last_request.json["stream_options"] == {"include_usage": True}


async def test_recorded_stream(fake: OpenAIUpstream, http: HttpClient) -> None:
    fake.reply_raw(STREAMED_TEXT, content_type="text/event-stream")

    events = await collect(make(fake, http).chat(chat(stream=True), MODEL))

    assert events[0] == Start(id="chatcmpl-9tXjg9DdaOfymTPDrSLfxslQEH0C2",
                              model="gpt-4o-2024-08-06", created=1723024748)
    assert text_of(events) == STREAMED_TEXT_ANSWER
    assert events[-1] == Usage(input_tokens=14, output_tokens=47)


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls(fake: OpenAIUpstream, http: HttpClient, stream: bool) -> None:
    calls = [("call_1", "get_weather", '{"city": "Paris", "unit": "celsius"}'),
             ("call_2", "get_time", '{"tz": "Europe/Paris"}')]
    fake.reply_with_tool_calls(calls)

    events = await collect(make(fake, http).chat(chat(stream=stream), MODEL))

    choice = response_of(events).choices[0]
    assert choice.message.tool_calls == [ToolCall(id=i, name=n, arguments=a) for i, n, a in calls]
    assert choice.finish_reason == "tool_calls"


async def test_recorded_parallel_tool_call_stream(fake: OpenAIUpstream, http: HttpClient) -> None:
    fake.reply_raw(STREAMED_PARALLEL_TOOL_CALLS, content_type="text/event-stream")

    events = await collect(make(fake, http).chat(chat(stream=True), MODEL))

    assert [c.name for c in response_of(events).choices[0].message.tool_calls] == [
        "GetWeatherArgs", "get_stock_price"]


async def test_events_are_yielded_as_they_arrive(fake: OpenAIUpstream, http: HttpClient) -> None:
    fake.reply_with("one two three four")
    release = fake.hold_stream_after(2)  # role chunk and "one", then the server waits
    events = make(fake, http).chat(chat(stream=True), MODEL)

    first = await asyncio.wait_for(anext(events), NEVER_S)
    second = await asyncio.wait_for(anext(events), NEVER_S)
    release.set()
    rest = [event async for event in events]

    assert isinstance(first, Start)
    assert second == TextDelta(text="one")
    assert text_of(rest) == " two three four"


async def test_stream_ignoring_stream_flag_answers_json(fake: OpenAIUpstream,
                                                        http: HttpClient) -> None:
    """Some compatible servers ignore "stream": a JSON answer is still an answer."""
    fake.reply_raw(orjson.dumps(CHAT_COMPLETION))

    events = await collect(make(fake, http).chat(chat(stream=True), MODEL))

    assert text_of(events) == CHAT_COMPLETION["choices"][0]["message"]["content"]


async def test_streams_reuse_the_connection(fake: OpenAIUpstream, http: HttpClient) -> None:
    provider = make(fake, http)

    await collect(provider.chat(chat(stream=True), MODEL))
    await collect(provider.chat(chat(stream=True), MODEL))

    assert fake.requests[0].peer == fake.requests[1].peer


async def test_consumer_may_stop_early(fake: OpenAIUpstream, http: HttpClient) -> None:
    provider = make(fake, http)
    events = provider.chat(chat(stream=True), MODEL)
    await anext(events)
    assert isinstance(events, AsyncGenerator)
    await events.aclose()

    assert text_of(await collect(provider.chat(chat(stream=True), MODEL))) == (
        CHAT_COMPLETION["choices"][0]["message"]["content"])


# --------------------------------------------------------------------------- configuration


async def test_base_url_with_trailing_slash_and_extra_headers(fake: OpenAIUpstream,
                                                              http: HttpClient) -> None:
    provider = make(fake, http, base_url=fake.url + "/",
                    headers={"OpenAI-Organization": "org-123", "X-Gateway": "sluicegate"})

    await collect(provider.chat(chat(), MODEL))

    sent = fake.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["OpenAI-Organization"] == "org-123"
    assert sent.headers["X-Gateway"] == "sluicegate"


def test_default_base_url(http: HttpClient) -> None:
    provider = OpenAIProvider(ProviderConfig(name="o", type="openai"), http)

    assert provider._chat_url("gpt-4o") == "https://api.openai.com/v1/chat/completions"
    assert "Authorization" not in provider._headers


async def test_without_key_no_authorization_is_sent(fake: OpenAIUpstream,
                                                    http: HttpClient) -> None:
    with pytest.raises(GatewayError) as info:
        await collect(make(fake, http, api_key=None).chat(chat(), MODEL))

    assert "Authorization" not in fake.last_request.headers
    assert info.value.code == "upstream_auth_failed"


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("status", "headers", "kind", "code", "retryable"), [
    (400, {}, ErrorKind.INVALID_REQUEST, "context_length_exceeded", False),
    (401, {}, ErrorKind.UPSTREAM, "upstream_auth_failed", False),
    (404, {}, ErrorKind.UPSTREAM, "upstream_model_not_found", True),
    (429, {"retry-after": "2"}, ErrorKind.RATE_LIMITED, "upstream_rate_limited", True),
    (500, {}, ErrorKind.UPSTREAM, "upstream_error", True),
    (503, {"retry-after-ms": "1500"}, ErrorKind.UPSTREAM, "upstream_error", True),
])
@pytest.mark.parametrize("stream", [False, True])
async def test_error_statuses(fake: OpenAIUpstream, http: HttpClient, status: int,
                              headers: dict[str, str], kind: ErrorKind, code: str,
                              retryable: bool, stream: bool) -> None:
    fake.fail(status, headers=headers)

    with pytest.raises(GatewayError) as info:
        await collect(make(fake, http).chat(chat(stream=stream), MODEL))

    err = info.value
    assert (err.kind, err.code, err.retryable, err.upstream_status) == (
        kind, code, retryable, status)
    if status == 401:
        assert err.message == "the gateway's credentials for upstream 'main' were rejected"
    else:  # relayed, but without the organisation id OpenAI names in a 429
        assert scrub(error_body(status)["error"]["message"]) in err.message
    if status == 429:
        assert err.retry_after == 2
    if status == 503:
        assert err.retry_after == 1.5


async def test_stream_cut_without_done(fake: OpenAIUpstream, http: HttpClient) -> None:
    fake.cut_stream_after(3)

    error, received = await failure(make(fake, http).chat(chat(stream=True), MODEL))

    assert error.code == "upstream_stream_cut"
    assert error.kind is ErrorKind.UPSTREAM and error.retryable
    assert isinstance(received[0], Start) and text_of(received)


async def test_connection_dropped_mid_stream(fake: OpenAIUpstream, http: HttpClient) -> None:
    fake.cut_stream_after(3, abort=True)

    with pytest.raises(GatewayError) as info:
        await collect(make(fake, http).chat(chat(stream=True), MODEL))

    assert info.value.kind is ErrorKind.UPSTREAM
    assert info.value.code == "upstream_connection_error"


async def test_error_event_mid_stream(fake: OpenAIUpstream, http: HttpClient) -> None:
    release = fake.hold_stream_after(2)  # the role chunk and "\n\nHello", then the error
    fake.error_in_stream_after(2)
    events = make(fake, http).chat(chat(stream=True), MODEL)
    received = [await anext(events), await anext(events)]
    release.set()

    with pytest.raises(GatewayError) as info:
        await anext(events)

    assert (info.value.kind, info.value.code) == (ErrorKind.UPSTREAM, "upstream_error")
    assert "The server had an error" in info.value.message
    assert isinstance(received[0], Start) and isinstance(received[1], TextDelta)


async def test_error_before_any_answer_raises_before_any_event(fake: OpenAIUpstream,
                                                               http: HttpClient) -> None:
    """Nothing was yielded, so the caller can still fail over to another target."""
    fake.error_in_stream_after(0, {"error": error_body(429)["error"]})

    error, received = await failure(make(fake, http).chat(chat(stream=True), MODEL))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert received == []


@pytest.mark.parametrize("stream", [False, True])
async def test_invalid_json(fake: OpenAIUpstream, http: HttpClient, stream: bool) -> None:
    fake.invalid_json()

    with pytest.raises(GatewayError) as info:
        await collect(make(fake, http).chat(chat(stream=stream), MODEL))

    assert (info.value.kind, info.value.code) == (ErrorKind.UPSTREAM, "upstream_bad_response")


@pytest.mark.parametrize("stream", [False, True])
async def test_first_token_timeout(fake: OpenAIUpstream, http: HttpClient, stream: bool) -> None:
    fake.delay_first_byte(NO_ANSWER_S)
    started = time.monotonic()

    with pytest.raises(GatewayError) as info:
        await collect(make(fake, http, first_token_timeout_s=0.2).chat(chat(stream=stream), MODEL))

    assert (info.value.kind, info.value.code) == (ErrorKind.TIMEOUT, "upstream_timeout")
    assert info.value.retryable
    assert time.monotonic() - started < NEVER_S  # cut off, not waited out


@pytest.mark.parametrize("keepalive_s", [None, 0.05])
async def test_first_token_timeout_after_headers(fake: OpenAIUpstream, http: HttpClient,
                                                 keepalive_s: float | None) -> None:
    """Headers (and keep-alive comments) arrive, but no answer: still a timeout."""
    fake.hold_stream_after(0, keepalive_s=keepalive_s)

    with pytest.raises(GatewayError) as info:
        await collect(make(fake, http, first_token_timeout_s=0.3).chat(chat(stream=True), MODEL))

    assert (info.value.kind, info.value.code) == (ErrorKind.TIMEOUT, "upstream_timeout")


async def test_first_token_timeout_ends_with_the_first_event(fake: OpenAIUpstream,
                                                             http: HttpClient) -> None:
    """A long answer may take longer than the first-token timeout, once it started."""
    release = fake.hold_stream_after(2, keepalive_s=0.05)
    provider = make(fake, http, first_token_timeout_s=1.0)
    loop = asyncio.get_running_loop()

    events = []
    async for event in provider.chat(chat(stream=True), MODEL):
        if not events:
            # The rest comes 1.2 s after the first event: surely past the timeout.
            loop.call_later(1.2, release.set)
        events.append(event)

    assert isinstance(events[-1], Usage)


async def test_unreachable_upstream(http: HttpClient, refused_port: int) -> None:
    provider = OpenAIProvider(ProviderConfig(name="main", type="openai",
                                             base_url=f"http://127.0.0.1:{refused_port}/v1"), http)

    with pytest.raises(GatewayError) as info:
        await collect(provider.chat(chat(), MODEL))

    assert (info.value.kind, info.value.code) == (ErrorKind.UNAVAILABLE, "upstream_unreachable")


# --------------------------------------------------------------------------- embeddings


async def test_embeddings(fake: OpenAIUpstream, http: HttpClient) -> None:
    request = EmbeddingRequest(model="embed", inputs=["hello world", "bye"], dimensions=2)

    events = [e async for e in make(fake, http).embed(request, "text-embedding-3-small")]

    result, usage = events
    assert isinstance(result, EmbeddingsResult)
    assert result.model == "text-embedding-3-small"
    assert [len(v) for v in result.vectors] == [2, 2]
    assert usage == Usage(input_tokens=3)
    assert fake.last_request.path == "/v1/embeddings"
    assert fake.last_request.json == {"model": "text-embedding-3-small",
                                      "input": ["hello world", "bye"],
                                      "encoding_format": "float", "dimensions": 2}


async def test_embeddings_base64_and_errors(fake: OpenAIUpstream, http: HttpClient) -> None:
    provider = make(fake, http)
    request = EmbeddingRequest(model="embed", inputs=["x"], encoding_format="base64")

    result, _ = [e async for e in provider.embed(request, "m")]
    fake.fail(429, headers={"retry-after": "1"}, times=1)
    with pytest.raises(GatewayError) as info:
        [e async for e in provider.embed(request, "m")]

    assert isinstance(result, EmbeddingsResult) and isinstance(result.vectors[0], str)
    assert info.value.kind is ErrorKind.RATE_LIMITED and info.value.retry_after == 1


# --------------------------------------------------------------------------- the fake itself


async def test_fake_speaks_openai_to_the_official_sdk(fake: OpenAIUpstream) -> None:
    """The fake is reused behind the gateway in end-to-end tests: the SDK must accept it."""
    client = openai.AsyncOpenAI(base_url=fake.url, api_key=KEY, max_retries=0)
    fake.reply_with_tool_calls([("call_1", "f", '{"x": 1}'), ("call_2", "g", "{}")])
    try:
        async with client.chat.completions.stream(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                stream_options={"include_usage": True}) as stream:
            final = await stream.get_final_completion()
        embeddings = await client.embeddings.create(model="e", input="hello")  # base64 by SDK
        fake.fail(429, headers={"retry-after": "3"}, times=1)
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-4o", messages=[
                {"role": "user", "content": "hi"}])
    finally:
        await client.close()

    calls = final.choices[0].message.tool_calls or []
    assert [(c.id, c.type == "function" and c.function.arguments) for c in calls] == [
        ("call_1", '{"x": 1}'), ("call_2", "{}")]
    assert final.usage is not None and final.usage.total_tokens == 99
    assert len(embeddings.data[0].embedding) == 3
    assert info.value.code == "rate_limit_exceeded"
