"""The ``gemini`` provider: Google's Gemini API (generativelanguage ``v1beta``).

URLs: ``{base}/models/{model}:generateContent``,
``{base}/models/{model}:streamGenerateContent?alt=sse`` and
``{base}/models/{model}:batchEmbedContents``; the key goes in ``x-goog-api-key``
(never in the query string, where it would end up in access logs).
Translation lives in :mod:`sluicegate.protocols.gemini`; this module owns the
HTTP: URLs, headers, timeouts and the mapping of Gemini's failures.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator, Callable, Mapping

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
from sluicegate.protocols.sse import SSEEvent
from sluicegate.protocols.upstream_errors import bad_json, upstream_error
from sluicegate.providers.base import Provider
from sluicegate.providers.deadlines import Deadlines
from sluicegate.providers.http import HttpClient

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

    def chat(
        self, request: ChatRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        body = encode_generate_request(request)
        if request.stream:
            url = self._url(model, "streamGenerateContent?alt=sse")
            decoder = _StreamDecoder(self, model)
            return self._stream(url, body, self._stream_headers, decoder, deadlines)
        return self._complete(body, model, deadlines)

    async def _complete(
        self, body: bytes, model: str, deadlines: Deadlines | None
    ) -> AsyncIterator[Event]:
        url = self._url(model, "generateContent")
        data = await self._unary(url, body, self._headers, deadlines)
        for event in self._decoded(lambda: decode_generate_response(data, model=model)):
            yield event

    def decode_answer(self, body: bytes) -> list[Event]:
        # A stream Gemini answered as one JSON body (the model comes with it).
        return self._decoded(lambda: decode_generate_response(body, model=""))

    def failure(self, status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
        return self._failure(error_from_body(body, status), headers)

    def _decoded(self, decode: Callable[[], list[Event]]) -> list[Event]:
        try:
            return decode()
        except GeminiError as exc:
            raise self._failure(exc, {}) from exc
        except ValueError as exc:
            raise bad_json(self.name, exc) from exc

    async def embed(
        self, request: EmbeddingRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        body = encode_embed_request(request, model)
        url = self._url(model, "batchEmbedContents")
        data = await self._unary(url, body, self._headers, deadlines)
        events = self._decoded(
            lambda: decode_embed_response(data, model=model, inputs=request.inputs)
        )
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


class _StreamDecoder:
    """streamGenerateContent chunks; Gemini says no [DONE]: the stream ends with its
    body, and :meth:`finish` tells a cut one from a complete one."""

    __slots__ = ("_decoder", "_provider")

    def __init__(self, provider: GeminiProvider, model: str) -> None:
        self._provider = provider
        self._decoder = GenerateStreamDecoder(model=model)

    @property
    def done(self) -> bool:
        return False  # the body's end says it

    def feed(self, event: SSEEvent) -> list[Event]:
        return self._provider._decoded(lambda: self._decoder.feed(event.data))

    def finish(self) -> list[Event]:
        return self._decoder.finish()  # raises upstream_stream_cut if no finishReason came
