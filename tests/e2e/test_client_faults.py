"""What a careless or hostile client sends, against the gateway as users run it.

Each of these was a finding of an outside review: inputs that made a 500,
header lines that put an API key in the log, and connections that stayed
open for as long as the client liked.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from fakes.stack import KEY

SLUICEGATE = [sys.executable, "-m", "sluicegate.cli"]
SECRET = "sk-live-from-a-secret-file"
HELLO: Any = [{"role": "user", "content": "hello"}]


async def test_an_unhashable_tool_choice_type_is_a_400_naming_the_field(stack) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(anthropic.BadRequestError) as info:
        await stack.anthropic().messages.create(
            model="claude", max_tokens=5, messages=HELLO,
            tools=[{"name": "f", "input_schema": {"type": "object"}}],
            tool_choice={"type": ["auto"]},  # type: ignore[typeddict-item]
        )
    assert info.value.body["error"]["message"].startswith("tool_choice.type:")  # type: ignore[index]


async def test_json_nested_past_what_an_encoder_writes_is_a_400_naming_the_field(stack) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 600 + "]" * 600  # orjson reads it, and could not write it to the upstream
    body = ('{"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "tools": '
            '[{"type": "function", "function": {"name": "f", "parameters": {"x": DEEP}}}]}'
            ).replace("DEEP", deep)
    async with aiohttp.ClientSession() as http, http.post(
        f"{stack.url}/v1/chat/completions", data=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    ) as resp:
        error = (await resp.json())["error"]
    assert (resp.status, error["type"], error["param"]) == (400, "invalid_request_error", "tools")


async def test_a_max_tokens_past_64_bits_is_a_400_with_limits_in_redis(  # type: ignore[no-untyped-def]
    start_gateway, redis_url: str
) -> None:
    gateway = await start_gateway({
        "storage": {"redis_url": redis_url},
        "providers": [{"name": "e", "type": "echo"}],
        "models": [{"name": "echo", "targets": [{"provider": "e", "model": "x"}]}],
        "tenants": [{"name": "acme", "limits": {"tpm": 100_000},
                     "keys": [{"name": "k", "key": KEY}]}],
    })
    url = str(gateway.server.make_url("")).rstrip("/")
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="echo", messages=HELLO, max_tokens=2**63 - 1)
    assert info.value.param == "max_tokens"


# -- sluicegate serve, over raw sockets

CONFIG = """\
storage: {{url: "sqlite:///{db}"}}
server: {{header_timeout_s: 0.5}}
providers: [{{name: e, type: echo}}]
models: [{{name: echo, targets: [{{provider: e, model: x}}]}}]
tenants: [{{name: t, keys: [{{name: k, key: {key}}}]}}]
"""


async def _serve(tmp_path: Path) -> tuple[asyncio.subprocess.Process, int]:
    config = tmp_path / "gw.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "gw.db", key=KEY))
    proc = await asyncio.create_subprocess_exec(
        *SLUICEGATE, "serve", "--port", "0", "--config", str(config), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    while line := (await asyncio.wait_for(proc.stdout.readline(), 30)).decode():
        if "ready on http://" in line:
            return proc, int(line.rsplit(":", 1)[1].split()[0])
    raise AssertionError("the gateway did not print its ready line")


async def _exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def _request(header: bytes) -> bytes:
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n" + header
            + b"\r\nContent-Length: 2\r\n\r\n{}")


async def test_malformed_key_lines_never_reach_the_log_and_slow_heads_are_cut_off(
    tmp_path: Path,
) -> None:
    proc, port = await _serve(tmp_path)
    try:
        bad = [
            b"Authorization: Bearer " + SECRET.encode() + b"\r",  # a secret file's newline
            b"Authorization: Bearer " + SECRET.encode() + b"\x00",
            b"x-api-key: " + SECRET.encode() + b"A" * 9000,
        ]
        for n in range(60):
            answer = await _exchange(port, _request(bad[n % 3]))
            assert answer.startswith(b"HTTP/1.0 400"), answer[:200]
            assert b"application/json" in answer and b"x-request-id: req_" in answer
            assert SECRET.encode() not in answer

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n")  # and no more
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        assert time.monotonic() - started < 10
        writer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), 30)
    log = output.decode()
    assert SECRET not in log
    assert "Traceback" not in log
    assert log.count("malformed HTTP request") == 1, log
