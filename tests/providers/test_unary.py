"""The unary transport: one POST, one whole answer, over kept-alive connections.

Each test runs a raw TCP server that answers with exact bytes, so framing
(lengths, chunks, close-delimited bodies), cut connections and silence are
what the transport really meets.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trustme
from yarl import URL

from fakes.raw import RawServer, always, ok, serving
from sluicegate.providers.transport import (
    AnswerTimeout,
    AnswerTooLarge,
    BrokenAnswer,
    ConnectFailed,
    Limits,
)
from sluicegate.providers.unary import UnaryTransport


@pytest.fixture
async def client() -> AsyncIterator[UnaryTransport]:
    unary = UnaryTransport(user_agent="sluicegate/test")
    yield unary
    await unary.close()


async def call(client: UnaryTransport, url: URL, **deadlines: float | None) -> tuple[int, bytes]:
    limits: dict[str, float | None] = {"connect_s": 5, "first_byte_s": 5, "total_s": 10}
    limits.update(deadlines)
    answer = await client.fetch(url, b'{"q":1}', HEADERS, limits=Limits(**limits))
    return answer.status, answer.body


HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-up"}


async def test_sequential_calls_share_one_connection(client: UnaryTransport) -> None:
    async with serving(lambda _: always(ok())) as (server, url):
        for _ in range(5):
            assert await call(client, url) == (200, b'{"ok":true}')
    assert server.connections == 1
    assert client.opened == 1


async def test_the_request_is_what_the_upstream_expects(client: UnaryTransport) -> None:
    async with serving(lambda _: always(ok())) as (server, url):
        await call(client, url)
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions?api-version=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{url.port}" in lines
    assert "User-Agent: sluicegate/test" in lines
    assert "Authorization: Bearer sk-up" in lines
    assert "Content-Length: 7" in lines
    assert body == b'{"q":1}'


async def test_concurrent_calls_each_get_a_connection_then_reuse_them(
    client: UnaryTransport,
) -> None:
    async def slow(_: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return ok()

    async with serving(slow) as (server, url):
        await asyncio.gather(*(call(client, url) for _ in range(4)))
        await asyncio.gather(*(call(client, url) for _ in range(4)))
    assert server.connections == 4


async def test_an_answer_that_closes_the_connection_is_not_reused(client: UnaryTransport) -> None:
    async with serving(lambda _: always(ok(extra=b"Connection: close\r\n"))) as (server, url):
        for _ in range(3):
            assert (await call(client, url))[0] == 200
    assert server.connections == 3


async def test_chunked_and_gzip_answers_are_decoded(client: UnaryTransport) -> None:
    body = b'{"choices":[]}'
    packed = gzip.compress(body)
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + b"%x\r\n" % 5 + packed[:5] + b"\r\n"
        + b"%x\r\n" % (len(packed) - 5) + packed[5:] + b"\r\n0\r\n\r\n"
    )
    async with serving(lambda _: always(chunked)) as (server, url):
        assert await call(client, url) == (200, body)
        assert await call(client, url) == (200, body)
    assert server.connections == 1


async def test_a_body_without_a_length_ends_with_the_connection(client: UnaryTransport) -> None:
    answer = b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\nupstream down"
    async with serving(lambda _: always(answer)) as (_, url):
        assert await call(client, url) == (502, b"upstream down")


async def test_an_interim_answer_is_skipped(client: UnaryTransport) -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + ok()
    async with serving(lambda _: always(answer)) as (_, url):
        assert await call(client, url) == (200, b'{"ok":true}')


async def test_nothing_listening_is_a_connect_failure(
    client: UnaryTransport, refused_port: int
) -> None:
    url = URL(f"http://127.0.0.1:{refused_port}/v1/chat/completions")
    with pytest.raises(ConnectFailed):
        await call(client, url)


async def test_silence_is_a_first_byte_timeout_and_the_connection_is_dropped(
    client: UnaryTransport,
) -> None:
    answers = iter([None, ok()])

    async def first_silent(_: bytes) -> bytes | None:
        answer = next(answers)
        if answer is None:
            await asyncio.sleep(1)
        return answer

    async with serving(first_silent) as (server, url):
        with pytest.raises(AnswerTimeout) as caught:
            await call(client, url, first_byte_s=0.1)
        assert caught.value.first_byte
        assert await call(client, url) == (200, b'{"ok":true}')
    assert server.connections == 2


async def test_an_answer_cut_short_is_broken(client: UnaryTransport) -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial"

    async def cut_then_close(_: bytes) -> bytes | None:
        return cut + b"\r\nConnection: close\r\n"  # fewer bytes than promised, then EOF

    async with serving(cut_then_close) as (_, url):
        with pytest.raises(BrokenAnswer):
            await call(client, url)


async def test_a_connection_idle_too_long_is_not_reused() -> None:
    client = UnaryTransport(user_agent="t", keepalive_s=0.05)
    try:
        async with serving(lambda _: always(ok())) as (server, url):
            await call(client, url)
            await asyncio.sleep(0.1)
            await call(client, url)
        assert server.connections == 2
    finally:
        await client.close()


async def test_a_connection_its_server_closed_while_idle_is_not_reused(
    client: UnaryTransport,
) -> None:
    """Servers with a short keep-alive (uvicorn, behind vLLM, waits 5 s) close idle
    connections without saying so in the answer; the next call opens a new one
    instead of writing into the closed one."""
    connections = 0

    async def answer_then_hang_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = head.lower().split(b"content-length:")[1].split(b"\r\n")[0]
        await reader.readexactly(int(length))
        writer.write(ok())
        await writer.drain()
        await asyncio.sleep(0.02)  # the server's keep-alive timeout, over
        writer.close()

    listener = await asyncio.start_server(answer_then_hang_up, "127.0.0.1", 0)
    url = URL(f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/v1/chat/completions")
    try:
        for _ in range(3):
            assert await call(client, url) == (200, b'{"ok":true}')
            await asyncio.sleep(0.1)
    finally:
        listener.close()
        await listener.wait_closed()
    assert connections == 3


async def test_a_header_with_a_line_break_is_refused(client: UnaryTransport) -> None:
    async with serving(lambda _: always(ok())) as (_, url):
        with pytest.raises(ValueError, match="line break"):
            await client.fetch(
                url, b"{}", {"X-Evil": "a\r\nHost: other"}, limits=Limits(1, 1, 1)
            )


async def test_a_cancelled_calls_connection_is_not_reused(client: UnaryTransport) -> None:
    calls = 0

    async def first_hangs(_: bytes) -> bytes | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(5)
        return ok()

    async with serving(first_hangs) as (server, url):
        task = asyncio.create_task(call(client, url))
        while not server.requests:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The half-used connection is not pooled: the next call opens its own.
        assert await call(client, url) == (200, b'{"ok":true}')
    assert client.opened == 2


async def test_one_deadline_watch_serves_calls_with_different_timeouts(
    client: UnaryTransport,
) -> None:
    async def slow(_: bytes) -> bytes:
        await asyncio.sleep(0.3)
        return ok()

    async with serving(slow) as (_, url):
        patient = asyncio.create_task(call(client, url, first_byte_s=5))
        await asyncio.sleep(0.01)
        with pytest.raises(AnswerTimeout):
            await call(client, url, first_byte_s=0.1)  # due before the first call's deadline
        assert await patient == (200, b'{"ok":true}')


# --------------------------------------------------------------------------- size bounds

LIMIT = 64 * 1024


def gzip_bomb(inflated: int) -> bytes:
    """Zeros that gzip to about a thousandth of ``inflated`` bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    packed = [packer.compress(block) for _ in range(inflated // len(block))]
    return b"".join(packed) + packer.flush()


async def bounded(client: UnaryTransport, url: URL) -> tuple[int, bytes]:
    answer = await client.fetch(url, b"{}", HEADERS, limits=Limits(5, 5, 10),
                               max_bytes=LIMIT)
    return answer.status, answer.body


def framed(body: bytes, how: str) -> bytes:
    if how == "length":
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    if how == "chunked":
        step = 4096
        chunks = b"".join(b"%x\r\n" % len(body[i:i + step]) + body[i:i + step] + b"\r\n"
                          for i in range(0, len(body), step))
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body  # ends with the connection


@pytest.mark.parametrize("how", ["length", "chunked", "until-close"])
async def test_an_answer_over_the_bound_fails_and_its_connection_is_dropped(
    client: UnaryTransport, how: str
) -> None:
    answers = iter([framed(b"x" * (LIMIT + 1), how), ok()])

    async with serving(lambda _: always(next(answers))) as (server, url):
        with pytest.raises(AnswerTooLarge) as caught:
            await bounded(client, url)
        assert await bounded(client, url) == (200, b'{"ok":true}')
    assert caught.value.limit == LIMIT
    assert server.connections == 2, "the connection left mid-answer was not reused"


async def test_an_answer_of_exactly_the_bound_is_served(client: UnaryTransport) -> None:
    answer = framed(b"x" * (LIMIT - 42), "length")
    assert len(answer) == LIMIT  # the bound counts the answer as received, its head too
    async with serving(lambda _: always(answer)) as (_, url):
        assert await bounded(client, url) == (200, b"x" * (LIMIT - 42))


async def test_a_head_that_never_ends_is_cut_off_at_the_bound(client: UnaryTransport) -> None:
    # httptools takes any number of header lines: the bound is what stops them.
    endless = b"HTTP/1.1 200 OK\r\n" + (b"X-Padding: " + b"p" * 1000 + b"\r\n") * 100
    async with serving(lambda _: always(endless)) as (_, url):
        with pytest.raises(AnswerTooLarge):
            await bounded(client, url)


async def test_a_gzip_bomb_inflates_no_further_than_the_bound(client: UnaryTransport) -> None:
    bomb = gzip_bomb(64 * 1024 * 1024)  # 64 MiB of zeros in about 64 KiB
    answer = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
              % len(bomb) + bomb)
    async with serving(lambda _: always(answer)) as (_, url):
        tracemalloc.start()
        try:
            with pytest.raises(AnswerTooLarge):
                await client.fetch(url, b"{}", HEADERS, limits=Limits(5, 5, 10),
                                  max_bytes=4 * 1024 * 1024)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(bomb) < 128 * 1024
    assert peak < 16 * 1024 * 1024, f"inflating took {peak} bytes"


# --------------------------------------------------------------------------- TLS


@asynccontextmanager
async def serving_tls(
    ca: trustme.CA, name: str
) -> AsyncIterator[tuple[RawServer, URL]]:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(server_tls)
    server = RawServer(lambda _: always(ok()))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_tls)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, URL(f"https://localhost:{port}/v1/messages")
    finally:
        listener.close()
        await listener.wait_closed()


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_https_calls_verify_the_upstream_and_keep_the_connection() -> None:
    ca = trustme.CA()
    client = UnaryTransport(user_agent="t", tls=trusting(ca))
    try:
        async with serving_tls(ca, "localhost") as (server, url):
            for _ in range(3):
                assert await call(client, url) == (200, b'{"ok":true}')
        assert server.connections == 1
        assert f"Host: localhost:{url.port}" in server.requests[0].decode()
    finally:
        await client.close()


async def test_a_call_with_its_own_tls_context_never_rides_a_connection_another_verified() -> None:
    """Two providers on one origin, one trusting the system's store and one a private
    CA: a connection verified under one trust is never lent to the other."""
    ca = trustme.CA()
    client = UnaryTransport(user_agent="t", tls=trusting(ca))
    try:
        async with serving_tls(ca, "localhost") as (server, url):
            assert await call(client, url) == (200, b'{"ok":true}')
            stranger = trusting(trustme.CA())  # knows another authority only
            with pytest.raises(ConnectFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
                await client.fetch(url, b"{}", HEADERS, limits=Limits(5, 5, 10),
                                  tls=stranger)
            own = trusting(ca)
            for _ in range(2):
                answer = await client.fetch(url, b"{}", HEADERS, limits=Limits(5, 5, 10), tls=own)
                assert answer.status == 200
        assert server.connections == 2, "one per trust, each kept alive"
    finally:
        await client.close()


async def test_a_certificate_for_another_name_is_refused() -> None:
    ca = trustme.CA()
    client = UnaryTransport(user_agent="t", tls=trusting(ca))
    try:
        async with serving_tls(ca, "upstream.example") as (_, url):
            with pytest.raises(ConnectFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
                await call(client, url)
    finally:
        await client.close()


async def test_an_unknown_authority_is_refused_by_default() -> None:
    client = UnaryTransport(user_agent="t")  # the system's trust store knows no test CA
    try:
        async with serving_tls(trustme.CA(), "localhost") as (_, url):
            with pytest.raises(ConnectFailed):
                await call(client, url)
    finally:
        await client.close()
