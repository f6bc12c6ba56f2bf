"""The one pooled HTTP client every provider adapter shares, and upstream error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from sluicegate.canonical import ErrorKind, GatewayError


class HttpClient:
    """A single aiohttp session with a keep-alive connection pool.

    Created at startup and closed at shutdown by the application's lifecycle,
    never per request: a session per call would pay a TCP and TLS handshake on
    every LLM call.
    """

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

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
            auto_decompress=True,
            # Upstream errors are mapped by the adapter; never raise on status here.
            raise_for_status=False,
            skip_auto_headers=("User-Agent",),
        )
        return cls(session)

    async def close(self) -> None:
        await self.session.close()

    @asynccontextmanager
    async def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        timeout_s: float,
        connect_timeout_s: float,
        provider: str,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST ``body`` and yield the response; transport failures become GatewayErrors.

        A non-2xx status is *not* an error here: the adapter reads the body and
        maps it with :func:`upstream_error`, because only it knows the format.
        """
        timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        try:
            async with self.session.post(url, data=body, headers=headers, timeout=timeout) as resp:
                yield resp
        except GatewayError:
            raise
        except TimeoutError as exc:
            raise GatewayError(
                ErrorKind.TIMEOUT,
                f"upstream {provider!r} timed out",
                code="upstream_timeout",
                retryable=True,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            # Nothing answered at all: the target is down, not misbehaving (503).
            raise GatewayError(
                ErrorKind.UNAVAILABLE,
                f"could not connect to upstream {provider!r}: {exc.__class__.__name__}",
                code="upstream_unreachable",
                retryable=True,
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise GatewayError(
                ErrorKind.UPSTREAM,
                f"upstream {provider!r} broke off its answer: {exc}",
                code="upstream_connection_error",
                retryable=True,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise GatewayError(
                ErrorKind.UPSTREAM,
                f"upstream {provider!r} dropped the connection: {exc.__class__.__name__}",
                code="upstream_connection_error",
                retryable=True,
            ) from exc


def upstream_error(
    provider: str, status: int, message: str, headers: Mapping[str, str]
) -> GatewayError:
    """Map an upstream HTTP failure to the status the contract promises the client.

    The client's own mistakes (400, 404, 413, 422) stay 400s with the upstream's
    message so they can be fixed; the gateway's credentials being rejected is not
    the client's fault (502); 429 stays 429; anything else is an upstream failure.
    """
    retry_after = parse_retry_after(headers)
    detail = (
        f"upstream {provider!r} answered {status}: {message}"
        if message
        else (f"upstream {provider!r} answered {status}")
    )
    if status == 429:
        return GatewayError(
            ErrorKind.RATE_LIMITED,
            detail,
            code="upstream_rate_limited",
            retry_after=retry_after,
            retryable=True,
            upstream_status=status,
        )
    if status in (400, 404, 409, 413, 415, 422):
        code = (
            "context_length_exceeded"
            if _is_context_overflow(message)
            else "upstream_invalid_request"
        )
        return GatewayError(ErrorKind.INVALID_REQUEST, detail, code=code, upstream_status=status)
    if status in (401, 403):
        return GatewayError(
            ErrorKind.UPSTREAM,
            detail,
            code="upstream_auth_failed",
            upstream_status=status,
        )
    if status in (408, 504):
        return GatewayError(
            ErrorKind.TIMEOUT,
            detail,
            code="upstream_timeout",
            retryable=True,
            retry_after=retry_after,
            upstream_status=status,
        )
    return GatewayError(
        ErrorKind.UPSTREAM,
        detail,
        code="upstream_error",
        retryable=True,
        retry_after=retry_after,
        upstream_status=status,
    )


def error_message(body: bytes) -> str:
    """The human message inside an upstream error body, whatever its format."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode(errors="replace").strip()
    if isinstance(data, list) and data:
        data = data[0]  # Gemini sometimes wraps errors in a list
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if isinstance(data.get("message"), str):
            return str(data["message"])
    return body[:500].decode(errors="replace").strip()


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from LLM providers; fall back to backoff


def _is_context_overflow(message: str) -> bool:
    text = message.lower()
    return any(
        marker in text
        for marker in (
            "context length",
            "context_length",
            "maximum context",
            "prompt is too long",
            "too many tokens",
            "context window",
            "exceeds the maximum",
        )
    )


def bad_json(provider: str, exc: Exception) -> GatewayError:
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} sent an unusable answer: {exc}",
        code="upstream_bad_response",
        retryable=True,
    )


async def read_chunks(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yield body bytes as they arrive (not line- or size-buffered)."""
    async for chunk in resp.content.iter_any():
        yield chunk
