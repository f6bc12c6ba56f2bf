"""The ``anthropic`` provider: Anthropic's Messages API (``POST {base_url}/messages``).

The HTTP side only: translation lives in ``protocols.anthropic.messages_upstream``.
Streams are parsed and handed on event by event as the bytes arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

from sluicegate.canonical import ChatRequest, ErrorKind, Event, GatewayError
from sluicegate.protocols.anthropic.messages_upstream import (
    MessagesStreamDecoder,
    decode_messages_response,
    encode_messages_request,
)
from sluicegate.protocols.sse import SSEParser
from sluicegate.protocols.upstream_errors import bad_json, error_message, upstream_error
from sluicegate.providers.base import Provider

DEFAULT_BASE_URL = "https://api.anthropic.com/v1"
# The API version whose Messages format this adapter speaks (still served;
# anthropic-python 2.x sends a newer one). A provider's ``headers`` config can
# set another version or ``anthropic-beta`` flags: they override these.
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider(Provider):
    """Chat through Anthropic's Messages API. No embeddings (Anthropic has none)."""

    @property
    def url(self) -> str:
        return (self.config.base_url or DEFAULT_BASE_URL).rstrip("/") + "/messages"

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
        }
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        headers.update(self.config.headers)
        return headers

    def chat(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        return self._chat(request, model)

    async def _chat(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        body = encode_messages_request(request, model)
        if not request.stream:
            data = await self._unary(self.url, body, self._unary_headers)
            for event in self._decode_body(data):
                yield event
            return
        config = self.config
        async with contextlib.AsyncExitStack() as stack:
            # The first-token timeout covers the response head and the first
            # body bytes; after that only the whole-request timeout applies.
            try:
                async with asyncio.timeout(config.first_token_timeout_s):
                    resp = await stack.enter_async_context(
                        self.http.post(
                            self.url,
                            body=body,
                            headers=self._headers(request.stream),
                            client_timeout=self.timeout,
                            provider=self.name,
                            tls=self.tls,
                            max_bytes=self.config.max_response_bytes,
                        )
                    )
                    if resp.status >= 300:
                        message = error_message(await resp.read())
                        raise upstream_error(self.name, resp.status, message, resp.headers)
                    chunks = resp.content.iter_any()
                    first = await anext(chunks, b"")
            except TimeoutError as exc:
                raise self.first_token_timeout() from exc

            if not request.stream or not resp.content_type.startswith("text/event-stream"):
                # A non-streamed call (or a server that answered one anyway).
                raw = first + await resp.read()
                for event in self._decode_body(raw):
                    yield event
                return

            parser = SSEParser(self.max_event_bytes)
            decoder = MessagesStreamDecoder(self.name)
            chunk = first
            while chunk:
                for sse in parser.feed(chunk):
                    for event in self._feed(decoder, sse.event, sse.data):
                        yield event
                chunk = await anext(chunks, b"")
            for sse in parser.close():
                for event in self._feed(decoder, sse.event, sse.data):
                    yield event
            if not decoder.done:
                raise GatewayError(
                    ErrorKind.UPSTREAM,
                    f"upstream {self.name!r} ended its stream without message_stop",
                    code="upstream_stream_cut",
                    retryable=True,
                )

    @functools.cached_property
    def _unary_headers(self) -> dict[str, str]:
        # Built once: the unary transport serialises a header set once, by identity.
        return self._headers(False)

    def _decode_body(self, raw: bytes) -> list[Event]:
        try:
            return decode_messages_response(raw, provider=self.name)
        except GatewayError as exc:
            if exc.code == "upstream_bad_response":
                raise bad_json(self.name, exc) from None
            raise

    def _feed(self, decoder: MessagesStreamDecoder, event: str | None, data: str) -> list[Event]:
        try:
            return decoder.feed(event, data)
        except GatewayError as exc:
            if exc.code == "upstream_bad_response":
                raise bad_json(self.name, exc) from None
            raise


__all__ = ["ANTHROPIC_VERSION", "DEFAULT_BASE_URL", "AnthropicProvider"]
