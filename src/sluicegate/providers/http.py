"""The one pooled HTTP client every provider adapter shares."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import version

import aiohttp
import orjson
from yarl import URL

from sluicegate.canonical import ErrorKind, GatewayError
from sluicegate.protocols.sse import EventTooLarge
from sluicegate.providers.proxy import ProxyRules
from sluicegate.providers.unary import (
    MAX_ANSWER_BYTES,
    AnswerTimeout,
    AnswerTooLarge,
    ConnectFailed,
    UnaryClient,
    UnaryError,
)

USER_AGENT = "sluicegate/" + version("sluicegate")
# Distinct endpoint URLs kept parsed (providers times models, in practice).
MAX_PARSED_URLS = 1024


class BoundedResponse(aiohttp.ClientResponse):
    """A response whose :meth:`read` stops at ``max_bytes`` (set per call by
    :meth:`HttpClient.post`), raising :class:`AnswerTooLarge` and closing the connection.

    aiohttp's own read takes the whole body, and lifts its limit on how far a
    compressed chunk may inflate at once; this one reads as the stream does,
    chunk by chunk, so a compression bomb inflates no further than the bound.
    """

    max_bytes = MAX_ANSWER_BYTES  # a provider's own bound is set on the instance

    async def read(self) -> bytes:
        if self._body is None:
            limit = self.max_bytes
            chunks: list[bytes] = []
            size = 0
            try:
                async for chunk in self.content.iter_any():
                    size += len(chunk)
                    if size > limit:
                        raise AnswerTooLarge(limit)
                    chunks.append(chunk)
            except BaseException:
                self.close()  # never reuse a connection left mid-answer
                raise
            self._body = b"".join(chunks)
        return await super().read()


class HttpClient:
    """A single aiohttp session with a keep-alive connection pool.

    Created at startup and closed at shutdown by the application's lifecycle,
    never per request: a session per call would pay a TCP and TLS handshake on
    every LLM call.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        unary: UnaryClient | None = None,
        proxies: ProxyRules | None = None,
    ) -> None:
        self.session = session
        # Non-streamed calls: one POST and one whole answer, on a transport of
        # their own (see sluicegate.providers.unary for why).
        self.unary = unary or UnaryClient(user_agent=USER_AGENT)
        # Egress proxies from the environment (HTTPS_PROXY, NO_PROXY), read once.
        self.proxies = ProxyRules() if proxies is None else proxies
        # Endpoint strings parsed once: providers build them per call, and parsing
        # a URL on every LLM call is measurable at the gateway's request rate.
        self._urls: dict[str, URL] = {}

    @classmethod
    def create(cls) -> HttpClient:
        connector = aiohttp.TCPConnector(
            limit=0,  # per-target concurrency is a policy decision, not a pool accident
            ttl_dns_cache=300,
            keepalive_timeout=60,
            enable_cleanup_closed=True,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            json_serialize=lambda o: orjson.dumps(o).decode(),
            response_class=BoundedResponse,
            auto_decompress=True,
            # Upstream errors are mapped by the adapter; never raise on status here.
            raise_for_status=False,
            headers={"User-Agent": USER_AGENT},
            # Cookies an upstream sets must never follow another tenant's call.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return cls(session)

    async def close(self) -> None:
        await self.unary.close()
        await self.session.close()

    @asynccontextmanager
    async def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        client_timeout: aiohttp.ClientTimeout,
        provider: str,
        tls: ssl.SSLContext | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST ``body`` and yield the response; transport failures become GatewayErrors.
        ``tls``: the provider's own context for https (default: the system's trust store).
        ``max_bytes``: the most ``resp.read()`` takes; over it, or over an SSE
        parser's bound inside the block, the call is a 502 and its connection closed.

        A non-2xx status is *not* an error here: the adapter reads the body and
        maps it with :func:`upstream_error`, because only it knows the format
        (a 3xx, never followed, too).
        """
        parsed = self._url(url)
        proxy = self.proxies.for_url(parsed) if self.proxies else None
        try:
            async with self.session.post(
                parsed,
                data=body,
                headers=headers,
                timeout=client_timeout,
                # A redirect would carry the prompt and the provider's key to
                # whatever host Location names: a 3xx is answered, never followed
                # (the unary transport never follows one either).
                allow_redirects=False,
                ssl=True if tls is None else tls,
                proxy=None if proxy is None else proxy.url,
                proxy_headers=None if proxy is None else proxy.headers,
            ) as resp:
                if max_bytes != MAX_ANSWER_BYTES:  # else the class's: no attribute to add
                    resp.max_bytes = max_bytes  # type: ignore[attr-defined]
                try:
                    yield resp
                except EventTooLarge:
                    resp.close()  # the rest of the stream is never read
                    raise
        except GatewayError:
            raise
        except AnswerTooLarge as exc:
            raise too_large(provider, exc.limit) from exc
        except EventTooLarge as exc:
            raise too_large(provider, exc.limit, "a stream event") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise transport_error(exc, provider) from exc

    async def fetch(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        client_timeout: aiohttp.ClientTimeout,
        provider: str,
        tls: ssl.SSLContext | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """POST ``body`` and read the whole answer: ``(status, body, headers)``.

        Every non-streamed call's path. ``client_timeout`` gives the deadlines:
        ``sock_connect`` for a new connection, ``sock_read`` for the answer's
        first byte, ``total`` for the call. An answer over ``max_bytes``
        (decoded) is a 502 ``upstream_bad_response``.
        """
        parsed = self._url(url)
        if self.proxies and self.proxies.for_url(parsed) is not None:
            # Through an egress proxy (CONNECT for https), which aiohttp speaks.
            async with self.post(
                url,
                body=body,
                headers=headers,
                client_timeout=client_timeout,
                provider=provider,
                tls=tls,
                max_bytes=max_bytes,
            ) as resp:  # post() maps a failure while reading, too
                return resp.status, await resp.read(), resp.headers
        try:
            answer = await self.unary.post(
                parsed,
                body,
                headers,
                connect_s=client_timeout.sock_connect,
                first_byte_s=client_timeout.sock_read,
                total_s=client_timeout.total,
                tls=tls,
                max_bytes=max_bytes,
            )
        except UnaryError as exc:
            raise unary_error(exc, provider) from exc
        return answer.status, answer.body, answer.headers

    def _url(self, url: str) -> URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= MAX_PARSED_URLS:
                self._urls.clear()
            parsed = self._urls[url] = URL(url)
        return parsed


def unary_error(exc: UnaryError, provider: str) -> GatewayError:
    """What a failed unary call means to the client (the same codes as :func:`transport_error`)."""
    if isinstance(exc, AnswerTimeout):
        return _timed_out(provider)
    if isinstance(exc, ConnectFailed):
        return _unreachable(provider, str(exc))
    if isinstance(exc, AnswerTooLarge):
        return too_large(provider, exc.limit)
    return _broken(provider, f"broke off its answer: {exc}")


def transport_error(exc: BaseException, provider: str) -> GatewayError:
    """What a failure to reach or read an upstream means to the client."""
    if isinstance(exc, TimeoutError):
        return _timed_out(provider)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Nothing answered at all: the target is down, not misbehaving (503).
        return _unreachable(provider, exc.__class__.__name__)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _broken(provider, f"broke off its answer: {exc}")
    return _broken(provider, f"dropped the connection: {exc.__class__.__name__}")


def too_large(provider: str, limit: int, what: str = "an answer") -> GatewayError:
    """An answer, or one event of a stream, over the provider's bound.

    Not retried on another target: the answer was generated (and billed), and
    the same request would most likely grow as large again.
    """
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} sent {what} larger than the gateway accepts "
        f"({limit} bytes; providers[].max_response_bytes)",
        code="upstream_bad_response",
    )


def _timed_out(provider: str) -> GatewayError:
    return GatewayError(
        ErrorKind.TIMEOUT,
        f"upstream {provider!r} did not answer in time",
        code="upstream_timeout",
        retryable=True,
    )


def _unreachable(provider: str, detail: str) -> GatewayError:
    return GatewayError(
        ErrorKind.UNAVAILABLE,
        f"could not connect to upstream {provider!r}: {detail}",
        code="upstream_unreachable",
        retryable=True,
    )


def _broken(provider: str, what: str) -> GatewayError:
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} {what}",
        code="upstream_connection_error",
        retryable=True,
    )


async def read_chunks(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yield body bytes as they arrive (not line- or size-buffered)."""
    async for chunk in resp.content.iter_any():
        yield chunk
