"""What a tenant is told when an upstream refuses: each provider, end to end through its fake.

An upstream's error is written for the account holder, the gateway's operator:
a rejected key is named in it, a rate limit names the organisation. Tenants get
the gateway's own words for a rejected credential and the rest scrubbed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from fakes import anthropic_upstream, gemini_upstream
from fakes.anthropic_upstream import AnthropicUpstream
from fakes.calls import chat, failure
from fakes.gemini_upstream import GeminiUpstream, Reply
from fakes.openai_upstream import OpenAIUpstream
from sluicegate.config import ProviderConfig
from sluicegate.config.schema import ProviderType
from sluicegate.providers.base import Provider
from sluicegate.providers.http import HttpClient
from sluicegate.providers.registry import build_provider

Fake = OpenAIUpstream | AnthropicUpstream | GeminiUpstream
KINDS: list[ProviderType] = ["openai", "azure", "anthropic", "gemini"]


@asynccontextmanager
async def upstream(
    kind: ProviderType, http: HttpClient, key: str = "the-right-key"
) -> AsyncIterator[tuple[Fake, Provider]]:
    """``kind``'s fake, accepting only ``the-right-key``, and a provider calling it with ``key``."""
    fake: Fake
    if kind in ("openai", "azure"):
        fake = OpenAIUpstream(api_key="the-right-key")
    elif kind == "anthropic":
        fake = AnthropicUpstream(api_key="the-right-key")
    else:
        fake = GeminiUpstream(api_key="the-right-key")
    async with fake:
        base_url = {"openai": fake.origin + "/v1", "azure": fake.origin,
                    "anthropic": fake.origin + "/v1", "gemini": fake.origin + "/v1beta"}[kind]
        config = ProviderConfig(name="up", type=kind, base_url=base_url, api_key=key)
        yield fake, build_provider(config, http)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_rejected_key_gets_the_gateways_words_and_the_upstreams_go_to_the_log(
    http: HttpClient, kind: ProviderType, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "sluicegate.upstream")
    async with upstream(kind, http, key="sk-operators-0123456789") as (_, provider):
        error, _ = await failure(provider.chat(chat(stream), "gpt-4o"))

    assert (error.status, error.code) == (502, "upstream_auth_failed")
    assert error.message == "the gateway's credentials for upstream 'up' were rejected"
    (record,) = caplog.records
    said = record.getMessage()
    assert said.startswith("upstream 'up' rejected the gateway's credentials (40")
    # What each upstream says about the key, for the operator (OpenAI's names it: scrubbed).
    assert {"openai": "Incorrect API key provided: [redacted].",
            "azure": "Access denied due to invalid subscription key",
            "anthropic": "invalid x-api-key",
            "gemini": "API key not valid"}[kind] in said


ANTHROPIC_ORG = "8d6c2c5c-1b2a-4c3d-9e8f-0a1b2c3d4e5f"
GEMINI_PROJECT = "project_number:123456789012"


def rate_limited(kind: ProviderType, fake: Fake) -> str:
    """Script the 429 each provider sends, naming the account; returns what names it."""
    if isinstance(fake, OpenAIUpstream):
        if kind == "azure":
            fake.fail(429, {"error": {"code": "429", "message": (
                "Requests to the ChatCompletions_Create Operation under subscription "
                "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0 have exceeded the token rate limit.")}})
            return "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
        fake.fail(429)  # "Rate limit reached for gpt-4o in organization org-123 ..."
        return "org-123"
    if isinstance(fake, AnthropicUpstream):
        fake.fail(429, anthropic_upstream.error_body(429, (
            f"This request would exceed the rate limit for your organization ({ANTHROPIC_ORG}) "
            "of 400,000 input tokens per minute.")))
        return ANTHROPIC_ORG
    fake.script(Reply.error(gemini_upstream.error_body(429, "RESOURCE_EXHAUSTED", (
        "Quota exceeded for quota metric 'Generate Content API requests per minute' for "
        f"consumer '{GEMINI_PROJECT}'."))))
    return GEMINI_PROJECT


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_rate_limit_is_relayed_without_the_account_it_names(
    http: HttpClient, kind: ProviderType, stream: bool
) -> None:
    async with upstream(kind, http, key="the-right-key") as (fake, provider):
        account = rate_limited(kind, fake)
        error, _ = await failure(provider.chat(chat(stream), "gpt-4o"))

    assert (error.status, error.code) == (429, "upstream_rate_limited")
    assert "[redacted]" in error.message
    assert account not in error.message
    assert "rate limit" in error.message.lower() or "quota exceeded" in error.message.lower()

