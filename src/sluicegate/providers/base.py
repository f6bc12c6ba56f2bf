"""The interface every provider adapter implements."""

from __future__ import annotations

import abc
import ssl
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp

from sluicegate.canonical import ChatRequest, EmbeddingRequest, ErrorKind, Event, GatewayError
from sluicegate.config import ProviderConfig
from sluicegate.protocols.sse import MAX_EVENT_BYTES
from sluicegate.protocols.upstream_errors import error_message, upstream_error
from sluicegate.providers.http import HttpClient


class Provider(abc.ABC):
    """An upstream that serves chat (and maybe embeddings) calls.

    ``chat`` and ``embed`` are async generators of canonical events. They raise
    :class:`GatewayError` for failures before the first event (so the caller can
    fail over) and also mid-stream; they never end cleanly after a failure.
    A non-streamed request (``request.stream`` false) is served with a
    non-streamed upstream call and its answer yielded as the same events.
    """

    def __init__(self, config: ProviderConfig, http: HttpClient) -> None:
        self.config = config
        self.name = config.name
        self.http = http
        # https to this provider trusts only its own CA bundle when it names one
        # (an internal vLLM behind a private CA); else the system's trust store.
        self.tls: ssl.SSLContext | None = (
            ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        )
        # Built once: an aiohttp timeout object per call is measurable at this rate.
        self.timeout = aiohttp.ClientTimeout(
            total=config.timeout_s, sock_connect=config.connect_timeout_s
        )
        # For a non-streamed call the first token arrives with the response, so
        # the first-token deadline is simply the longest wait for a read.
        self.unary_timeout = aiohttp.ClientTimeout(
            total=config.timeout_s,
            sock_connect=config.connect_timeout_s,
            sock_read=config.first_token_timeout_s,
        )
        # What one SSE event of this provider's streams may take.
        self.max_event_bytes = min(config.max_response_bytes, MAX_EVENT_BYTES)

    def first_token_timeout(self) -> GatewayError:
        """The error for an upstream that sent no answer within ``first_token_timeout_s``.

        Each adapter keeps this deadline itself: only it can tell an answer
        from a keep-alive on its wire.
        """
        return GatewayError(
            ErrorKind.TIMEOUT,
            f"upstream {self.name!r} sent nothing within {self.config.first_token_timeout_s:g}s",
            code="upstream_timeout",
            retryable=True,
        )

    async def _unary(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        failure: Callable[[int, bytes, Mapping[str, str]], GatewayError] | None = None,
    ) -> bytes:
        """A non-streamed call: the whole answer's bytes when its status is 2xx,
        else ``failure(status, body, headers)`` raised (by default the usual
        mapping of an upstream's status and error message).

        The first-token deadline is the wait for the answer's first byte: a
        non-streamed answer starts only once the model is done.
        """
        status, data, answer_headers = await self.http.fetch(
            url,
            body=body,
            headers=headers,
            client_timeout=self.unary_timeout,
            provider=self.name,
            tls=self.tls,
            max_bytes=self.config.max_response_bytes,
        )
        if not 200 <= status < 300:
            if failure is None:
                raise upstream_error(self.name, status, error_message(data), answer_headers)
            raise failure(status, data, answer_headers)
        return data

    @abc.abstractmethod
    def chat(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        """Serve a chat call with the upstream model ``model``."""

    def embed(self, request: EmbeddingRequest, model: str) -> AsyncIterator[Event]:
        """Serve an embeddings call; yields one EmbeddingsResult and one Usage."""
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"provider {self.name!r} ({self.config.type}) does not serve embeddings",
            code="embeddings_not_supported",
        )
