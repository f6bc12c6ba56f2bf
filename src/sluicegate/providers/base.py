"""The interface every provider adapter implements, and the one stream loop they share.

An adapter knows its upstream's URLs, headers, request and answer formats and
error bodies. How a call is made is the same for all of them and lives here:
a non-streamed call is one :meth:`Provider._unary` exchange; a stream is
:meth:`Provider._stream`, which sends the request, maps a refusal, takes a
whole JSON answer from a server that would not stream, and otherwise feeds the
SSE events to the adapter's :class:`StreamDecoder` under the call's
:class:`~sluicegate.providers.deadlines.Deadlines`: one first-token rule and one
idle rule for every provider.
"""

from __future__ import annotations

import abc
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import Protocol

from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    ErrorCode,
    ErrorKind,
    Event,
    GatewayError,
)
from sluicegate.config import ProviderConfig
from sluicegate.protocols.sse import MAX_EVENT_BYTES, SSEEvent, SSEParser
from sluicegate.protocols.upstream_errors import error_message, upstream_error
from sluicegate.providers.deadlines import Deadlines
from sluicegate.providers.http import HttpClient


class StreamDecoder(Protocol):
    """An adapter's reading of one stream: canonical events per SSE event."""

    @property
    def done(self) -> bool:
        """The upstream said its answer is complete (OpenAI's [DONE], Anthropic's
        message_stop); the rest of the body is only drained."""
        ...

    def feed(self, event: SSEEvent) -> list[Event]: ...

    def finish(self) -> list[Event]:
        """The events a clean end still owes; a GatewayError when the stream was cut."""
        ...


def stream_cut(provider: str, missing: str) -> GatewayError:
    """A stream that ended before the upstream said its answer was complete."""
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} ended its stream without {missing}",
        code=ErrorCode.UPSTREAM_STREAM_CUT,
        retryable=True,
    )


class Provider(abc.ABC):
    """An upstream that serves chat (and maybe embeddings) calls.

    ``chat`` and ``embed`` are async generators of canonical events. They raise
    :class:`GatewayError` for failures before the first event (so the caller can
    fail over) and also mid-stream; they never end cleanly after a failure.
    A non-streamed request (``request.stream`` false) is served with a
    non-streamed upstream call and its answer yielded as the same events.
    ``deadlines``: the call's, with its alias's overrides (default: this
    provider's own timeouts).
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
        # What one SSE event of this provider's streams may take.
        self.max_event_bytes = min(config.max_response_bytes, MAX_EVENT_BYTES)
        self.deadlines = Deadlines.of(config)  # without an alias's overrides

    @abc.abstractmethod
    def chat(
        self, request: ChatRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        """Serve a chat call with the upstream model ``model``."""

    def embed(
        self, request: EmbeddingRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        """Serve an embeddings call; yields one EmbeddingsResult and one Usage."""
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"provider {self.name!r} ({self.config.type}) does not serve embeddings",
            code=ErrorCode.EMBEDDINGS_NOT_SUPPORTED,
        )

    # ---- what each adapter says about its own wire

    def failure(self, status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
        """A non-2xx answer as the contract's error (adapters with their own error
        bodies override it)."""
        return upstream_error(self.name, status, error_message(body), headers)

    def decode_answer(self, body: bytes) -> list[Event]:
        """A whole chat answer's events (for a stream a server answered in one JSON body)."""
        raise NotImplementedError

    # ---- the two ways of calling

    async def _unary(
        self, url: str, body: bytes, headers: Mapping[str, str], deadlines: Deadlines | None
    ) -> bytes:
        """A non-streamed call: the whole answer's bytes when its status is 2xx, else
        :meth:`failure` raised."""
        answer = await self.http.fetch(
            url,
            body=body,
            headers=headers,
            limits=(deadlines or self.deadlines).unary,
            provider=self.name,
            tls=self.tls,
            max_bytes=self.config.max_response_bytes,
        )
        if not 200 <= answer.status < 300:
            raise self.failure(answer.status, answer.body, answer.headers)
        return answer.body

    async def _stream(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        decoder: StreamDecoder,
        deadlines: Deadlines | None,
    ) -> AsyncIterator[Event]:
        """A streamed call, each event yielded as soon as its SSE frame is complete."""
        deadlines = self.deadlines if deadlines is None else deadlines
        limits = deadlines.opening
        clock, watch = deadlines.stream()
        try:
            async with AsyncExitStack() as stack:
                opening = self.http.open(
                    url,
                    body=body,
                    headers=headers,
                    limits=limits,
                    provider=self.name,
                    tls=self.tls,
                    max_bytes=self.config.max_response_bytes,
                )
                answer = await watch.wait(stack.enter_async_context(opening))
                if not 200 <= answer.status < 300:
                    data = await watch.wait(answer.read())
                    raise self.failure(answer.status, data, answer.headers)
                if not answer.headers.get("Content-Type", "").startswith("text/event-stream"):
                    # A server that ignored "stream" and answered one JSON body.
                    for event in self.decode_answer(await watch.wait(answer.read())):
                        yield event
                    return
                # The stream loop, inline: one generator frame per event, not two.
                parser = SSEParser(self.max_event_bytes)
                chunks = answer.chunks()
                started = False
                while not decoder.done:
                    chunk = await watch.wait(anext(chunks, b""))
                    if not chunk:
                        for sse in parser.close():  # a last event without its blank line
                            for event in decoder.feed(sse):
                                yield event
                        break
                    for sse in parser.feed(chunk):
                        events = decoder.feed(sse)
                        if events:
                            if not started:
                                started = True
                                clock.started(watch)
                            for event in events:
                                yield event
                for event in decoder.finish():
                    yield event
                if decoder.done:
                    # The body should end at once; reading its last bytes lets the
                    # connection go back to the keep-alive pool instead of being closed.
                    watch.set_limit(_DRAIN_S)
                    try:
                        while await watch.wait(anext(chunks, b"")):
                            pass
                    except Exception:  # a server that keeps it open, or breaks it off:
                        pass  # the answer is complete; only the connection's reuse is lost
        finally:
            watch.close()


# How long the end of a completed stream's body is waited for.
_DRAIN_S = 1.0
