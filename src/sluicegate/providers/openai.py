"""The ``openai`` provider: OpenAI itself or any server that speaks Chat Completions.

Only HTTP lives here (URLs, auth headers); the body translation is
:mod:`sluicegate.protocols.openai`, and how a call is made (deadlines, the
stream loop, errors) is the base class's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    Event,
)
from sluicegate.config import ProviderConfig
from sluicegate.protocols.openai.chat_upstream import (
    ChatStreamDecoder,
    decode_chat_response,
    decode_embeddings_response,
    encode_chat_request,
    encode_embeddings_request,
)
from sluicegate.protocols.sse import SSEEvent
from sluicegate.providers.base import Provider, stream_cut
from sluicegate.providers.deadlines import Deadlines
from sluicegate.providers.http import HttpClient

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider(Provider):
    """``POST {base_url}/chat/completions`` and ``{base_url}/embeddings`` with a bearer key."""

    def __init__(self, config: ProviderConfig, http: HttpClient) -> None:
        super().__init__(config, http)
        self.base_url = (config.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._headers = {
            "Content-Type": "application/json",
            **self._auth_headers(),
            **config.headers,
        }

    # ---- what subclasses (Azure) change

    def _auth_headers(self) -> dict[str, str]:
        key = self.config.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _chat_url(self, model: str) -> str:
        return f"{self.base_url}/chat/completions"

    def _embeddings_url(self, model: str) -> str:
        return f"{self.base_url}/embeddings"

    # ---- calls

    def chat(
        self, request: ChatRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        body = encode_chat_request(request, model)
        url = self._chat_url(model)
        if request.stream:
            return self._stream(url, body, self._headers, _StreamDecoder(self.name), deadlines)
        return self._complete(url, body, deadlines)

    async def _complete(
        self, url: str, body: bytes, deadlines: Deadlines | None
    ) -> AsyncIterator[Event]:
        data = await self._unary(url, body, self._headers, deadlines)
        for event in self.decode_answer(data):
            yield event

    def decode_answer(self, body: bytes) -> list[Event]:
        return decode_chat_response(body, provider=self.name)

    async def embed(
        self, request: EmbeddingRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        body = encode_embeddings_request(request, model)
        data = await self._unary(self._embeddings_url(model), body, self._headers, deadlines)
        for event in decode_embeddings_response(data, provider=self.name):
            yield event


class _StreamDecoder:
    """Chat Completions chunks; the answer is complete at ``data: [DONE]``."""

    __slots__ = ("_decoder", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._decoder = ChatStreamDecoder(provider=provider)

    @property
    def done(self) -> bool:
        return self._decoder.done

    def feed(self, event: SSEEvent) -> list[Event]:
        return self._decoder.feed(event.data)

    def finish(self) -> list[Event]:
        if not self._decoder.done:
            raise stream_cut(self._provider, "[DONE]")
        return []
