"""What the fake upstreams share: an in-process server, request recording, scripting, faults.

:class:`LocalServer` is an aiohttp app on ``127.0.0.1`` (a free port) for the
life of an ``async with``. :class:`FakeUpstream` adds what a provider fake
needs on top: every request recorded (:class:`RecordedRequest`), a script of
answers (a default, plus one-off answers queued with ``times=n``), verbatim
bodies (:class:`Raw`), and switches that shape an SSE stream (cut it, end it
with an error event, hold it, delay the first byte, pace it). Subclasses add
the routes, the provider's answers and error bodies, and how an error event
is framed in their stream (:meth:`FakeUpstream._error_frame`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import ssl
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

# A Raw body that stands for "answer with invalid JSON", whatever the endpoint.
INVALID_JSON = b"__invalid_json__"


def sse_frame(data: Any, event: str | None = None) -> bytes:
    """One SSE event: ``event: EVENT\\n`` (if given), then ``data: JSON\\n\\n``."""
    head = b"event: " + event.encode() + b"\n" if event is not None else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    # The client's (host, port): the same port on two requests means a reused connection.
    peer: tuple[str, int] | None = None

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Raw:
    """Bytes sent verbatim (recorded streams, invalid JSON, odd statuses)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class LocalServer:
    """An aiohttp app on 127.0.0.1, port 0; use as ``async with``, or ``start()`` / ``close()``.

    Subclasses add their routes in :meth:`_routes`. Set :attr:`tls` before starting
    to serve https as ``localhost`` instead.
    """

    tls: ssl.SSLContext | None = None

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._closing = asyncio.Event()

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, or ``https://localhost:PORT`` with :attr:`tls`."""
        if self.tls is not None:
            return f"https://localhost:{self._port}"
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        """Serve on a free port (see :attr:`origin`)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving; handlers still waiting (delays, holds) are woken first."""
        self._closing.set()  # wake delayed or held handlers so shutdown is quick
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but no longer than the server lives."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)


ReplyT = TypeVar("ReplyT")


class FakeUpstream(LocalServer, Generic[ReplyT]):
    """A provider's API: records requests, answers from a script, and injects stream faults.

    ``ReplyT`` is the provider's structured answer; :class:`Raw` bodies go out
    as they are. Subclasses set :attr:`REQUEST_ID_HEADER`,
    :attr:`INVALID_STREAM_FRAME` and :attr:`STREAM_ERROR`, and define
    :meth:`_routes` (handlers start with :meth:`_receive`), :meth:`_default_reply`
    and :meth:`_error_frame`; ``fail`` and ``error_in_stream_after`` stay theirs
    (provider defaults and docs) on top of :meth:`_fail` and
    :meth:`_error_in_stream_after`.
    """

    # The header the provider names its request id in.
    REQUEST_ID_HEADER: ClassVar[str]
    # What a stream answered with invalid_json() carries.
    INVALID_STREAM_FRAME: ClassVar[bytes]
    # The default payload of error_in_stream_after().
    STREAM_ERROR: ClassVar[dict[str, Any]]

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.reset()

    @property
    def url(self) -> str:
        """The provider ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.origin}/v1"

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    # ---- provider hooks

    def _default_reply(self) -> ReplyT:
        """The answer before any scripting (the documented text reply)."""
        raise NotImplementedError

    def _error_frame(self, payload: dict[str, Any]) -> bytes:
        """``payload`` framed as the error event the provider sends inside a stream."""
        raise NotImplementedError

    # ---- scripting

    def reset(self) -> None:
        """Back to the default answer (the documented text reply) and no faults."""
        self._default: ReplyT | Raw = self._default_reply()
        self._queue: list[ReplyT | Raw] = []
        self._cut_after: int | None = None
        self._cut_abort = False
        self._error_after: int | None = None
        self._error_payload: dict[str, Any] = self.STREAM_ERROR
        self._hold_after: int | None = None
        self._hold = asyncio.Event()
        self._keepalive_s: float | None = None
        self._delay = 0.0
        self._jitter = 0.0
        self._rng = random.Random(7)
        self._pace = 0.0
        self._answers: asyncio.Event | None = None

    def _script(self, script: ReplyT | Raw, times: int | None) -> None:
        if times is None:
            self._default = script
        else:
            self._queue.extend([script] * times)

    def _next_script(self) -> ReplyT | Raw:
        return self._queue.pop(0) if self._queue else self._default

    def reply(self, reply: ReplyT, *, times: int | None = None) -> ReplyT:
        """Answer with ``reply``: from now on, or with ``times=n`` for the next ``n`` requests."""
        self._script(reply, times)
        return reply

    def _fail(self, status: int, body: bytes | dict[str, Any],
              headers: dict[str, str] | None, times: int | None) -> None:
        raw = orjson.dumps(body) if isinstance(body, dict) else body
        self._script(Raw(status, raw, {"content-type": "application/json", **(headers or {})}),
                     times)

    def reply_raw(
        self,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Send ``body`` as is: e.g. a documented or recorded stream as ``text/event-stream``,
        or broken JSON. Stream faults do not apply to raw bodies."""
        self._script(Raw(status, body, {"content-type": content_type, **(headers or {})}), times)

    def invalid_json(self, *, times: int | None = None) -> None:
        """A 200 whose body is not JSON (streamed requests get a non-JSON ``data:`` frame)."""
        self._script(Raw(200, INVALID_JSON, {}), times)

    # ---- stream faults (they stay on until reset())

    def cut_stream_after(self, events: int, *, abort: bool = False) -> None:
        """End streams after ``events`` SSE events: cleanly (so the terminal event, OpenAI's
        ``[DONE]`` or Anthropic's ``message_stop``, is missing) or, with ``abort``, by
        dropping the connection mid-body."""
        self._cut_after = events
        self._cut_abort = abort

    def _error_in_stream_after(self, events: int, payload: dict[str, Any] | None) -> None:
        self._error_after = events
        self._error_payload = payload or self.STREAM_ERROR

    def hold_stream_after(self, events: int, *, keepalive_s: float | None = None) -> asyncio.Event:
        """Pause streams after ``events`` SSE events until the returned event is set; with
        ``keepalive_s``, send an SSE comment (``: keep-alive``) that often meanwhile, as
        some OpenAI-compatible servers do while a request is queued."""
        self._hold_after = events
        self._hold = asyncio.Event()
        self._keepalive_s = keepalive_s
        return self._hold

    def delay_first_byte(self, seconds: float, *, jitter: float = 0.0) -> None:
        """Wait before sending anything (status line included); with ``jitter``,
        each wait is ``seconds`` times a uniform draw from 1 ± jitter, as answers
        of varying length take varying time."""
        self._delay = seconds
        self._jitter = jitter

    def hold_answers(self) -> asyncio.Event:
        """Record requests but answer none (status line included) until the returned
        event is set: a test decides when upstream calls end, not a delay."""
        self._answers = asyncio.Event()
        return self._answers

    def pace_stream(self, seconds: float) -> None:
        """Wait this long between stream events, like a model generating tokens."""
        self._pace = seconds

    # ---- serving

    async def _receive(self, request: web.Request) -> tuple[bytes, str]:
        """Read and record the request, then wait out ``delay_first_byte``.

        Returns the body and the request id to answer with.
        """
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(RecordedRequest(
            request.method, request.path, dict(request.query),
            CIMultiDictProxy(CIMultiDict(request.headers)), body,
            (peer[0], peer[1]) if peer else None,
        ))
        request_id = "req_" + os.urandom(12).hex()
        if self._delay:
            await self._sleep(self._delay * self._rng.uniform(1 - self._jitter, 1 + self._jitter))
        if self._answers is not None:
            held = asyncio.ensure_future(self._answers.wait())
            closing = asyncio.ensure_future(self._closing.wait())
            await asyncio.wait({held, closing}, return_when=asyncio.FIRST_COMPLETED)
            held.cancel()
            closing.cancel()
        return body, request_id

    def _json(self, status: int, body: dict[str, Any], request_id: str) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(body),
                            headers={self.REQUEST_ID_HEADER: request_id,
                                     "content-type": "application/json"})

    async def _send_raw(self, request: web.Request, raw: Raw, request_id: str, *,
                        stream: bool) -> web.StreamResponse:
        """A :class:`Raw` answer (``invalid_json()`` included)."""
        if raw.body == INVALID_JSON:
            if stream:
                return await self._stream(request, [self.INVALID_STREAM_FRAME], request_id)
            return web.Response(body=b"{not json", content_type="application/json",
                                headers={self.REQUEST_ID_HEADER: request_id})
        return web.Response(status=raw.status, body=raw.body,
                            headers={self.REQUEST_ID_HEADER: request_id, **raw.headers})

    async def _held(self, resp: web.StreamResponse) -> None:
        hold = asyncio.ensure_future(self._hold.wait())
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            while not (hold.done() or closing.done()):
                await asyncio.wait({hold, closing}, timeout=self._keepalive_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                if self._keepalive_s is not None and not (hold.done() or closing.done()):
                    await resp.write(b": keep-alive\n\n")
        finally:
            hold.cancel()
            closing.cancel()

    async def _stream(self, request: web.Request, frames: list[bytes],
                      request_id: str) -> web.StreamResponse:
        """Send SSE ``frames`` (whole events, framing included) with the stream faults."""
        resp = web.StreamResponse(headers={
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            self.REQUEST_ID_HEADER: request_id,
        })
        await resp.prepare(request)
        for sent, frame in enumerate(frames):
            if self._hold_after is not None and sent == self._hold_after:
                await self._held(resp)
            if self._error_after is not None and sent == self._error_after:
                await resp.write(self._error_frame(self._error_payload))
                break
            if self._cut_after is not None and sent == self._cut_after:
                if self._cut_abort:
                    assert request.transport is not None
                    request.transport.close()  # no terminating chunk: a broken body
                    return resp
                break
            if self._pace and sent:
                await self._sleep(self._pace)
            await resp.write(frame)
        await resp.write_eof()
        return resp
