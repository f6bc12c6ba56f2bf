"""The shared upstream client: what every provider's call carries, and what it must not."""

from __future__ import annotations

from aiohttp import ClientTimeout, web

from fakes.base import LocalServer
from sluicegate.providers.http import USER_AGENT, HttpClient


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
            status, _, _ = await http.fetch(
                url, body=b"{}", headers={}, client_timeout=ClientTimeout(total=5), provider="p"
            )
            assert status == 200

    first, second = upstream.seen
    assert first["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("sluicegate/")
    # One tenant's call must not carry what an upstream set on another's.
    assert "Cookie" not in second
