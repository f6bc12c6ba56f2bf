"""Client-side deadlines on a served gateway: slow heads, idle connections, stalled readers.

Each deadline is set short here; a test fails only when a connection stays
open far past its deadline (seconds, not milliseconds), never on how fast
this machine is.
"""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp

from server.conftest import KEY, ServeFactory, chat_body, echo_config, request_head


async def test_a_head_that_trickles_in_is_cut_off_at_the_header_deadline(
    serve: ServeFactory,
) -> None:
    served = await serve(echo_config({"header_timeout_s": 0.3}))
    connected = time.monotonic()
    conn = await served.connect()
    await conn.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n")

    async def trickle() -> None:  # a header line every 0.1 s, for 10 s
        for _ in range(100):
            await asyncio.sleep(0.1)
            await conn.send(b"X-Slow: 1\r\n")

    trickling = asyncio.ensure_future(trickle())
    try:
        assert 0.25 <= await conn.closed_after(5, since=connected) < 5
    finally:
        trickling.cancel()
        conn.close()


async def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(
    serve: ServeFactory,
) -> None:
    served = await serve(echo_config({"header_timeout_s": 0.3}))
    connected = time.monotonic()
    conn = await served.connect()
    assert 0.25 <= await conn.closed_after(5, since=connected) < 5


async def test_each_head_is_due_from_its_own_first_byte(serve: ServeFactory) -> None:
    served = await serve(echo_config({"header_timeout_s": 1.0, "keepalive_timeout_s": 30}))
    conn = await served.connect()
    body = chat_body()
    head = request_head(length=len(body))
    await conn.send(head + body)
    assert (await conn.response()).status == 200
    await asyncio.sleep(0.7)
    # Half a head now and the rest 0.4 s later: past the deadline of the
    # connection's first head (1 s after it opened), well within this one's.
    await conn.send(head[:20])
    await asyncio.sleep(0.4)
    await conn.send(head[20:] + body)
    assert (await conn.response()).status == 200


async def test_an_idle_keep_alive_connection_has_its_own_deadline(serve: ServeFactory) -> None:
    served = await serve(echo_config({"header_timeout_s": 0.2, "keepalive_timeout_s": 2.0}))
    conn = await served.connect()
    body = chat_body()
    for _ in range(2):
        # Before the server's keep-alive timer starts (once it has answered), however
        # late this client gets to read the answer.
        sent = time.monotonic()
        await conn.send(request_head(length=len(body)) + body)
        assert (await conn.response()).status == 200
        # Longer than a head may take, but between requests only keep-alive counts.
        await asyncio.sleep(0.5)
    assert await conn.closed_after(10, since=sent) >= 1.5


async def test_a_client_that_stops_reading_a_stream_is_cut_off_and_frees_its_slot(
    serve: ServeFactory,
) -> None:
    served = await serve(echo_config(
        {"write_timeout_s": 0.5},
        models=[{"name": "echo", "targets": [
            {"provider": "e", "model": "echo-1", "max_concurrency": 1}]}],
    ))
    # Tens of megabytes of answer for a client whose receive buffer is tiny and
    # which never reads: the socket buffers fill and the gateway's writes stall.
    words = " ".join(["w" * 20_000] * 250)
    body = chat_body(stream=True, n=4, messages=[{"role": "user", "content": words}])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((served.host, served.port))
    sock.setblocking(False)
    _, writer = await asyncio.open_connection(sock=sock)
    writer.write(request_head(length=len(body)) + body)
    await writer.drain()

    record = await served.record(timeout=20)
    assert record["status"] == 499, "the stalled stream ends as a client disconnect"
    # The deployment's one slot is free again: the next request is served at once.
    async with aiohttp.ClientSession() as http, http.post(
        f"{served.url}/v1/chat/completions", data=chat_body(),
        headers={"Authorization": f"Bearer {KEY}"}, timeout=aiohttp.ClientTimeout(total=10),
    ) as resp:
        assert resp.status == 200
    writer.close()
