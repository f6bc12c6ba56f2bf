"""The ``anthropic`` provider against a fake Anthropic API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import orjson
import pytest

from fakes.anthropic_upstream import STREAMED_TOOL_USE, AnthropicUpstream
from fakes.calls import chat, collect, failure, response_of
from fakes.timing import NEVER_S, NO_ANSWER_S
from sluicegate.canonical import (
    EmbeddingRequest,
    ErrorKind,
    Finish,
    GatewayError,
    Start,
    TextDelta,
    Tool,
    Usage,
)
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.config import ProviderConfig
from sluicegate.providers.anthropic import AnthropicProvider
from sluicegate.providers.http import HttpClient

MODEL = "claude-opus-4-6"


@pytest.fixture
async def fake() -> AsyncIterator[AnthropicUpstream]:
    async with AnthropicUpstream(api_key="sk-ant-test") as upstream:
        yield upstream


def provider(fake: AnthropicUpstream, http: HttpClient, **config: Any) -> AnthropicProvider:
    settings: dict[str, Any] = {"name": "claude", "type": "anthropic", "base_url": fake.url,
                                "api_key": "sk-ant-test", **config}
    return AnthropicProvider(ProviderConfig(**settings), http)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_text_answer(fake: AnthropicUpstream, http: HttpClient, stream: bool) -> None:
    fake.reply_with("Hello there, friend!", usage={
        "input_tokens": 12, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20,
        "output_tokens": 6})
    events = await collect(provider(fake, http).chat(chat(stream, max_tokens=64), MODEL))

    assert isinstance(events[0], Start)
    assert events[0].id.startswith("msg_") and events[0].model == "claude-opus-4-6"
    assert events[-2:] == [Finish(reason="stop"), Usage(input_tokens=132, output_tokens=6,
                                                        cached_tokens=100, cache_write_tokens=20)]
    assert response_of(events).choices[0].message.text() == "Hello there, friend!"
    if stream:
        assert sum(isinstance(e, TextDelta) for e in events) == 3  # word by word

    sent = fake.last_request
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json["model"] == "claude-opus-4-6"
    assert sent.json["max_tokens"] == 64
    assert sent.json.get("stream", False) is stream


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_parallel_tool_use(fake: AnthropicUpstream, http: HttpClient, stream: bool) -> None:
    fake.reply_with_tool_use(
        "get_weather", {"location": "San Francisco, CA", "unit": "celsius"}, text="Checking.",
        more=[("toolu_2", "get_time", {"timezone": "America/Los_Angeles"})],
    )
    request = chat(stream, tools=[Tool(name="get_weather", parameters={"type": "object"}),
                                  Tool(name="get_time", parameters={"type": "object"})])
    events = await collect(provider(fake, http).chat(request, MODEL))

    response = response_of(events)
    message = response.choices[0].message
    assert message.text() == "Checking."
    assert [(c.id, c.name, orjson.loads(c.arguments)) for c in message.tool_calls] == [
        ("toolu_01A09q90qw90lq917835lq9", "get_weather",
         {"location": "San Francisco, CA", "unit": "celsius"}),
        ("toolu_2", "get_time", {"timezone": "America/Los_Angeles"}),
    ]
    assert response.choices[0].finish_reason == "tool_calls"
    firsts = [e for e in events if isinstance(e, ToolCallDelta) and e.id]
    assert [e.call_index for e in firsts] == [0, 1]
    assert fake.last_request.json["tools"][0]["name"] == "get_weather"


async def test_documented_stream_served_verbatim(fake: AnthropicUpstream, http: HttpClient) -> None:
    fake.reply_raw(STREAMED_TOOL_USE, content_type="text/event-stream; charset=utf-8")
    events = await collect(provider(fake, http).chat(chat(True), MODEL))
    call = response_of(events).choices[0].message.tool_calls[0]
    assert orjson.loads(call.arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert events[-1] == Usage(input_tokens=472, output_tokens=89)


async def test_stream_events_are_yielded_as_they_arrive(
    fake: AnthropicUpstream, http: HttpClient
) -> None:
    fake.reply_with("one two three four five six")
    fake.pace_stream(0.05)
    arrivals: list[float] = []
    begin = time.monotonic()
    async for event in provider(fake, http).chat(chat(True), MODEL):
        if isinstance(event, TextDelta):
            arrivals.append(time.monotonic() - begin)
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 0.2  # spread out, not delivered at the end in one go


@pytest.mark.parametrize(
    ("status", "headers", "kind", "code", "retry_after"),
    [
        (529, {}, ErrorKind.UPSTREAM, "upstream_error", None),
        (500, {}, ErrorKind.UPSTREAM, "upstream_error", None),
        (429, {"retry-after": "7"}, ErrorKind.RATE_LIMITED, "upstream_rate_limited", 7.0),
        (400, {}, ErrorKind.INVALID_REQUEST, "upstream_invalid_request", None),
        (401, {}, ErrorKind.UPSTREAM, "upstream_auth_failed", None),
        (504, {}, ErrorKind.TIMEOUT, "upstream_timeout", None),
    ],
)
async def test_error_statuses(
    fake: AnthropicUpstream, http: HttpClient, status: int, headers: dict[str, str],
    kind: ErrorKind, code: str, retry_after: float | None,
) -> None:
    fake.fail(status, headers=headers)
    with pytest.raises(GatewayError) as info:
        await collect(provider(fake, http).chat(chat(True), MODEL))
    err = info.value
    assert (err.kind, err.code, err.upstream_status, err.retry_after) == (
        kind, code, status, retry_after)


async def test_error_body_message_is_kept(fake: AnthropicUpstream, http: HttpClient) -> None:
    fake.fail(529)
    with pytest.raises(GatewayError) as info:
        await collect(provider(fake, http).chat(chat(False), MODEL))
    assert "Overloaded" in info.value.message
    assert info.value.retryable


async def test_wrong_key_is_the_gateways_problem(fake: AnthropicUpstream, http: HttpClient) -> None:
    with pytest.raises(GatewayError) as info:
        await collect(provider(fake, http, api_key="sk-wrong").chat(chat(False), MODEL))
    assert (info.value.status, info.value.code) == (502, "upstream_auth_failed")


async def test_error_event_mid_stream(fake: AnthropicUpstream, http: HttpClient) -> None:
    fake.reply_with("one two three")
    fake.error_in_stream_after(4)
    error, received = await failure(provider(fake, http).chat(chat(True), MODEL))
    assert isinstance(received[0], Start)
    assert any(isinstance(e, TextDelta) for e in received)
    assert error.upstream_status == 529
    assert error.retryable


@pytest.mark.parametrize(
    ("abort", "code"),
    [(False, "upstream_stream_cut"), (True, "upstream_connection_error")],
    ids=["clean-end-without-message_stop", "connection-dropped"],
)
async def test_stream_cut(
    fake: AnthropicUpstream, http: HttpClient, abort: bool, code: str
) -> None:
    fake.reply_with("one two three")
    fake.cut_stream_after(5, abort=abort)
    error, received = await failure(provider(fake, http).chat(chat(True), MODEL))
    assert error.code == code
    assert error.kind is ErrorKind.UPSTREAM
    assert not any(isinstance(e, Usage) for e in received)


async def test_first_token_timeout(fake: AnthropicUpstream, http: HttpClient) -> None:
    fake.delay_first_byte(NO_ANSWER_S)
    started = time.monotonic()
    with pytest.raises(GatewayError) as info:
        await collect(provider(fake, http, first_token_timeout_s=0.2).chat(chat(True), MODEL))
    assert time.monotonic() - started < NEVER_S  # cut off, not waited out
    assert (info.value.kind, info.value.code) == (ErrorKind.TIMEOUT, "upstream_timeout")
    assert info.value.retryable


async def test_slow_stream_after_first_token_is_not_a_first_token_timeout(
    fake: AnthropicUpstream, http: HttpClient
) -> None:
    fake.reply_with("a b c d")
    release = fake.hold_stream_after(2)  # message_start, content_block_start; then a wait
    loop = asyncio.get_running_loop()
    events = []
    async for event in provider(fake, http, first_token_timeout_s=1.0).chat(chat(True), MODEL):
        if not events:
            # The rest comes 1.2 s after the first event: surely past the timeout.
            loop.call_later(1.2, release.set)
        events.append(event)
    assert response_of(events).choices[0].message.text() == "a b c d"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_invalid_json(fake: AnthropicUpstream, http: HttpClient, stream: bool) -> None:
    fake.invalid_json()
    with pytest.raises(GatewayError) as info:
        await collect(provider(fake, http).chat(chat(stream), MODEL))
    assert info.value.code == "upstream_bad_response"
    assert "'claude'" in info.value.message


async def test_non_stream_answer_to_a_stream_request_is_accepted(
    fake: AnthropicUpstream, http: HttpClient
) -> None:
    fake.reply_raw(orjson.dumps({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-6",
        "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1},
    }))
    events = await collect(provider(fake, http).chat(chat(True), MODEL))
    assert events[1:] == [TextDelta(text="Hi"), Finish(reason="stop"),
                          Usage(input_tokens=3, output_tokens=1)]


async def test_unreachable_upstream(http: HttpClient, refused_port: int) -> None:
    url = f"http://127.0.0.1:{refused_port}/v1"
    config = ProviderConfig(name="claude", type="anthropic", base_url=url, api_key="k")
    with pytest.raises(GatewayError) as info:
        await collect(AnthropicProvider(config, http).chat(chat(False), MODEL))
    assert info.value.code == "upstream_unreachable"


async def test_config_headers_and_default_base_url(http: HttpClient) -> None:
    config = ProviderConfig(name="claude", type="anthropic", api_key="k",
                            headers={"anthropic-beta": "prompt-caching-2024-07-31"})
    p = AnthropicProvider(config, http)
    assert p.url == "https://api.anthropic.com/v1/messages"
    assert p._headers(True)["anthropic-beta"] == "prompt-caching-2024-07-31"


async def test_no_embeddings(fake: AnthropicUpstream, http: HttpClient) -> None:
    with pytest.raises(GatewayError) as info:
        provider(fake, http).embed(EmbeddingRequest(model="e", inputs=["x"]), "e")
    assert info.value.code == "embeddings_not_supported"


async def test_consumer_that_stops_early_releases_the_connection(
    fake: AnthropicUpstream, http: HttpClient
) -> None:
    fake.reply_with("one two three four")
    fake.pace_stream(0.05)
    stream = provider(fake, http).chat(chat(True), MODEL)
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    # The pooled client still works for the next call.
    fake.pace_stream(0)
    events = await asyncio.wait_for(collect(provider(fake, http).chat(chat(True), MODEL)), 5)
    assert response_of(events).choices[0].message.text() == "one two three four"


# The fake itself must speak the real protocol: the official SDK reads it.


async def test_the_official_sdk_reads_the_fake(fake: AnthropicUpstream) -> None:
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="sk-ant-test", max_retries=0)
    args: dict[str, Any] = {"model": "claude-opus-4-6", "max_tokens": 100,
                            "messages": [{"role": "user", "content": "Hi"}]}
    fake.reply_with_tool_use(text="Let me check.")
    message = await client.messages.create(**args)
    assert message.stop_reason == "tool_use"
    assert message.content[1].type == "tool_use"
    assert message.content[1].input == {"location": "San Francisco, CA"}

    async with client.messages.stream(**args) as stream:
        streamed = await stream.get_final_message()
    assert [b.to_dict() for b in streamed.content] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
         "input": {"location": "San Francisco, CA"}},
    ]
    assert streamed.usage.output_tokens == 91

    fake.fail(529, times=1)
    with pytest.raises(anthropic.InternalServerError) as info:
        await client.messages.create(**args)
    assert info.value.status_code == 529
    assert info.value.type == "overloaded_error"

    fake.error_in_stream_after(3)
    with pytest.raises(anthropic.APIStatusError):
        async with client.messages.stream(**args) as stream:
            await stream.get_final_message()
    await client.close()


async def test_fake_queues_one_off_answers_before_the_default(
    fake: AnthropicUpstream, http: HttpClient
) -> None:
    fake.reply_with("default")
    fake.fail(529, times=1)
    fake.reply_with("second", times=1)
    p = provider(fake, http)
    with pytest.raises(GatewayError):
        await collect(p.chat(chat(False), MODEL))
    texts = [response_of(await collect(p.chat(chat(False), MODEL))).choices[0].message.text()
             for _ in range(2)]
    assert texts == ["second", "default"]
    assert len(fake.requests) == 3


async def test_fake_holds_a_stream_until_released(
    fake: AnthropicUpstream, http: HttpClient
) -> None:
    release = fake.hold_stream_after(3)
    stream = provider(fake, http).chat(chat(True), MODEL)
    first = await anext(stream)
    assert isinstance(first, Start)
    pending = asyncio.ensure_future(anext(stream))  # the next text waits for the release
    await asyncio.sleep(0.05)
    assert not pending.done()
    release.set()
    assert isinstance(await pending, TextDelta)
    rest = [event async for event in stream]
    assert isinstance(rest[-1], Usage)
