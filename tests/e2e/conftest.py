"""Fixtures for the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import Stack, upstream_config


@pytest.fixture
async def stack(start_gateway) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        gateway = await start_gateway(upstream_config(oai.url, claude.url))
        yield Stack(gateway, oai, claude)
