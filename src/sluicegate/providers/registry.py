"""Build provider adapters from their config."""

from __future__ import annotations

from sluicegate.config import ProviderConfig
from sluicegate.providers.base import Provider
from sluicegate.providers.http import HttpClient


def build_provider(config: ProviderConfig, http: HttpClient) -> Provider:
    # Imported here so that a provider's module is loaded only when configured.
    if config.type == "echo":
        from sluicegate.providers.echo import EchoProvider

        return EchoProvider(config, http)
    if config.type == "openai":
        from sluicegate.providers.openai import OpenAIProvider

        return OpenAIProvider(config, http)
    if config.type == "azure":
        from sluicegate.providers.azure import AzureOpenAIProvider

        return AzureOpenAIProvider(config, http)
    if config.type == "anthropic":
        from sluicegate.providers.anthropic import AnthropicProvider

        return AnthropicProvider(config, http)
    if config.type == "gemini":
        from sluicegate.providers.gemini import GeminiProvider

        return GeminiProvider(config, http)
    raise ValueError(f"unknown provider type {config.type!r}")
