"""The ``anthropic`` provider: Anthropic's Messages API (``POST {base_url}/messages``).

The HTTP side only: translation lives in ``protocols.anthropic.messages_upstream``.
Streams are parsed and handed on event by event as the bytes arrive.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

from sluicegate.canonical import ChatRequest, ErrorCode, Event, GatewayError
from sluicegate.protocols.anthropic.messages_upstream import (
    MessagesStreamDecoder,
    decode_messages_response,
    encode_messages_request,
)
from sluicegate.protocols.sse import SSEEvent
from sluicegate.protocols.upstream_errors import bad_json
from sluicegate.providers.base import Provider, stream_cut
from sluicegate.providers.deadlines import Deadlines

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

    def chat(
        self, request: ChatRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        body = encode_messages_request(request, model)
        if request.stream:
            decoder = _StreamDecoder(self.name)
            return self._stream(self.url, body, self._headers(True), decoder, deadlines)
        return self._complete(body, deadlines)

    async def _complete(self, body: bytes, deadlines: Deadlines | None) -> AsyncIterator[Event]:
        data = await self._unary(self.url, body, self._unary_headers, deadlines)
        for event in self.decode_answer(data):
            yield event

    @functools.cached_property
    def _unary_headers(self) -> dict[str, str]:
        # Built once: the unary transport serialises a header set once, by identity.
        return self._headers(False)

    def decode_answer(self, body: bytes) -> list[Event]:
        try:
            return decode_messages_response(body, provider=self.name)
        except GatewayError as exc:
            if exc.code == ErrorCode.UPSTREAM_BAD_RESPONSE:
                raise bad_json(self.name, exc) from None
            raise


class _StreamDecoder:
    """Messages stream events; the answer is complete at ``message_stop``."""

    __slots__ = ("_decoder", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._decoder = MessagesStreamDecoder(provider)

    @property
    def done(self) -> bool:
        return self._decoder.done

    def feed(self, event: SSEEvent) -> list[Event]:
        try:
            return self._decoder.feed(event.event, event.data)
        except GatewayError as exc:
            if exc.code == ErrorCode.UPSTREAM_BAD_RESPONSE:
                raise bad_json(self._provider, exc) from None
            raise

    def finish(self) -> list[Event]:
        if not self._decoder.done:
            raise stream_cut(self._provider, "message_stop")
        return []


__all__ = ["ANTHROPIC_VERSION", "DEFAULT_BASE_URL", "AnthropicProvider"]
