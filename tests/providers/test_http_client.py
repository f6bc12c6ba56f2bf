"""The shared upstream client: what every provider's call carries, and what it must not."""

from __future__ import annotations

import tracemalloc
import zlib

import pytest
from aiohttp import web
from yarl import URL

from fakes.base import LocalServer
from fakes.calls import chat, failure
from fakes.raw import Reply, always, ok, serving
from sluicegate.canonical import GatewayError
from sluicegate.config import ProviderConfig
from sluicegate.config.schema import ProviderType
from sluicegate.providers.http import USER_AGENT, HttpClient
from sluicegate.providers.registry import build_provider
from sluicegate.providers.transport import Limits


class CookieSettingUpstream(LocalServer):
    """Answers every POST with a cookie, and remembers the headers of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, str]] = []

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        response = web.json_response({"ok": True})
        response.set_cookie("session", "tenant-a-secret")
        return response


async def test_calls_name_the_gateway_and_never_replay_an_upstream_cookie(
    http: HttpClient,
) -> None:
    async with CookieSettingUpstream() as upstream:
        url = f"{upstream.origin}/v1/chat/completions"
        for _ in range(2):
            answer = await http.fetch(
                url, body=b"{}", headers={}, limits=Limits(5, 5, 5), provider="p"
            )
            assert answer.status == 200

    first, second = upstream.seen
    assert first["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("sluicegate/")
    # One tenant's call must not carry what an upstream set on another's.
    assert "Cookie" not in second


# --------------------------------------------------------------------------- redirects

KEYS = {"openai": "sk-upstream", "azure": "azure-key", "anthropic": "sk-ant-upstream",
        "gemini": "AIza-upstream"}


def redirecting_to(target: URL, status: int) -> Reply:
    async def reply(_: bytes) -> bytes:
        return (b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                % (status, str(target).encode()))
    return reply


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("kind", ["openai", "azure", "anthropic", "gemini"])
async def test_a_redirect_is_answered_502_and_never_followed(
    http: HttpClient, kind: ProviderType, stream: bool, status: int
) -> None:
    # 307 and 308 would resend the prompt, and every redirect the provider's key
    # (x-api-key, x-goog-api-key, api-key: aiohttp drops only Authorization).
    async with serving(lambda _: always(ok())) as (elsewhere, stolen), \
            serving(redirecting_to(stolen, status)) as (upstream, url):
        config = ProviderConfig(name="up", type=kind, base_url=str(url.with_path("/v1")),
                                api_key=KEYS[kind])
        error, events = await failure(build_provider(config, http).chat(chat(stream), "m"))

    assert (error.status, error.code, error.upstream_status) == (
        502, "upstream_bad_response", status)
    assert str(status) in error.message
    assert events == []
    assert len(upstream.requests) == 1
    assert elsewhere.connections == 0


# --------------------------------------------------------------------------- size bounds

LIMIT = 64 * 1024


async def read_bounded(http: HttpClient, url: URL, max_bytes: int = LIMIT) -> bytes:
    """What a provider does with an error body, or an answer it did not stream."""
    async with http.open(str(url), body=b"{}", headers={}, limits=Limits(5, None, 5),
                         provider="up", max_bytes=max_bytes) as answer:
        return await answer.read()


async def test_a_body_read_over_the_bound_is_a_502_and_its_connection_is_closed(
    http: HttpClient,
) -> None:
    big = b"x" * (64 * LIMIT)  # far more than is read ahead: the answer is left unfinished
    answers = iter([b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % len(big) + big, ok()])

    async with serving(lambda _: always(next(answers))) as (server, url):
        with pytest.raises(GatewayError) as caught:
            await read_bounded(http, url)
        assert await read_bounded(http, url) == b'{"ok":true}'

    assert (caught.value.status, caught.value.code) == (502, "upstream_bad_response")
    assert str(LIMIT) in caught.value.message
    assert server.connections == 2


async def test_a_gzip_bomb_read_inflates_no_further_than_the_bound(http: HttpClient) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(packer.compress(bytes(1024 * 1024)) for _ in range(64)) + packer.flush()
    answer = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
              % len(bomb) + bomb)

    async with serving(lambda _: always(answer)) as (_, url):
        tracemalloc.start()
        try:
            with pytest.raises(GatewayError) as caught:
                await read_bounded(http, url, max_bytes=4 * 1024 * 1024)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert caught.value.code == "upstream_bad_response"
    assert peak < 16 * 1024 * 1024, f"inflating took {peak} bytes"
