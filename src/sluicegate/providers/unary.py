"""Keep-alive HTTP/1.1 for unary upstream calls: one POST, one whole answer.

Every non-streamed LLM call is this one exchange, so it gets a transport of
its own instead of aiohttp's general client, whose request path (sessions,
cookies, redirects, traces, payload objects, per-call header merging) costs
0.37 M instructions a call: more than the gateway's whole HTTP server side,
and most of what separated it from the pass-through in bench/instructions.py.
Here a call is: take an idle connection to the origin (or open one), write
the request head (serialised once per endpoint and header set) and the body
in one write, let httptools (llhttp, the parser Node.js uses) parse the
answer as it arrives, and give the connection back when the answer said it
may be kept.

Streams stay on aiohttp (:mod:`sluicegate.providers.aiohttp_transport`): they last seconds, so a
call's set-up is noise there, and their reading is where its flow control
earns its keep.

Deadlines, on the monotonic clock: ``connect_s`` for a new connection,
``first_byte_s`` for the first byte of the answer (an LLM answers a
non-streamed call only once it is done), and ``total_s`` for the whole call;
one timer watches every call in flight. Nothing is sent with
``Accept-Encoding``, so upstreams answer uncompressed; a gzip or deflate
answer is still decoded. An answer is bounded (``max_bytes``, 32 MiB unless
the call says otherwise): the bytes received for it (head and body, counted
once per read from the socket) and, once decoded, its body as it inflates, so
that neither a runaway answer (or head: httptools sets no limit on headers)
nor a compression bomb can take the gateway's memory; past the bound the call
fails and its connection is dropped. A pooled connection is never used for two
calls at once and is dropped once it has been idle ``keepalive_s``, before most
servers would close it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import Mapping

import httptools
from multidict import CIMultiDict
from yarl import URL

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

# Shorter than common servers' own keep-alive (nginx 75 s, most load balancers
# 60 s), so that a connection is rarely reused just as its server closes it.
KEEPALIVE_S = 15.0
# Idle connections kept per origin; more are closed when given back.
MAX_IDLE = 256

# (scheme, host, port, the TLS context asked for, or None for the client's own)
_Origin = tuple[str, str, int, ssl.SSLContext | None]


class UnaryTransport:
    """Keep-alive pools per origin (scheme, host, port, and the TLS context that
    verified it) for one-POST calls."""

    def __init__(
        self,
        *,
        user_agent: str,
        keepalive_s: float = KEEPALIVE_S,
        max_idle: int = MAX_IDLE,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: the context for https origins (default: the system's trust store)."""
        self.user_agent = user_agent
        self.keepalive_s = keepalive_s
        self.max_idle = max_idle
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._heads: dict[tuple[URL, int], tuple[Mapping[str, str], bytes]] = {}
        self._ssl = tls
        self.opened = 0  # connections opened (tests check reuse with it)
        self._watchdog = _Watchdog()

    async def fetch(
        self,
        url: URL,
        body: bytes,
        headers: Mapping[str, str],
        *,
        limits: Limits,
        tls: ssl.SSLContext | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
        extra: Mapping[str, str] | None = None,
    ) -> Answer:
        """POST ``body`` and read the whole answer, within ``limits``.

        ``tls``: how to verify an https origin, when not by the client's own context
        (a provider with its own CA bundle); connections verified by one context are
        never handed to calls that ask for another. ``max_bytes``: the most the
        answer may take, as received and decoded (else :class:`AnswerTooLarge`)."""
        # Deadlines on the monotonic clock, which costs no system call, unlike
        # asyncio.get_running_loop() (it checks the process id) on every call.
        now = time.monotonic()
        connect_s, first_byte_s, total_s = limits.connect_s, limits.first_byte_s, limits.total_s
        deadline = None if total_s is None else now + total_s
        head = self._head(url, headers)  # before taking a connection: it may refuse the headers
        if extra:  # this call's own (a traceparent): after the serialised, shared ones
            head += _header_lines(extra)
        origin: _Origin = (url.scheme, url.raw_host or "", url.port or 0, tls)
        conn = self._checkout(origin, now)
        if conn is None:
            conn = await self._connect(url, origin, connect_s, deadline)
        waiter = conn.begin(
            head + b"Content-Length: %d\r\n\r\n" % len(body) + body,
            first_byte_s,
            deadline,
            max_bytes,
        )
        watchdog = self._watchdog
        watchdog.watch(conn)
        try:
            answer = await waiter
        except BaseException:
            conn.close()  # an exchange left unfinished (failed or cancelled): never reuse
            raise
        finally:
            conn.waiter = None
            watchdog.inflight.discard(conn)
        if conn.reusable:
            self._checkin(origin, conn, time.monotonic())
        else:
            conn.close()
        return answer

    async def close(self) -> None:
        self._watchdog.stop()
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()

    def _checkout(self, origin: _Origin, now: float) -> _Connection | None:
        pool = self._idle.get(origin)
        while pool:
            conn = pool.pop()  # the most recently used: the likeliest to be alive
            if conn.reusable and now - conn.idle_since < self.keepalive_s:
                return conn
            conn.close()
        return None

    def _checkin(self, origin: _Origin, conn: _Connection, now: float) -> None:
        pool = self._idle.get(origin)
        if pool is None:
            pool = self._idle[origin] = deque()
        if len(pool) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = now
        pool.append(conn)

    async def _connect(
        self,
        url: URL,
        origin: _Origin,
        connect_s: float | None,
        deadline: float | None,
    ) -> _Connection:
        loop = asyncio.get_running_loop()
        limit = connect_s
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            limit = left if limit is None else min(limit, left)
        scheme, host, port, own = origin
        tls = (own or self._tls()) if scheme == "https" else None
        try:
            async with asyncio.timeout(limit):
                _, conn = await loop.create_connection(
                    _Connection, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise ConnectFailed(f"no connection to {host}:{port} within {limit:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(f"{exc.__class__.__name__}: {exc}") from exc
        self.opened += 1
        return conn

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _head(self, url: URL, headers: Mapping[str, str]) -> bytes:
        """The request up to Content-Length, serialised once per endpoint and header set.

        Providers pass the same header mapping on every call, so it is keyed by
        identity, and kept with the entry so that identity cannot be reused; a
        mapping passed here is therefore never changed afterwards.
        """
        key = (url, id(headers))
        cached = self._heads.get(key)
        if cached is not None and cached[0] is headers:
            return cached[1]
        host = url.raw_host or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal
        if url.explicit_port is not None:
            host = f"{host}:{url.port}"
        lines = [f"POST {url.raw_path_qs} HTTP/1.1", f"Host: {host}"]
        given = {name.lower() for name in headers}
        if "user-agent" not in given:
            lines.append(f"User-Agent: {self.user_agent}")
        for name, value in headers.items():
            if name.lower() in ("content-length", "host", "transfer-encoding"):
                continue  # set here, from the body and the URL
            if any(c in name or c in value for c in "\r\n"):
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}")
        head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        if len(self._heads) >= 1024:
            self._heads.clear()
        self._heads[key] = (headers, head)
        return head


class _Connection(asyncio.Protocol):
    """One upstream connection; one exchange at a time."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()  # made by create_connection, on the loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.reusable = False  # true between a complete, keep-alive answer and the next call
        self.idle_since = 0.0
        self._status = 0
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._body: list[bytes] = []
        self._size = 0  # bytes received for the answer so far
        self._max_bytes = MAX_ANSWER_BYTES
        self._started = False
        self._until_close = False  # no length given: the body ends when the connection does
        # When the first byte, and the whole answer, are due (monotonic; None: no limit).
        self.first_due: float | None = None
        self.due: float | None = None

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # nothing was asked: the server is not speaking HTTP to us
            return
        self._started = True
        self._size += len(data)
        if self._size > self._max_bytes:
            self._fail(AnswerTooLarge(self._max_bytes))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BrokenAnswer(f"not an HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            if self._until_close and self._status:
                self.on_message_complete()  # a body without a length ends here
            else:
                self._fail(BrokenAnswer("the upstream closed the connection mid-answer"))

    # -- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()
        if 100 <= self._status < 200:  # an interim answer: the real one follows
            self._headers = CIMultiDict()
            self._status = 0
            return
        headers = self._headers
        self._until_close = (
            "Content-Length" not in headers
            and "chunked" not in headers.get("Transfer-Encoding", "").lower()
        )

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done() or not self._status:
            return
        try:
            body = _decoded(b"".join(self._body), self._headers, self._max_bytes)
        except (zlib.error, BrokenAnswer) as exc:
            self._fail(BrokenAnswer(f"undecodable answer: {exc}"))
            return
        except AnswerTooLarge as exc:
            self._fail(exc)
            return
        self.reusable = (
            self.transport is not None and not self._until_close and self.parser.should_keep_alive()
        )
        waiter.set_result(Answer(self._status, body, self._headers))

    # -- the exchange

    def begin(
        self,
        request: bytes,
        first_byte_s: float | None,
        deadline: float | None,
        max_bytes: int,
    ) -> asyncio.Future[Answer]:
        """Send ``request``; the future is the answer (or the reason there is none)."""
        transport = self.transport
        if transport is None:
            raise BrokenAnswer("the upstream closed the connection before the call")
        self.reusable = False
        self.waiter = waiter = self.loop.create_future()
        self._status, self._headers, self._body = 0, CIMultiDict(), []
        self._size, self._max_bytes = 0, max_bytes
        self._started, self._until_close = False, False
        first = None if first_byte_s is None else time.monotonic() + first_byte_s
        self.first_due = first if deadline is None or first is None else min(first, deadline)
        self.due = deadline
        transport.write(request)
        return waiter

    def overdue(self, now: float) -> bool:
        """Fail the exchange if a deadline has passed; True if it did."""
        if self.waiter is None or self.waiter.done():
            return False
        if not self._started and self.first_due is not None and now >= self.first_due:
            self._fail(
                AnswerTimeout("the upstream did not start answering in time", first_byte=True)
            )
            return True
        if self.due is not None and now >= self.due:
            self._fail(
                AnswerTimeout("the upstream did not finish its answer in time", first_byte=False)
            )
            return True
        return False

    def next_due(self) -> float | None:
        """The next moment a deadline of this exchange could pass."""
        if not self._started and self.first_due is not None:
            return self.first_due
        return self.due

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def _fail(self, exc: TransportFailure) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()  # never reuse a connection left mid-answer
            self.transport = None
        self.reusable = False


class _Watchdog:
    """One timer for every exchange in flight, instead of one or two per call.

    It is set for the earliest deadline it knows of. Calls made later have
    later deadlines (the same timeouts, later start), so in steady state it is
    rescheduled about once per timeout, not once per call; when it fires it
    fails what is overdue and sets itself for the next deadline.
    """

    def __init__(self) -> None:
        self.inflight: set[_Connection] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._at: float | None = None

    def watch(self, conn: _Connection) -> None:
        self.inflight.add(conn)
        due = conn.next_due()
        if due is not None and (self._at is None or due < self._at):
            self._schedule(conn.loop, due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = None, None

    def _schedule(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._at = at
        self._timer = loop.call_later(max(0.0, at - time.monotonic()), self._check, loop)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer, self._at = None, None
        now = time.monotonic()
        earliest: float | None = None
        for conn in list(self.inflight):
            if conn.overdue(now):
                self.inflight.discard(conn)
                continue
            due = conn.next_due()
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        if earliest is not None:
            self._schedule(loop, earliest)


def _decoded(body: bytes, headers: CIMultiDict[str], max_bytes: int) -> bytes:
    encoding = headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BrokenAnswer(f"unsupported Content-Encoding {encoding!r}")
    if not body:
        return body
    # wbits 47: a gzip or zlib header, whichever is there. Inflated no further
    # than one byte past the bound: a few kilobytes can decode to gigabytes.
    inflater = zlib.decompressobj(47)
    decoded = inflater.decompress(body, max_bytes + 1)
    if len(decoded) > max_bytes:
        raise AnswerTooLarge(max_bytes)
    if not inflater.eof:
        raise zlib.error("incomplete or truncated stream")
    return decoded


def _header_lines(headers: Mapping[str, str]) -> bytes:
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n"):
            raise ValueError(f"header {name!r} contains a line break")
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")
