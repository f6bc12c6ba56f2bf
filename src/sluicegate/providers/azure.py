"""The ``azure`` provider: Azure OpenAI, the same wire format behind other URLs and auth.

The target model is the *deployment* name: it goes into the URL
(``/openai/deployments/{model}/...?api-version=...``); Azure ignores the body's
``model`` but it is sent anyway, so logs on both sides agree. A ``base_url``
ending in ``/openai/v1`` selects Azure's newer v1 API, which takes
OpenAI-style paths and the model in the body.
"""

from __future__ import annotations

from urllib.parse import quote

from sluicegate.config import ProviderConfig
from sluicegate.providers.http import HttpClient
from sluicegate.providers.openai import OpenAIProvider

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: ``api-key`` header, deployment URLs, ``api-version`` query."""

    def __init__(self, config: ProviderConfig, http: HttpClient) -> None:
        super().__init__(config, http)
        base = self.base_url
        # Tolerate a base_url given down to the /openai segment.
        if base.endswith("/openai"):
            base = base[: -len("/openai")]
            self.base_url = base
        self._v1 = base.endswith("/openai/v1")
        self._query = f"?api-version={quote(config.api_version or DEFAULT_API_VERSION)}"

    def _auth_headers(self) -> dict[str, str]:
        key = self.config.api_key
        return {"api-key": key} if key else {}

    def _deployment_url(self, model: str, operation: str) -> str:
        if self._v1:
            return f"{self.base_url}/{operation}"
        deployment = quote(model, safe="")
        return f"{self.base_url}/openai/deployments/{deployment}/{operation}{self._query}"

    def _chat_url(self, model: str) -> str:
        return self._deployment_url(model, "chat/completions")

    def _embeddings_url(self, model: str) -> str:
        return self._deployment_url(model, "embeddings")
