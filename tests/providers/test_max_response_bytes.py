"""``providers[].max_response_bytes``: what an upstream may send, end to end through each fake.

A whole answer may take that many bytes, one event of a stream the smaller of
that and 8 MiB; past either the call is a 502 ``upstream_bad_response``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.calls import chat, collect, failure, text_of
from fakes.gemini_upstream import GeminiUpstream, Reply, generate_response
from fakes.openai_upstream import OpenAIUpstream
from sluicegate.config import ProviderConfig
from sluicegate.config.schema import ProviderType
from sluicegate.protocols.sse import MAX_EVENT_BYTES
from sluicegate.providers.base import Provider
from sluicegate.providers.http import HttpClient
from sluicegate.providers.registry import build_provider

KINDS: list[ProviderType] = ["openai", "azure", "anthropic", "gemini"]
BOUND = 4096

Fake = OpenAIUpstream | AnthropicUpstream | GeminiUpstream


@asynccontextmanager
async def upstream(kind: ProviderType, http: HttpClient) -> AsyncIterator[tuple[Fake, Provider]]:
    fake: Fake
    if kind in ("openai", "azure"):
        fake = OpenAIUpstream()
    elif kind == "anthropic":
        fake = AnthropicUpstream()
    else:
        fake = GeminiUpstream(api_key=None)
    async with fake:
        base_url = {"openai": fake.origin + "/v1", "azure": fake.origin,
                    "anthropic": fake.origin + "/v1", "gemini": fake.origin + "/v1beta"}[kind]
        config = ProviderConfig(name="up", type=kind, base_url=base_url, api_key="k",
                                max_response_bytes=BOUND)
        yield fake, build_provider(config, http)


def answer_with(fake: Fake, text: str) -> None:
    if isinstance(fake, GeminiUpstream):
        fake.script(Reply(body=generate_response(text)))
    else:
        fake.reply_with(text)


def stream_without_end(fake: Fake, data: bytes) -> None:
    """A stream whose first event never ends: one data line, never a newline."""
    body = b"data: " + data
    if isinstance(fake, GeminiUpstream):
        fake.script(Reply(raw=body))
    else:
        fake.reply_raw(body, content_type="text/event-stream")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_whole_answer_over_the_bound_is_a_bad_response(
    http: HttpClient, kind: ProviderType
) -> None:
    async with upstream(kind, http) as (fake, provider):
        answer_with(fake, "fits")
        assert text_of(await collect(provider.chat(chat(), "m"))) == "fits"
        answer_with(fake, "x" * BOUND)
        error, events = await failure(provider.chat(chat(), "m"))

    assert (error.status, error.code, events) == (502, "upstream_bad_response", [])
    assert f"({BOUND} bytes; providers[].max_response_bytes)" in error.message


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_event_over_the_bound_is_a_bad_response(
    http: HttpClient, kind: ProviderType
) -> None:
    async with upstream(kind, http) as (fake, provider):
        stream_without_end(fake, b'{"text": "' + b"x" * (4 * BOUND))
        error, events = await failure(provider.chat(chat(stream=True), "m"))

    assert (error.status, error.code, events) == (502, "upstream_bad_response", [])
    assert "a stream event" in error.message


async def test_a_streams_events_are_bounded_by_the_smaller_of_the_setting_and_8_mib(
    http: HttpClient,
) -> None:
    def event_bound(max_response_bytes: int) -> int:
        config = ProviderConfig(name="up", type="openai", max_response_bytes=max_response_bytes)
        return build_provider(config, http).max_event_bytes

    assert ProviderConfig(name="up", type="openai").max_response_bytes == 32 * 1024 * 1024
    assert event_bound(32 * 1024 * 1024) == MAX_EVENT_BYTES == 8 * 1024 * 1024
    assert event_bound(BOUND) == BOUND
