"""The ``gemini`` provider: Google's Gemini API (generativelanguage ``v1beta``).

URLs: ``{base}/models/{model}:generateContent``,
``{base}/models/{model}:streamGenerateContent?alt=sse`` and
``{base}/models/{model}:batchEmbedContents``; the key goes in ``x-goog-api-key``
(never in the query string, where it would end up in access logs).
Translation lives in :mod:`sluicegate.protocols.gemini`; this module owns the
HTTP: URLs, headers, timeouts and the mapping of Gemini's failures.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator, Mapping

from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    EmbeddingsResult,
    Event,
    GatewayError,
)
from sluicegate.config import ProviderConfig
from sluicegate.protocols.gemini import (
    GeminiError,
    GenerateStreamDecoder,
    decode_embed_response,
    decode_generate_response,
    encode_embed_request,
    encode_generate_request,
    error_from_body,
)
from sluicegate.protocols.sse import SSEParser
from sluicegate.protocols.upstream_errors import bad_json, upstream_error
from sluicegate.providers.base import Provider
from sluicegate.providers.http import HttpClient, read_chunks

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


class GeminiProvider(Provider):
    """Serves chat and embeddings calls with the Gemini API.

    Streams are read as they arrive and each event is yielded the moment its
    SSE frame is complete. ``first_token_timeout_s`` bounds the wait for the
    first event of a stream, and for the answer's headers when not streaming
    (Gemini sends those only once the whole answer is ready).
    """

    def __init__(self, config: ProviderConfig, http: HttpClient) -> None:
        super().__init__(config, http)
        self.base_url = (config.base_url or DEFAULT_BASE_URL).rstrip("/")
        headers = {"content-type": "application/json", **config.headers}
        if config.api_key:
            headers["x-goog-api-key"] = config.api_key
        self._headers = headers
        self._stream_headers = {**headers, "accept": "text/event-stream"}

    def _url(self, model: str, method: str) -> str:
        # Accept "models/gemini-2.5-flash" as well as the bare name.
        return f"{self.base_url}/models/{model.removeprefix('models/')}:{method}"

    def chat(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        if request.stream:
            return self._stream(request, model)
        return self._complete(request, model)

    async def _complete(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        body = encode_generate_request(request)
        data = await self._call(self._url(model, "generateContent"), body)
        try:
            events = decode_generate_response(data, model=model)
        except GeminiError as exc:
            raise self._failure(exc, {}) from exc
        except ValueError as exc:
            raise bad_json(self.name, exc) from exc
        for event in events:
            yield event

    async def _stream(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        body = encode_generate_request(request)
        config = self.config
        decoder = GenerateStreamDecoder(model=model)
        parser = SSEParser(self.max_event_bytes)
        try:
            # The deadline is disarmed before the first yield: it must never
            # fire while the consumer, not this generator, is running.
            async with asyncio.timeout(config.first_token_timeout_s) as deadline:
                async with self.http.post(
                    self._url(model, "streamGenerateContent?alt=sse"),
                    body=body,
                    headers=self._stream_headers,
                    client_timeout=self.timeout,
                    provider=self.name,
                    tls=self.tls,
                    max_bytes=self.config.max_response_bytes,
                ) as resp:
                    if resp.status >= 300:
                        data = await resp.read()
                        raise self._failure(error_from_body(data, resp.status), resp.headers)
                    async for chunk in read_chunks(resp):
                        for sse in parser.feed(chunk):
                            events = self._decode(decoder, sse.data)
                            if events:
                                deadline.reschedule(None)
                                for event in events:
                                    yield event
                    for sse in parser.close():
                        events = self._decode(decoder, sse.data)
                        deadline.reschedule(None)
                        for event in events:
                            yield event
        except TimeoutError as exc:
            raise self.first_token_timeout() from exc
        for event in decoder.finish():  # raises upstream_stream_cut if no finishReason came
            yield event

    def _decode(self, decoder: GenerateStreamDecoder, data: str) -> list[Event]:
        try:
            return decoder.feed(data)
        except GeminiError as exc:
            raise self._failure(exc, {}) from exc
        except ValueError as exc:
            raise bad_json(self.name, exc) from exc

    async def _call(self, url: str, body: bytes) -> bytes:
        return await self._unary(
            url,
            body,
            self._headers,
            lambda status, data, headers: self._failure(error_from_body(data, status), headers),
        )

    def embed(self, request: EmbeddingRequest, model: str) -> AsyncIterator[Event]:
        return self._embed(request, model)

    async def _embed(self, request: EmbeddingRequest, model: str) -> AsyncIterator[Event]:
        body = encode_embed_request(request, model)
        data = await self._call(self._url(model, "batchEmbedContents"), body)
        try:
            events = decode_embed_response(data, model=model, inputs=request.inputs)
        except GeminiError as exc:
            raise self._failure(exc, {}) from exc
        except ValueError as exc:
            raise bad_json(self.name, exc) from exc
        for event in events:
            if isinstance(event, EmbeddingsResult) and request.encoding_format == "base64":
                # Gemini has only floats; OpenAI's base64 is little-endian float32.
                event.vectors = [
                    base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in event.vectors
                ]
            yield event

    def _failure(self, error: GeminiError, headers: Mapping[str, str]) -> GatewayError:
        """Map a Gemini error to the contract; Gemini's wait hint is in the body."""
        if error.retry_after is not None and "retry-after" not in headers:
            headers = {"retry-after": str(error.retry_after)}
        message = f"{error.reason}: {error.message}" if error.reason else error.message
        return upstream_error(self.name, error.status, message, headers)
