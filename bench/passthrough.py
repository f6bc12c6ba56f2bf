"""A bare aiohttp pass-through: the floor any Python gateway on this stack can reach.

It does the least work a proxy must do and nothing else: read the request body,
parse it (a gateway has to look at ``model``), forward it re-encoded to the
upstream through one shared ``aiohttp.ClientSession``, and return the upstream's
bytes unchanged. No auth, no limits, no accounting, no logging per request.
One process, uvloop, orjson. The benchmark divides Sluicegate's throughput by
this one's, so the ratio isolates the cost of the gateway's own work from the
cost of the HTTP stack and the machine.

Usage: ``python bench/passthrough.py [--port 18081] [--upstream URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
import uvloop
from aiohttp import ClientSession, TCPConnector, web

DEFAULT_UPSTREAM = "http://127.0.0.1:18080/json/v1/chat/completions"
SESSION: web.AppKey[ClientSession] = web.AppKey("session", ClientSession)
UPSTREAM: web.AppKey[str] = web.AppKey("upstream", str)


async def forward(request: web.Request) -> web.Response:
    """Forward the JSON body upstream and relay the status and body bytes."""
    payload = orjson.loads(await request.read())
    session = request.app[SESSION]
    async with session.post(
        request.app[UPSTREAM],
        data=orjson.dumps(payload),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-upstream"},
    ) as upstream:
        body = await upstream.read()
        return web.Response(status=upstream.status, body=body, content_type="application/json")


def make_app(upstream: str) -> web.Application:
    """The app with its one shared client session, closed on cleanup."""
    app = web.Application()
    app[UPSTREAM] = upstream

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        async with ClientSession(connector=TCPConnector(limit=256)) as session:
            app[SESSION] = session
            yield

    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/v1/chat/completions", forward)
    return app


async def serve(host: str, port: int, upstream: str) -> None:
    """Serve until cancelled (SIGTERM/SIGINT end the process)."""
    runner = web.AppRunner(make_app(upstream), access_log=None, handle_signals=True)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"passthrough ready on http://{host}:{port} -> {upstream}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--upstream", default=DEFAULT_UPSTREAM)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt, web.GracefulExit):
        uvloop.run(serve(args.host, args.port, args.upstream))


if __name__ == "__main__":
    main()
