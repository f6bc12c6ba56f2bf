"""The azure provider against the fake's Azure OpenAI paths over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from fakes.calls import chat, collect
from fakes.openai_upstream import AZURE_PROMPT_FILTER_CHUNK, STREAMED_TOOL_CALL, OpenAIUpstream
from sluicegate.canonical import (
    EmbeddingRequest,
    EmbeddingsResult,
    ErrorKind,
    GatewayError,
    Start,
    TextDelta,
    Usage,
)
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.config import ProviderConfig
from sluicegate.providers.azure import AzureOpenAIProvider
from sluicegate.providers.http import HttpClient

KEY = "azure-key-123"
DEPLOYMENT = "gpt-4o-prod"


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIUpstream]:
    async with OpenAIUpstream(api_key=KEY, deployments={"gpt-4o-prod", "embed-prod"}) as server:
        yield server


def make(fake: OpenAIUpstream, http: HttpClient, **config: Any) -> AzureOpenAIProvider:
    settings: dict[str, Any] = {"name": "az", "type": "azure", "base_url": fake.azure_url,
                                "api_key": KEY, **config}
    return AzureOpenAIProvider(ProviderConfig(**settings), http)


@pytest.mark.parametrize("stream", [False, True])
async def test_deployment_url_and_api_key(fake: OpenAIUpstream, http: HttpClient,
                                          stream: bool) -> None:
    events = await collect(make(fake, http).chat(chat(stream=stream), DEPLOYMENT))

    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == (
        "\n\nHello there, how may I assist you today?")
    assert isinstance(events[-1], Usage)
    sent = fake.last_request
    assert sent.path == "/openai/deployments/gpt-4o-prod/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == KEY
    assert "Authorization" not in sent.headers
    assert sent.json["model"] == "gpt-4o-prod"  # Azure ignores it; sent anyway


@pytest.mark.parametrize("base_url_suffix", ["/", "/openai", "/openai/"])
async def test_base_url_variants(fake: OpenAIUpstream, http: HttpClient,
                                 base_url_suffix: str) -> None:
    provider = make(fake, http, base_url=fake.azure_url + base_url_suffix,
                    api_version="2025-01-01-preview")

    await collect(provider.chat(chat(), DEPLOYMENT))

    assert fake.last_request.path == "/openai/deployments/gpt-4o-prod/chat/completions"
    assert fake.last_request.query == {"api-version": "2025-01-01-preview"}


async def test_v1_api(fake: OpenAIUpstream, http: HttpClient) -> None:
    provider = make(fake, http, base_url=fake.azure_url + "/openai/v1")

    await collect(provider.chat(chat(stream=True), DEPLOYMENT))

    assert fake.last_request.path == "/openai/v1/chat/completions"
    assert fake.last_request.json["model"] == "gpt-4o-prod"
    assert fake.last_request.headers["api-key"] == KEY


async def test_prompt_filter_chunk_before_the_answer(fake: OpenAIUpstream,
                                                     http: HttpClient) -> None:
    fake.reply_raw(b"data: " + AZURE_PROMPT_FILTER_CHUNK.encode() + b"\n\n" + STREAMED_TOOL_CALL,
                   content_type="text/event-stream")

    events = await collect(make(fake, http).chat(chat(stream=True), DEPLOYMENT))

    assert events[0] == Start(id="chatcmpl-9tXjtfxZZh2FYaFVxXKf2jiqNDiSo",
                              model="gpt-4o-2024-08-06", created=1723024761)
    assert events[1] == ToolCallDelta(call_index=0, id="call_5uxEBMFySqqQGu02I5QHA8k6",
                                      name="get_weather", arguments="")


@pytest.mark.parametrize(("config", "deployment", "kind", "code"), [
    ({"api_key": "wrong"}, "gpt-4o-prod", ErrorKind.UPSTREAM, "upstream_auth_failed"),
    ({}, "no-such-deployment", ErrorKind.UPSTREAM, "upstream_model_not_found"),
])
async def test_failures(fake: OpenAIUpstream, http: HttpClient, config: dict[str, Any],
                        deployment: str, kind: ErrorKind, code: str) -> None:
    with pytest.raises(GatewayError) as info:
        await collect(make(fake, http, **config).chat(chat(), deployment))

    assert (info.value.kind, info.value.code) == (kind, code)


async def test_embeddings(fake: OpenAIUpstream, http: HttpClient) -> None:
    request = EmbeddingRequest(model="embed", inputs=["hello"])

    events = [e async for e in make(fake, http).embed(request, "embed-prod")]

    assert isinstance(events[0], EmbeddingsResult) and len(events[0].vectors) == 1
    assert fake.last_request.path == "/openai/deployments/embed-prod/embeddings"
    assert fake.last_request.query == {"api-version": "2024-10-21"}
    assert fake.last_request.headers["api-key"] == KEY
