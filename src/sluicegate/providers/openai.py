"""The ``openai`` provider: OpenAI itself or any server that speaks Chat Completions.

Only HTTP lives here (URLs, auth headers, status mapping, timeouts, stream
framing); the body translation is :mod:`sluicegate.protocols.openai`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp

from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    ErrorKind,
    Event,
    GatewayError,
)
from sluicegate.config import ProviderConfig
from sluicegate.protocols.openai.chat_upstream import (
    ChatStreamDecoder,
    decode_chat_response,
    decode_embeddings_response,
    encode_chat_request,
    encode_embeddings_request,
)
from sluicegate.protocols.sse import SSEParser
from sluicegate.protocols.upstream_errors import error_message, upstream_error
from sluicegate.providers.base import Provider
from sluicegate.providers.http import HttpClient, read_chunks

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# After [DONE] the body should end at once; reading its last bytes lets the
# connection go back to the keep-alive pool instead of being closed. A server
# that keeps the stream open after [DONE] is not waited for longer than this.
_DRAIN_S = 1.0


class OpenAIProvider(Provider):
    """``POST {base_url}/chat/completions`` and ``{base_url}/embeddings`` with a bearer key.

    Streams are parsed as bytes arrive and each event is yielded at once.
    ``first_token_timeout_s`` bounds the wait from sending the request to the
    response headers and, for streams, to the first event; ``timeout_s``
    bounds the whole call (both enforced here, so every caller gets them).
    """

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

    async def chat(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        body = encode_chat_request(request, model)
        if not request.stream:
            data = await self._unary(self._chat_url(model), body, self._headers)
            for event in decode_chat_response(data, provider=self.name):
                yield event
            return
        deadline = asyncio.get_running_loop().time() + self.config.first_token_timeout_s
        async with AsyncExitStack() as stack:
            resp = await self._post(stack, self._chat_url(model), body, deadline)
            if request.stream and "json" not in resp.headers.get("Content-Type", ""):
                async for event in self._stream(resp, deadline):
                    yield event
                return
            # Not streamed, or a server that ignored "stream": one JSON answer.
            data = await resp.read()
        for event in decode_chat_response(data, provider=self.name):
            yield event

    async def embed(self, request: EmbeddingRequest, model: str) -> AsyncIterator[Event]:
        body = encode_embeddings_request(request, model)
        data = await self._unary(self._embeddings_url(model), body, self._headers)
        for event in decode_embeddings_response(data, provider=self.name):
            yield event

    async def _post(
        self, stack: AsyncExitStack, url: str, body: bytes, deadline: float
    ) -> aiohttp.ClientResponse:
        """Send the request; return a 2xx response (kept open on ``stack``) or raise."""
        try:
            async with asyncio.timeout_at(deadline):
                resp = await stack.enter_async_context(
                    self.http.post(
                        url,
                        body=body,
                        headers=self._headers,
                        client_timeout=self.timeout,
                        provider=self.name,
                        tls=self.tls,
                        max_bytes=self.config.max_response_bytes,
                    )
                )
        except TimeoutError:
            raise self.first_token_timeout() from None
        if not 200 <= resp.status < 300:
            data = await resp.read()
            raise upstream_error(self.name, resp.status, error_message(data), resp.headers)
        return resp

    async def _stream(self, resp: aiohttp.ClientResponse, deadline: float) -> AsyncIterator[Event]:
        parser = SSEParser(self.max_event_bytes)
        decoder = ChatStreamDecoder(provider=self.name)
        chunks = read_chunks(resp)
        # Until the first event the first-token deadline applies; keep-alive
        # comments (some servers send them while the model is queued) do not
        # count as an answer. Nothing is yielded inside the timeout block.
        first: list[Event] = []
        chunk = b""
        try:
            async with asyncio.timeout_at(deadline):
                while not first and not decoder.done:
                    chunk = await anext(chunks, b"")
                    if not chunk:
                        break
                    for sse in parser.feed(chunk):
                        first += decoder.feed(sse.data)
        except TimeoutError:
            raise self.first_token_timeout() from None
        for event in first:
            yield event
        if chunk:
            while not decoder.done:
                chunk = await anext(chunks, b"")
                if not chunk:
                    break
                for sse in parser.feed(chunk):
                    for event in decoder.feed(sse.data):
                        yield event
        if decoder.done:
            await self._drain(chunks)
            return
        for sse in parser.close():  # a last event without its blank line
            for event in decoder.feed(sse.data):
                yield event
        if not decoder.done:
            raise GatewayError(
                ErrorKind.UPSTREAM,
                f"upstream {self.name!r} ended its stream without [DONE]",
                code="upstream_stream_cut",
                retryable=True,
            )

    @staticmethod
    async def _drain(chunks: AsyncIterator[bytes]) -> None:
        try:
            async with asyncio.timeout(_DRAIN_S):
                async for _ in chunks:
                    pass
        except (TimeoutError, aiohttp.ClientError):
            pass  # the answer is complete; only the connection's reuse is lost
