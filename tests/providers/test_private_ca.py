"""Providers behind a private CA: ``ca_file`` is what https to them trusts.

An internal server (vLLM, a company's own proxy in front of a provider) often
has a certificate from the company's own authority, which the system's trust
store does not know. Every provider type takes ``ca_file``, on its streamed and
its non-streamed calls alike.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.base import FakeUpstream
from fakes.calls import chat, collect, failure, text_of
from fakes.gemini_upstream import GeminiUpstream
from fakes.openai_upstream import OpenAIUpstream
from sluicegate.canonical import Usage
from sluicegate.config import ProviderConfig
from sluicegate.providers.http import HttpClient
from sluicegate.providers.registry import build_provider

KEY = "sk-private"
UPSTREAMS: dict[str, type[FakeUpstream[Any]]] = {
    "openai": OpenAIUpstream,
    "anthropic": AnthropicUpstream,
    "gemini": GeminiUpstream,
}


@pytest.fixture
def ca(tmp_path: Path) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    pem = tmp_path / "private-ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    return authority, pem


@pytest.mark.parametrize("kind", sorted(UPSTREAMS))
async def test_calls_to_an_upstream_behind_a_private_ca_trust_the_providers_ca_file(
    kind: str, ca: tuple[trustme.CA, Path], http: HttpClient
) -> None:
    authority, pem = ca
    upstream = UPSTREAMS[kind](api_key=KEY)
    upstream.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(upstream.tls)

    def provider(**config: Any) -> Any:
        settings = ProviderConfig(name="inside", type=kind, base_url=upstream.url, api_key=KEY,
                                  **config)
        return build_provider(settings, http)

    async with upstream:
        trusting = provider(ca_file=str(pem))
        for stream in (False, True):
            events = await collect(trusting.chat(chat(stream=stream), "model-x"))
            assert text_of(events) and isinstance(events[-1], Usage), (kind, stream, events)
        for stream in (False, True):  # the system's trust store does not know that CA
            error, events = await failure(provider().chat(chat(stream=stream), "model-x"))
            assert (error.code, events) == ("upstream_unreachable", []), (kind, stream)
