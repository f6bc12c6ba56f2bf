"""The official SDKs against the gateway on the echo provider: no upstream at all."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from fakes.stack import anthropic_client, gateway_url, openai_client

KEY = "sk-acme-test-key"
CONFIG: dict[str, Any] = {
    "providers": [{"name": "echo", "type": "echo"}],
    "models": [
        {"name": "echo", "targets": [{"provider": "echo", "model": "echo-1"}]},
        {"name": "embed", "targets": [{"provider": "echo", "model": "echo-embed"}]},
        {"name": "secret", "targets": [{"provider": "echo", "model": "echo-1"}]},
    ],
    "tenants": [
        {"name": "acme", "models": ["echo", "embed"], "keys": [{"name": "ci", "key": KEY}]}
    ],
}


@pytest.fixture
async def base_url(start_gateway) -> str:  # type: ignore[no-untyped-def]
    client = await start_gateway(CONFIG)
    return gateway_url(client)


@pytest.fixture
def oai(base_url: str) -> openai.AsyncOpenAI:
    return openai_client(base_url, KEY)


@pytest.fixture
def claude(base_url: str) -> anthropic.AsyncAnthropic:
    return anthropic_client(base_url, KEY)


async def test_openai_chat(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "ping pong"}]
    )
    assert completion.choices[0].message.content == "ping pong"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0


async def test_openai_stream_with_usage(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, chunks = "", None, 0
    async for chunk in stream:
        chunks += 1
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "one two three"
    assert chunks >= 4, "streamed word by word, not as one blob"
    assert usage is not None and usage.prompt_tokens > 0


async def test_openai_embeddings_and_models(oai: openai.AsyncOpenAI) -> None:
    result = await oai.embeddings.create(model="embed", input=["a", "b", "a"])
    assert len(result.data) == 3
    assert result.data[0].embedding == result.data[2].embedding != result.data[1].embedding
    models = await oai.models.list()
    assert sorted(m.id for m in models.data) == ["echo", "embed"]


async def test_anthropic_messages(claude: anthropic.AsyncAnthropic) -> None:
    message = await claude.messages.create(
        model="echo",
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": "hello claude"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "hello claude"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0


async def test_anthropic_stream(claude: anthropic.AsyncAnthropic) -> None:
    async with claude.messages.stream(
        model="echo", max_tokens=100, messages=[{"role": "user", "content": "stream me please"}]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "stream me please"
    assert len(pieces) >= 3
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("unknown_model", openai.NotFoundError),
        ("forbidden_model", openai.PermissionDeniedError),
        ("bad_key", openai.AuthenticationError),
        ("bad_request", openai.BadRequestError),
    ],
)
async def test_openai_sdk_raises_the_right_error(base_url: str, call: str, error: type) -> None:
    key = "sk-wrong-key-123" if call == "bad_key" else KEY
    client = openai_client(base_url, key)
    model = {"unknown_model": "nope", "forbidden_model": "secret"}.get(call, "echo")
    messages: Any = [] if call == "bad_request" else [{"role": "user", "content": "x"}]
    with pytest.raises(error):
        await client.chat.completions.create(model=model, messages=messages)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("unknown_model", anthropic.NotFoundError),
        ("forbidden_model", anthropic.PermissionDeniedError),
        ("bad_key", anthropic.AuthenticationError),
        ("bad_request", anthropic.BadRequestError),
    ],
)
async def test_anthropic_sdk_raises_the_right_error(base_url: str, call: str, error: type) -> None:
    key = "sk-wrong-key-123" if call == "bad_key" else KEY
    client = anthropic_client(base_url, key)
    model = {"unknown_model": "nope", "forbidden_model": "secret"}.get(call, "echo")
    max_tokens = 0 if call == "bad_request" else 10
    with pytest.raises(error):
        await client.messages.create(
            model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": "x"}]
        )
