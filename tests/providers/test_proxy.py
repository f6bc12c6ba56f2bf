"""Egress proxies: upstream calls through HTTPS_PROXY / HTTP_PROXY, NO_PROXY honoured."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from yarl import URL

from fakes.calls import chat, collect, failure, text_of
from fakes.openai_upstream import OpenAIUpstream
from fakes.raw import always, ok, serving
from sluicegate.config import ProviderConfig
from sluicegate.providers.http import HttpClient
from sluicegate.providers.openai import OpenAIProvider
from sluicegate.providers.proxy import ProxyRules

KEY = "sk-proxied"
# Every name the proxy is asked for is this machine: upstreams need not resolve.
UPSTREAM_HOST = "llm.example.test"


class FakeProxy:
    """An HTTP proxy: CONNECT tunnels for https, absolute-form requests for http."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.cut_answers = False  # answer http requests itself, with half a body

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head.decode())
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
        if self.cut_answers:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"choices\"")
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            port = int(target.rsplit(":", 1)[1])
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            url = URL(target)
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", url.port)
            upstream_writer.write(
                f"{method} {url.raw_path_qs} HTTP/1.1\r\n".encode() + head.split(b"\r\n", 1)[1]
            )
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    def requests(self) -> list[str]:
        return [head.split("\r\n", 1)[0] for head in self.heads]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def proxy_server() -> AsyncIterator[tuple[FakeProxy, str]]:
    proxy = FakeProxy()
    listener = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    try:
        yield proxy, f"http://gw:s3cret@127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    finally:
        listener.close()


@pytest.fixture
async def proxied_http() -> AsyncIterator[HttpClient]:
    client = HttpClient.create()
    yield client
    await client.close()


def provider(http: HttpClient, base_url: str, **config: str) -> OpenAIProvider:
    return OpenAIProvider(
        ProviderConfig(name="main", type="openai", base_url=base_url, api_key=KEY, **config), http
    )


async def test_https_calls_tunnel_through_the_proxy(
    proxied_http: HttpClient, tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    upstream = OpenAIUpstream(api_key=KEY)
    upstream.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(UPSTREAM_HOST).configure_cert(upstream.tls)
    async with upstream, proxy_server() as (proxy, proxy_url):
        proxied_http.proxies = ProxyRules({"https": proxy_url})
        port = URL(upstream.url).port
        main = provider(proxied_http, f"https://{UPSTREAM_HOST}:{port}/v1", ca_file=str(ca_file))
        upstream.reply_with("Through the proxy.")
        for stream in (False, True):
            events = await collect(main.chat(chat(stream=stream), "gpt-4o"))
            assert text_of(events) == "Through the proxy."
        assert len(upstream.requests) == 2
    assert set(proxy.requests()) == {f"CONNECT {UPSTREAM_HOST}:{port} HTTP/1.1"}
    assert all("Proxy-Authorization: Basic Z3c6czNjcmV0" in head for head in proxy.heads)


async def test_http_calls_go_through_the_proxy_and_loopback_goes_direct(
    proxied_http: HttpClient,
) -> None:
    async with OpenAIUpstream(api_key=KEY) as upstream, proxy_server() as (proxy, proxy_url):
        port = URL(upstream.url).port
        proxied_http.proxies = ProxyRules({"http": proxy_url})
        proxied = provider(proxied_http, f"http://{UPSTREAM_HOST}:{port}/v1")
        for stream in (False, True):
            assert text_of(await collect(proxied.chat(chat(stream=stream), "gpt-4o")))
        assert proxy.requests(), "the proxy carried the calls"
        assert set(proxy.requests()) == {
            f"POST http://{UPSTREAM_HOST}:{port}/v1/chat/completions HTTP/1.1"
        }
        seen = len(proxy.heads)
        local = provider(proxied_http, upstream.url)  # 127.0.0.1: loopback is never proxied
        assert text_of(await collect(local.chat(chat(), "gpt-4o")))
        assert len(proxy.heads) == seen


async def test_an_answer_cut_off_behind_the_proxy_is_an_upstream_error(
    proxied_http: HttpClient,
) -> None:
    async with proxy_server() as (proxy, proxy_url):
        proxy.cut_answers = True
        proxied_http.proxies = ProxyRules({"http": proxy_url})
        proxied = provider(proxied_http, f"http://{UPSTREAM_HOST}:8000/v1")
        error, events = await failure(proxied.chat(chat(), "gpt-4o"))
    assert (error.code, events) == ("upstream_connection_error", [])
    assert proxy.requests()


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_a_redirect_behind_the_proxy_is_not_followed(
    proxied_http: HttpClient, stream: bool
) -> None:
    async def redirect(_: bytes) -> bytes:
        return (b"HTTP/1.1 307 Temporary Redirect\r\nContent-Length: 0\r\n"
                b"Location: http://elsewhere.example.test:%d/steal\r\n\r\n" % elsewhere.port)

    async with serving(lambda _: always(ok())) as (stolen, elsewhere), \
            serving(redirect) as (_, upstream), proxy_server() as (proxy, proxy_url):
        proxied_http.proxies = ProxyRules({"http": proxy_url})
        proxied = provider(proxied_http, f"http://{UPSTREAM_HOST}:{upstream.port}/v1")
        error, events = await failure(proxied.chat(chat(stream=stream), "gpt-4o"))

    assert (error.status, error.code, events) == (502, "upstream_bad_response", [])
    assert proxy.requests() == [
        f"POST http://{UPSTREAM_HOST}:{upstream.port}/v1/chat/completions HTTP/1.1"]
    assert stolen.connections == 0


@pytest.mark.parametrize(
    ("url", "proxied"),
    [
        ("https://api.openai.com/v1", True),
        ("https://llm.internal.corp/v1", False),  # a subdomain of a NO_PROXY entry
        ("https://internal.corp/v1", False),
        ("https://models.svc:8443/v1", False),  # host and port listed
        ("https://models.svc/v1", True),  # the same host, another port
        ("http://10.2.3.4:8000/v1", False),  # inside a listed CIDR range
        ("http://11.2.3.4:8000/v1", True),
        ("http://127.0.0.1:8000/v1", False),  # loopback: never proxied
        ("http://localhost:11434/v1", False),
        ("https://[::1]:8000/v1", False),
        ("https://[2001:db8::5]/v1", False),  # a bare IPv6 address listed
    ],
)
def test_which_origins_are_proxied(url: str, proxied: bool) -> None:
    rules = ProxyRules(
        {
            "https": "http://user:pw@proxy.corp:3128",
            "http": "http://proxy.corp:3128",
            "no": "internal.corp, models.svc:8443 ,10.0.0.0/8,2001:db8::5",
        }
    )
    proxy = rules.for_url(URL(url))
    assert (proxy is not None) == proxied
    if proxy is not None:
        assert str(proxy.url) == "http://proxy.corp:3128"


def test_a_proxy_named_without_a_scheme_is_an_http_proxy() -> None:
    proxy = ProxyRules({"https": "proxy.corp:3128"}).for_url(URL("https://api.openai.com/v1"))
    assert proxy is not None and str(proxy.url) == "http://proxy.corp:3128"


def test_no_proxy_star_and_no_proxies_at_all() -> None:
    everything_direct = ProxyRules({"https": "http://proxy:3128", "no": "*"})
    assert everything_direct.for_url(URL("https://api.openai.com/v1")) is None
    assert not ProxyRules({}), "no proxy configured: calls skip the lookup"
