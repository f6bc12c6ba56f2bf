"""An upstream that answers like the benchmark's nginx, after a fixed delay.

The nginx upstream answers in microseconds, which makes every comparison a
measure of the gateway's own CPU. Behind a real model a call waits for the
model; this stands in for one (a short wait: a real completion takes ten to a
hundred times longer), for comparisons where that wait is the point, such as
cache hits against misses.

Usage: ``python bench/slow_upstream.py --port 18084 --delay-ms 20``
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

ANSWER = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"Hello! How can I help you today?"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}'
)


def make_app(delay_s: float) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(delay_s)
        return web.Response(body=ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=18084)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    web.run_app(
        make_app(args.delay_ms / 1000), host="127.0.0.1", port=args.port, print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
