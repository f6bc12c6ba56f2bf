"""How a provider's HTTP call reaches its upstream: one interface, two transports,
one table of what their failures mean.

A call is always one POST. Non-streamed calls want the whole answer
(:meth:`Transport.fetch`); streams want the answer's head and then its body as
it arrives (:meth:`Transport.open`). Two transports serve them: the lean
keep-alive client of :mod:`sluicegate.providers.unary` (fetch only) and
aiohttp (:mod:`sluicegate.providers.aiohttp_transport`: streams, and every
call through an egress proxy). :class:`sluicegate.providers.http.HttpClient`
picks one per call. Both raise only :class:`TransportFailure`, whose kinds
:func:`failure_error` turns into the contract's errors in one place, so a
refused connection means the same 503 whichever transport met it.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import msgspec
from yarl import URL

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError

# The most a whole answer may take, received or decoded (a provider's max_response_bytes).
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class TransportFailure(Exception):
    """Why a call got no (whole) answer; see :func:`failure_error` for what it means."""


class ConnectFailed(TransportFailure):
    """No connection to the origin (refused, unresolvable, TLS failure, connect timeout)."""


class AnswerTimeout(TransportFailure):
    """Connected, but the answer did not start (or finish) in time."""

    def __init__(self, message: str, *, first_byte: bool) -> None:
        super().__init__(message)
        self.first_byte = first_byte


class BrokenAnswer(TransportFailure):
    """The connection closed, or the bytes stopped being HTTP, before the answer was whole."""


class AnswerTooLarge(TransportFailure):
    """The answer (as received, or its body decoded), or one event of a stream, grew
    past ``limit`` bytes."""

    def __init__(self, limit: int, what: str = "an answer") -> None:
        super().__init__(f"{what} is larger than {limit} bytes")
        self.limit = limit
        self.what = what


@dataclass(frozen=True, slots=True)
class Limits:
    """The deadlines a transport keeps on one call: a new connection, the answer's
    first byte (a non-streamed LLM answer starts only once it is done), the whole
    call. None: no deadline of that kind."""

    connect_s: float | None
    first_byte_s: float | None = None
    total_s: float | None = None


class Answer(msgspec.Struct, frozen=True):  # a C __init__: one per non-streamed call
    """A whole answer."""

    status: int
    body: bytes
    headers: Mapping[str, str]


class StreamedAnswer(Protocol):
    """An answer whose head has arrived and whose body is read as it comes."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (not line- or size-buffered)."""
        ...

    async def read(self) -> bytes:
        """The rest of the body, within the call's ``max_bytes``."""
        ...

    def close(self) -> None:
        """Drop the connection: the rest of the answer is never read."""
        ...


class Transport(Protocol):
    """What the aiohttp transport does; the unary one does ``fetch`` only."""

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
        """``extra``: headers of this call alone (a ``traceparent``), sent after
        ``headers``, which stay the same mapping call after call (a transport may
        keep them serialised)."""
        ...

    def open(
        self,
        url: URL,
        body: bytes,
        headers: Mapping[str, str],
        *,
        limits: Limits,
        tls: ssl.SSLContext | None,
        max_bytes: int,
    ) -> AbstractAsyncContextManager[StreamedAnswer]: ...


def failure_error(failure: TransportFailure, provider: str) -> GatewayError:
    """What a transport's failure means to the client: the one table for every transport."""
    if isinstance(failure, AnswerTimeout):
        return GatewayError(
            ErrorKind.TIMEOUT,
            f"upstream {provider!r} did not answer in time",
            code=ErrorCode.UPSTREAM_TIMEOUT,
            retryable=True,
        )
    if isinstance(failure, ConnectFailed):
        # Nothing answered at all: the target is down, not misbehaving (503).
        return GatewayError(
            ErrorKind.UNAVAILABLE,
            f"could not connect to upstream {provider!r}: {failure}",
            code=ErrorCode.UPSTREAM_UNREACHABLE,
            retryable=True,
        )
    if isinstance(failure, AnswerTooLarge):
        # Not retried on another target: the answer was generated (and billed),
        # and the same request would most likely grow as large again.
        return GatewayError(
            ErrorKind.UPSTREAM,
            f"upstream {provider!r} sent {failure.what} larger than the gateway accepts "
            f"({failure.limit} bytes; providers[].max_response_bytes)",
            code=ErrorCode.UPSTREAM_BAD_RESPONSE,
        )
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} broke off its answer: {failure}",
        code=ErrorCode.UPSTREAM_CONNECTION_ERROR,
        retryable=True,
    )
