"""A gateway in front of fake OpenAI and Anthropic upstreams, and SDK clients for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anthropic
import openai
from aiohttp import web
from aiohttp.test_utils import TestClient

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream

KEY = "sk-e2e-tenant-key"

Gateway = TestClient[web.Request, web.Application]  # what the start_gateway fixture returns


def gateway_url(gateway: Gateway) -> str:
    """The gateway's base URL, ``http://127.0.0.1:PORT`` (no trailing slash)."""
    return str(gateway.server.make_url("")).rstrip("/")


def openai_client(base_url: str, key: str = KEY) -> openai.AsyncOpenAI:
    """The official OpenAI SDK on the gateway at ``base_url``, without retries."""
    return openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


def anthropic_client(base_url: str, key: str = KEY) -> anthropic.AsyncAnthropic:
    """The official Anthropic SDK on the gateway at ``base_url``, without retries."""
    return anthropic.AsyncAnthropic(base_url=base_url, api_key=key, max_retries=0)


def upstream_config(oai_url: str, claude_url: str, **overrides: Any) -> dict[str, Any]:
    """Aliases ``gpt`` (an OpenAI-type upstream) and ``claude`` (an Anthropic-type one)."""
    config: dict[str, Any] = {
        "providers": [
            {"name": "oai", "type": "openai", "base_url": oai_url, "api_key": "sk-upstream"},
            {"name": "ant", "type": "anthropic", "base_url": claude_url, "api_key": "sk-ant"},
        ],
        "models": [
            {"name": "gpt", "targets": [{"provider": "oai", "model": "gpt-4o"}],
             "pricing": {"input_per_mtok": 2.5, "output_per_mtok": 10.0}},
            {"name": "claude", "targets": [{"provider": "ant", "model": "claude-sonnet-4-5"}],
             "pricing": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}},
        ],
        "tenants": [{"name": "acme", "keys": [{"name": "e2e", "key": KEY}]}],
    }
    config.update(overrides)
    return config


@dataclass
class Stack:
    gateway: Gateway
    oai_upstream: OpenAIUpstream
    claude_upstream: AnthropicUpstream

    @property
    def url(self) -> str:
        return gateway_url(self.gateway)

    def openai(self, key: str = KEY) -> openai.AsyncOpenAI:
        return openai_client(self.url, key)

    def anthropic(self, key: str = KEY) -> anthropic.AsyncAnthropic:
        return anthropic_client(self.url, key)

    async def ledger_records(self) -> list[dict[str, Any]]:
        """The ledger's recent records, newest first, once everything is shipped."""
        from sluicegate.gateway import GATEWAY

        ledger = self.gateway.app[GATEWAY].ledger
        await ledger.aflush()
        return await ledger.arecords()
