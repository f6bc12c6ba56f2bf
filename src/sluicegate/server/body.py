"""Reading a request's body: its size limit, its deadline, and a client that goes away.

The body is read by the pipeline (Decode), after authentication, so that a
refused key costs no upload; every failure here is a :class:`GatewayError`
and so is settled and recorded like any other outcome:

- a ``Content-Length`` over ``server.max_body_bytes`` is a 413 before a byte
  of the body is read, and so is an ``Expect: 100-continue`` request that
  announces one (instead of aiohttp's ``100 Continue``);
- a body still arriving ``server.body_timeout_s`` after the head is a 408;
- a client that closes the connection mid-body is recorded as 499 and logged
  at info: it is the client's doing, not the gateway's failure.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import StreamReader, hdrs, web
from aiohttp.http import HttpVersion11

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.gateway import GATEWAY
from sluicegate.protocols.wire import for_path
from sluicegate.server.respond import error_response

log = logging.getLogger("sluicegate.server")


async def read_body(request: web.Request, *, max_bytes: int, timeout_s: float) -> bytes:
    """The whole body, or a GatewayError: 413 past ``max_bytes``, 408 when it has
    not all arrived ``timeout_s`` after the head, 499 when the client went away."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise too_large(max_bytes)
    content = request.content
    try:
        if content.is_eof():
            # Already here, as a small body that came with its head is: nothing
            # to wait for, so no timer to arm on the hot path.
            body = content.read_nowait()
            if len(body) > max_bytes:
                raise too_large(max_bytes)
        else:
            async with asyncio.timeout(timeout_s):
                body = await _read_at_most(content, max_bytes)
    except TimeoutError:
        raise GatewayError(
            ErrorKind.REQUEST_TIMEOUT,
            f"the request body did not arrive within {timeout_s:g}s",
            code=ErrorCode.REQUEST_TIMEOUT,
        ) from None
    except ConnectionError:
        _went_away()
        raise GatewayError(
            ErrorKind.CLIENT_CLOSED,
            "the client closed the connection before sending the whole body",
            code=ErrorCode.CLIENT_CLOSED,
        ) from None
    except asyncio.CancelledError:
        # What a lost connection usually is: aiohttp cancels the handler
        # (handler_cancellation), and Settle records the 499.
        if request.transport is None:
            _went_away()
        raise
    return body


async def _read_at_most(content: StreamReader, max_bytes: int) -> bytes:
    """The body, read here rather than by ``request.read()``: aiohttp's own limit is
    the one the application was created with, and ``max_body_bytes`` may have been
    reloaded since."""
    parts: list[bytes] = []
    size = 0
    async for chunk in content.iter_any():
        size += len(chunk)
        if size > max_bytes:  # chunked, so no Content-Length said so first
            raise too_large(max_bytes)
        parts.append(chunk)
    return b"".join(parts)


def _went_away() -> None:
    log.info("client closed the connection while sending its request body")


def too_large(max_bytes: int) -> GatewayError:
    return GatewayError(
        ErrorKind.TOO_LARGE,
        f"request body is larger than the limit of {max_bytes} bytes",
        code=ErrorCode.REQUEST_TOO_LARGE,
    )


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """The routes' ``expect_handler``: a body announced larger than the limit is
    refused with 413 before the client sends it; otherwise aiohttp's own rule
    (``100 Continue``, or 417 for any other expectation)."""
    max_bytes = request.app[GATEWAY].config.server.max_body_bytes
    length = request.content_length
    if length is not None and length > max_bytes:
        response = error_response(for_path(request.path), too_large(max_bytes))
        # The client may send the body anyway; it is not worth reading.
        response.force_close()
        return response
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version == HttpVersion11:
        if expect.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the answer itself has not started
    return None
