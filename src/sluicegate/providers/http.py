"""The one HTTP client every provider adapter shares: it picks the transport of
each call and says, in the contract's words, why a call failed.

Created at startup and closed at shutdown by the gateway's lifecycle, never per
request: a client per call would pay a TCP and TLS handshake on every LLM call.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import version

from yarl import URL

from sluicegate.providers.aiohttp_transport import AiohttpTransport
from sluicegate.providers.proxy import ProxyRules
from sluicegate.providers.transport import (
    MAX_ANSWER_BYTES,
    Answer,
    Limits,
    StreamedAnswer,
    TransportFailure,
    failure_error,
)
from sluicegate.providers.unary import UnaryTransport

USER_AGENT = "sluicegate/" + version("sluicegate")
# Distinct endpoint URLs kept parsed (providers times models, in practice).
MAX_PARSED_URLS = 1024


class HttpClient:
    """Non-streamed calls go through the lean unary transport, streams and every
    call through an egress proxy (``HTTPS_PROXY``, ``NO_PROXY``, read once) through
    aiohttp. Either way a failure is a ``GatewayError`` built by one table
    (:func:`sluicegate.providers.transport.failure_error`)."""

    def __init__(
        self,
        streams: AiohttpTransport,
        unary: UnaryTransport | None = None,
    ) -> None:
        self.streams = streams
        self.unary = unary or UnaryTransport(user_agent=USER_AGENT)
        # Endpoint strings parsed once: providers build them per call, and parsing
        # a URL on every LLM call is measurable at the gateway's request rate.
        self._urls: dict[str, URL] = {}
        # The current trace context (W3C traceparent) as headers for each call, sent
        # after the provider's own (which stay one mapping, serialised once); set by
        # the gateway only when tracing is on.
        self.trace_headers: Callable[[], Mapping[str, str]] | None = None

    @property
    def proxies(self) -> ProxyRules:
        """The egress proxies; a call to a proxied origin goes through aiohttp."""
        return self.streams.proxies

    @proxies.setter
    def proxies(self, rules: ProxyRules) -> None:
        self.streams.proxies = rules

    @classmethod
    def create(cls, proxies: ProxyRules | None = None) -> HttpClient:
        rules = ProxyRules() if proxies is None else proxies
        return cls(AiohttpTransport.create(USER_AGENT, rules))

    async def close(self) -> None:
        await self.unary.close()
        await self.streams.close()

    async def fetch(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        limits: Limits,
        provider: str,
        tls: ssl.SSLContext | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> Answer:
        """POST ``body`` and read the whole answer (any status). ``tls``: the
        provider's own context for https (default: the system's trust store);
        ``max_bytes``: the most the answer may take, decoded."""
        parsed = self._url(url)
        extra = None if self.trace_headers is None else self.trace_headers()
        proxied = self.proxies and self.proxies.for_url(parsed) is not None
        transport = self.streams if proxied else self.unary
        try:
            return await transport.fetch(
                parsed, body, headers, limits=limits, tls=tls, max_bytes=max_bytes, extra=extra
            )
        except TransportFailure as failure:
            raise failure_error(failure, provider) from failure

    @asynccontextmanager
    async def open(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        limits: Limits,
        provider: str,
        tls: ssl.SSLContext | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> AsyncIterator[StreamedAnswer]:
        """POST ``body`` and yield the answer once its head has arrived, its body to be
        read as it comes. A non-2xx status is not an error here: the adapter reads
        the body and maps it, because only it knows the format (a 3xx, never
        followed, too)."""
        if self.trace_headers is not None and (extra := self.trace_headers()):
            headers = {**headers, **extra}
        try:
            async with self.streams.open(
                self._url(url), body, headers, limits=limits, tls=tls, max_bytes=max_bytes
            ) as answer:
                yield answer
        except TransportFailure as failure:
            raise failure_error(failure, provider) from failure

    def _url(self, url: str) -> URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= MAX_PARSED_URLS:
                self._urls.clear()
            parsed = self._urls[url] = URL(url)
        return parsed
