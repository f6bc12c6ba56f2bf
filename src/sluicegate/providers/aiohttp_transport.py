"""Streams, and every call through an egress proxy, on aiohttp's client.

A stream lasts seconds, so aiohttp's per-call set-up is noise there, and its
flow control earns its keep; a proxy needs its CONNECT tunnels. Redirects are
never followed (a redirect would carry the prompt and the provider's key to
whatever host ``Location`` names), cookies are never kept (an upstream's cookie
must never ride along on another tenant's call), and a body is read within the
call's bound, so a compression bomb inflates no further than ``max_bytes``.
aiohttp's exceptions become the transport failures of
:mod:`sluicegate.providers.transport`.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
import orjson
from yarl import URL

from sluicegate.protocols.sse import EventTooLarge
from sluicegate.providers.proxy import ProxyRules
from sluicegate.providers.transport import (
    MAX_ANSWER_BYTES,
    Answer,
    AnswerTimeout,
    AnswerTooLarge,
    BrokenAnswer,
    ConnectFailed,
    Limits,
    TransportFailure,
)


class BoundedResponse(aiohttp.ClientResponse):
    """A response whose :meth:`read` stops at ``max_bytes`` (set per call by
    :meth:`AiohttpTransport.open`), raising :class:`AnswerTooLarge` and closing the
    connection. aiohttp's own read takes the whole body, and lifts its limit on how
    far a compressed chunk may inflate at once; this one reads as a stream does."""

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

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self.content.iter_any():
            yield chunk


class AiohttpTransport:
    def __init__(self, session: aiohttp.ClientSession, proxies: ProxyRules) -> None:
        self.session = session
        self.proxies = proxies

    @classmethod
    def create(cls, user_agent: str, proxies: ProxyRules) -> AiohttpTransport:
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
            headers={"User-Agent": user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return cls(session, proxies)

    async def close(self) -> None:
        await self.session.close()

    @asynccontextmanager
    async def open(
        self,
        url: URL,
        body: bytes,
        headers: Mapping[str, str],
        *,
        limits: Limits,
        tls: ssl.SSLContext | None,
        max_bytes: int,
    ) -> AsyncIterator[BoundedResponse]:
        """POST ``body`` and yield the response once its head has arrived. A failure
        to connect or read, and a stream event over its bound, raise a
        :class:`TransportFailure`; a non-2xx status does not (the adapter maps it)."""
        proxy = self.proxies.for_url(url) if self.proxies else None
        timeout = aiohttp.ClientTimeout(
            total=limits.total_s, sock_connect=limits.connect_s, sock_read=limits.first_byte_s
        )
        try:
            async with self.session.post(
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                ssl=True if tls is None else tls,
                proxy=None if proxy is None else proxy.url,
                proxy_headers=None if proxy is None else proxy.headers,
            ) as resp:
                assert isinstance(resp, BoundedResponse)
                if max_bytes != MAX_ANSWER_BYTES:  # else the class's: no attribute to add
                    resp.max_bytes = max_bytes
                try:
                    yield resp
                except EventTooLarge as exc:
                    resp.close()  # the rest of the stream is never read
                    raise AnswerTooLarge(exc.limit, "a stream event") from exc
        except TransportFailure:
            raise
        except TimeoutError as exc:
            raise AnswerTimeout("no answer in time", first_byte=False) from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectFailed(exc.__class__.__name__) from exc
        except aiohttp.ClientPayloadError as exc:
            raise BrokenAnswer(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise BrokenAnswer(f"dropped the connection: {exc.__class__.__name__}") from exc

    async def fetch(
        self,
        url: URL,
        body: bytes,
        headers: Mapping[str, str],
        *,
        limits: Limits,
        tls: ssl.SSLContext | None,
        max_bytes: int,
        extra: Mapping[str, str] | None = None,
    ) -> Answer:
        if extra:
            headers = {**headers, **extra}
        async with self.open(
            url, body, headers, limits=limits, tls=tls, max_bytes=max_bytes
        ) as resp:  # open() maps a failure while reading, too
            return Answer(resp.status, await resp.read(), resp.headers)
