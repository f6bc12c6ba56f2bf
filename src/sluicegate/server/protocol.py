"""The HTTP connection: aiohttp's, with the gateway's client deadlines and error answers.

:class:`GatewayRequestHandler` is aiohttp's ``RequestHandler`` (one per
connection) plus what aiohttp does not let an application decide: the
request-head and stalled-write deadlines (:mod:`sluicegate.server.deadlines`),
and the answer to a request its parser refuses or a handler fails on, which
aiohttp writes itself as text/plain quoting the request and logs with a
traceback (:mod:`sluicegate.server.malformed`).

aiohttp has no setting for its connection class (aio-libs/aiohttp#3287 asks
for a hook for parser errors), so :class:`GatewayServer` overrides the
protocol factory, ``web.Server.__call__``, the way aiohttp's own does it (with
the server's ``_loop`` and ``_kwargs``), and :class:`GatewayRunner` is the
``AppRunner`` that builds one. ``sluicegate serve`` and the test suite's
in-process gateways both run on it; tests/server pins the behaviour against
an aiohttp upgrade.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.gateway import GATEWAY
from sluicegate.protocols.wire import for_path
from sluicegate.server.deadlines import ClientDeadlines, HeadDeadline, WriteDeadline
from sluicegate.server.keys import REQUEST_ID
from sluicegate.server.malformed import MalformedRequests
from sluicegate.server.respond import error_response

log = logging.getLogger("sluicegate.server")

RequestFactory = Callable[
    [
        RawRequestMessage,
        StreamReader,
        web.RequestHandler,
        AbstractStreamWriter,
        "asyncio.Task[None]",
    ],
    web.BaseRequest,
]


class GatewayRequestHandler(web.RequestHandler):
    """One client connection."""

    __slots__ = (
        "_awaiting_head",
        "_deadlines",
        "_head",
        "_head_start",
        "_malformed",
        "_new_request_id",
        "_write",
    )

    def __init__(
        self,
        manager: web.Server,
        *,
        loop: asyncio.AbstractEventLoop,
        deadlines: ClientDeadlines,
        malformed: MalformedRequests,
        new_request_id: Callable[[], str],
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        self._deadlines = deadlines
        self._malformed = malformed
        self._new_request_id = new_request_id
        self._head = HeadDeadline(loop, deadlines.header_s, self._head_expired)
        self._write = WriteDeadline(loop, deadlines.write_s, self._write_stalled)
        # True from the end of one answer until the next request's head has parsed.
        self._awaiting_head = True
        # The first bytes of that head: which protocol to answer in if it does not parse.
        self._head_start: bytes | None = None

    # -- the request head's deadline

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._head.start()  # the first head is due from the moment the client connects

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head and data:
            if self._head_start is None:
                self._head_start = data
            self._head.start()
        super().data_received(data)

    def head_received(self) -> None:
        """The head parsed (or failed to): the handler takes over until the answer ends."""
        self._awaiting_head = False
        self._head.done()

    def log_access(
        self, request: web.BaseRequest, response: web.StreamResponse, time: float | None
    ) -> None:
        # The last thing aiohttp does for every answer, written or not (a plain
        # call, where overriding the async finish_response would cost a
        # coroutine per request). Until the next head's first byte only the
        # keep-alive deadline runs.
        self._awaiting_head = True
        self._head_start = None
        super().log_access(request, response, time)

    def _head_expired(self) -> None:
        if self._awaiting_head:
            log.debug(
                "closing a connection whose request head took over %gs", self._deadlines.header_s
            )
            self.force_close()

    # -- the stalled write's deadline

    def pause_writing(self) -> None:
        super().pause_writing()
        self._write.paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._write.resumed()

    def _write_stalled(self) -> None:
        transport = self.transport
        if transport is not None:
            log.info(
                "a client took no bytes of its answer for %gs; closing its connection",
                self._deadlines.write_s,
            )
            # abort(), not close(): close() would wait to flush the buffer the
            # client is not reading. The handler sees a lost connection.
            transport.abort()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._head.close()
        self._write.close()
        super().connection_lost(exc)

    # -- what aiohttp would otherwise answer itself

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request the parser refused, or a handler that raised instead of answering."""
        if request.writer.output_size > 0:
            # Part of an answer went out already; only a closed connection can follow.
            raise ConnectionError("the answer had started; the connection is closed instead")
        if isinstance(exc, HttpProcessingError):
            response = self._malformed.answer(
                exc,
                status,
                head=self._head_start,
                peer=request.remote,
                request_id=self._new_request_id(),
            )
        else:
            response = self._failed(request, status, exc)
        response.force_close()
        return response

    def _failed(
        self, request: web.BaseRequest, status: int, exc: BaseException | None
    ) -> web.Response:
        if isinstance(exc, ConnectionError):
            log.debug("the client went away before its answer was written")
        else:
            self.logger.error("unhandled error in a request handler", exc_info=exc)
        if status == 504:
            err = GatewayError(
                ErrorKind.TIMEOUT, "the gateway timed out", code=ErrorCode.GATEWAY_TIMEOUT
            )
        else:
            err = GatewayError(
                ErrorKind.INTERNAL, "internal error in the gateway", code=ErrorCode.INTERNAL_ERROR
            )
        response = error_response(for_path(request.path), err)
        response.headers["x-request-id"] = request.get(REQUEST_ID) or self._new_request_id()
        return response


class GatewayServer(web.Server):
    """aiohttp's ``Server`` (the protocol factory), making :class:`GatewayRequestHandler` s."""

    def __init__(
        self,
        handler: Any,
        *,
        request_factory: RequestFactory,
        deadlines: ClientDeadlines,
        malformed: MalformedRequests,
        new_request_id: Callable[[], str],
        **kwargs: Any,
    ) -> None:
        self._app_request = request_factory
        super().__init__(handler, request_factory=self._request, **kwargs)
        self._deadlines = deadlines
        self._malformed = malformed
        self._new_request_id = new_request_id

    def _request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: web.RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        cast(GatewayRequestHandler, protocol).head_received()
        return self._app_request(message, payload, protocol, writer, task)

    def __call__(self) -> GatewayRequestHandler:
        return GatewayRequestHandler(
            self,
            loop=self._loop,
            deadlines=self._deadlines,
            malformed=self._malformed,
            new_request_id=self._new_request_id,
            **self._kwargs,
        )


class GatewayRunner(web.AppRunner):
    """The ``AppRunner`` for the gateway's app: its connections are
    :class:`GatewayRequestHandler` s with the client deadlines of ``server:``.

    ``handler_cancellation``: a client that goes away cancels its handler, and
    with it the upstream call it waits on, which is then recorded as 499 with
    what it used, not completed and charged for an answer nobody reads.
    """

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        gateway = app[GATEWAY]
        self._deadlines = ClientDeadlines.of(gateway.config.server)
        self._malformed = MalformedRequests()
        self._new_request_id = lambda: "req_" + gateway.new_id()
        kwargs.setdefault("keepalive_timeout", self._deadlines.keepalive_s)
        kwargs.setdefault("handler_cancellation", True)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return GatewayServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            deadlines=self._deadlines,
            malformed=self._malformed,
            new_request_id=self._new_request_id,
            **made._kwargs,
        )
