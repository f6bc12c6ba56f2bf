"""``log_format: json``: one JSON line per request, every log line JSON, no secrets, no bodies."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from sluicegate.accounting.access_line import ACCESS_LOGGER, AccessEntry
from sluicegate.config.loader import validate_config
from sluicegate.gateway import GATEWAY
from sluicegate.observability import json_log
from sluicegate.observability.json_log import JsonFormatter, json_logging

KEY = "sk-tenant-secret-key-4242"
UPSTREAM_KEY = "sk-upstream-secret-9999"
PROMPT = "What do pelicans keep in their beaks on Tuesdays?"
FIELDS = {
    "ts", "level", "logger", "request_id", "tenant", "key_name", "alias", "target", "protocol",
    "operation", "stream", "status", "error_code", "input_tokens", "output_tokens",
    "cached_tokens", "reasoning_tokens", "cost_usd", "latency_ms", "ttft_ms", "cache", "prompt",
    "attempts",
}


def config(refused_port: int, **overrides: Any) -> dict[str, Any]:
    return {
        "providers": [
            {"name": "e", "type": "echo"},
            {"name": "down", "type": "openai", "base_url": f"http://127.0.0.1:{refused_port}/v1",
             "api_key": UPSTREAM_KEY},
        ],
        "models": [
            {"name": "echo", "targets": [{"provider": "e", "model": "x"}],
             "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}},
            {"name": "broken", "targets": [{"provider": "down", "model": "gpt-4o"}]},
        ],
        "tenants": [{"name": "acme", "keys": [{"name": "ci", "key": KEY}]}],
        "log_format": "json",
        **overrides,
    }


class Lines(logging.Handler):
    """Where the writer thread puts the lines: kept, formatted, for the test to read."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.delay_s = delay_s

    def emit(self, record: logging.LogRecord) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)  # a slow disk, or a full pipe to a log shipper
        self.lines.append(self.format(record))

    def access(self) -> list[dict[str, Any]]:
        parsed = [orjson.loads(line) for line in self.lines]
        return [line for line in parsed if line["logger"] == ACCESS_LOGGER]


def chat(content: str = PROMPT, *, model: str = "echo", stream: bool = False) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_one_line_per_request_with_the_ledger_fields(
    start_gateway: Any, refused_port: int
) -> None:
    gw = await start_gateway(config(refused_port))
    sink = Lines()
    with json_logging([sink]):
        resp = await gw.post("/v1/chat/completions", json=chat(), headers=auth())
        assert resp.status == 200
        assert PROMPT in await resp.text()  # the echo answers with the question
    [line] = sink.access()
    assert line.keys() >= FIELDS
    assert line["request_id"] == resp.headers["x-request-id"]
    assert line["ts"].endswith("Z") and line["ts"][10] == "T"
    assert line | {"ts": None, "request_id": None, "latency_ms": None, "ttft_ms": None,
                   "cost_usd": None, "input_tokens": None, "output_tokens": None} == {
        "ts": None, "level": "INFO", "logger": ACCESS_LOGGER, "request_id": None,
        "tenant": "acme", "key_name": "ci", "alias": "echo", "target": "e/x",
        "protocol": "openai", "operation": "chat", "stream": False, "status": 200,
        "error_code": None, "input_tokens": None, "output_tokens": None, "cached_tokens": 0,
        "reasoning_tokens": 0, "cost_usd": None, "latency_ms": None, "ttft_ms": None,
        "cache": line["cache"], "prompt": None, "attempts": 1,
    }
    assert line["input_tokens"] > 0 and line["output_tokens"] > 0 and line["cost_usd"] > 0
    assert line["latency_ms"] >= line["ttft_ms"] > 0
    assert "contract" not in line and "guardrails" not in line  # only when there is a verdict


async def test_no_key_and_no_body_ever_in_any_line(start_gateway: Any, refused_port: int) -> None:
    gw = await start_gateway(config(refused_port))
    sink = Lines()
    with json_logging([sink]):
        for body, key in [
            (chat(), KEY),
            (chat(stream=True), KEY),
            (chat(model="broken"), KEY),
            (chat(), "sk-wrong-" + KEY),
        ]:
            resp = await gw.post("/v1/chat/completions", json=body, headers=auth(key))
            await resp.read()
        resp = await gw.post(
            "/v1/messages",
            json={"model": "echo", "max_tokens": 50, "messages": [
                {"role": "user", "content": PROMPT}]},
            headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        )
        await resp.read()
    assert len(sink.access()) == 5
    everything = "\n".join(sink.lines)
    for secret in (KEY, UPSTREAM_KEY, "Bearer", PROMPT, "pelicans"):
        assert secret not in everything


async def test_errors_have_their_status_code_and_attempts(
    start_gateway: Any, refused_port: int
) -> None:
    gw = await start_gateway(config(refused_port))
    sink = Lines()
    with json_logging([sink]):
        unknown = await gw.post("/v1/chat/completions", json=chat(), headers=auth("sk-nobody"))
        down = await gw.post("/v1/chat/completions", json=chat(model="broken"), headers=auth())
    assert unknown.status == 401 and down.status == 503  # nothing listens upstream
    by_id = {line["request_id"]: line for line in sink.access()}
    refused = by_id[unknown.headers["x-request-id"]]
    assert refused["status"] == 401 and refused["error_code"] and refused["tenant"] is None
    assert refused["attempts"] == 0 and refused["target"] is None
    failed = by_id[down.headers["x-request-id"]]
    assert failed["status"] == down.status and failed["error_code"]
    assert failed["tenant"] == "acme" and failed["alias"] == "broken"
    assert failed["attempts"] >= 1 and failed["ttft_ms"] is None


async def test_a_stream_is_one_line_written_when_it_ends(
    start_gateway: Any, refused_port: int
) -> None:
    gw = await start_gateway(config(refused_port))
    sink = Lines()
    with json_logging([sink]):
        resp = await gw.post("/v1/chat/completions", json=chat(stream=True), headers=auth())
        assert "[DONE]" in await resp.text()
    [line] = sink.access()
    assert line["stream"] is True and line["status"] == 200
    assert line["ttft_ms"] is not None and line["output_tokens"] > 0


async def test_the_gateways_other_lines_are_json_too() -> None:
    sink = Lines()
    with json_logging([sink]):
        logging.getLogger("sluicegate.test").warning("upstream %s is slow", "e/x")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("sluicegate.test").exception("it failed")
    warning, error = (orjson.loads(line) for line in sink.lines)
    assert warning.keys() == {"ts", "level", "logger", "message"}
    assert warning["level"] == "WARNING" and warning["logger"] == "sluicegate.test"
    assert warning["message"] == "upstream e/x is slow"
    assert error["level"] == "ERROR" and "ValueError: boom" in error["exc_info"]


async def test_a_slow_log_sink_does_not_slow_requests(
    start_gateway: Any, refused_port: int
) -> None:
    gw = await start_gateway(config(refused_port))
    n, delay_s = 20, 0.2  # the sink needs 4 s for these lines
    sink = Lines(delay_s=delay_s)
    with json_logging([sink]):
        started = time.monotonic()
        for _ in range(n):
            resp = await gw.post("/v1/chat/completions", json=chat(), headers=auth())
            assert resp.status == 200
        elapsed = time.monotonic() - started
        assert len(sink.lines) < n, "the lines were written while the requests were served"
    assert elapsed < n * delay_s / 2, f"{n} requests took {elapsed:.2f}s behind a slow sink"
    assert len(sink.access()) == n, "leaving json_logging writes every queued line"


def test_a_sink_slower_than_the_requests_drops_lines_and_says_how_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json_log, "MAX_QUEUED", 2)
    entered, release = threading.Event(), threading.Event()

    class Blocked(Lines):
        def emit(self, record: logging.LogRecord) -> None:
            entered.set()
            release.wait(10)
            super().emit(record)

    sink = Blocked()
    log = logging.getLogger("sluicegate.test")
    with json_logging([sink]):
        log.warning("a")
        assert entered.wait(10)  # "a" is being written; the queue is empty
        for name in "bcde":  # b, c queued; d, e over the bound
            log.warning(name)
        release.set()
        deadline = time.monotonic() + 10
        while len(sink.lines) < 3 and time.monotonic() < deadline:  # b, c written: room again
            time.sleep(0.01)
        log.warning("f")
    messages = [orjson.loads(line)["message"] for line in sink.lines]
    assert messages == ["a", "b", "c", "log writer too slow: 2 log lines dropped", "f"]


async def test_text_keeps_todays_behaviour_no_access_line(
    start_gateway: Any, refused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await start_gateway(config(refused_port, log_format="text"))
    with caplog.at_level(logging.DEBUG, logger=ACCESS_LOGGER):
        resp = await gw.post("/v1/chat/completions", json=chat(), headers=auth())
        assert resp.status == 200
    assert [r for r in caplog.records if r.name == ACCESS_LOGGER] == []


async def test_log_format_is_restart_only(start_gateway: Any, refused_port: int) -> None:
    gw = await start_gateway(config(refused_port, log_format="text"))
    gateway = gw.app[GATEWAY]
    reloaded = await gateway.reload(validate_config({
        **config(refused_port), "storage": gateway.config.storage.model_dump()
    }))
    assert reloaded.not_applied == ["log_format"]
    sink = Lines()
    with json_logging([sink]):
        resp = await gw.post("/v1/chat/completions", json=chat(), headers=auth())
        assert resp.status == 200
    assert sink.access() == [], "the running gateway keeps the format it started with"


def test_the_access_line_of_a_verdict_names_it() -> None:
    from sluicegate.state.ledger.record import LedgerRecord

    record = LedgerRecord(
        id="1", request_id="r1", ts=0.0, tenant="acme", key_name="ci", alias="echo",
        target="e/x", protocol="openai", operation="chat", stream=False, tags=(),
        status=200, error_code=None, input_tokens=1, output_tokens=2, cached_tokens=0,
        cache_write_tokens=0, reasoning_tokens=0, estimated=False, cost_usd=0.0,
        latency_ms=1.23456, ttft_ms=None, contract="repaired", guardrails="pii=redacted",
    )
    line = orjson.loads(JsonFormatter().format(logging.LogRecord(
        ACCESS_LOGGER, logging.INFO, "", 0, AccessEntry(record), None, None
    )))
    assert line["ts"] == "1970-01-01T00:00:00.000Z"
    assert (line["contract"], line["guardrails"], line["latency_ms"]) == (
        "repaired", "pii=redacted", 1.235
    )


# -- sluicegate serve, as an operator runs it ---------------------------------------------


@contextmanager
def _config_file(tmp_path: Path, refused_port: int) -> Iterator[Path]:
    import yaml

    path = tmp_path / "gateway.yaml"
    body = config(refused_port, storage={"url": f"sqlite:///{tmp_path}/gw.db"})
    path.write_text(yaml.safe_dump(body))
    yield path


async def test_serve_writes_json_lines_on_stderr(tmp_path: Path, refused_port: int) -> None:
    src = Path(__file__).resolve().parents[2] / "src"
    with _config_file(tmp_path, refused_port) as path:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sluicegate.cli", "serve", "--config", str(path),
            "--port", "0", cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(src)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        ready = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert "ready on http://" in ready, ready
        url = ready.split("ready on ", 1)[1].split()[0]
        try:
            async with aiohttp.ClientSession() as http:
                for model in ("echo", "broken"):
                    async with http.post(
                        f"{url}/v1/chat/completions", json=chat(model=model), headers=auth()
                    ) as resp:
                        await resp.read()
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    lines = [orjson.loads(line) for line in err.decode().splitlines()]  # every line is JSON
    access = [line for line in lines if line["logger"] == ACCESS_LOGGER]
    assert [line["alias"] for line in access] == ["echo", "broken"]
    assert any(line["message"].startswith("draining") for line in lines if "message" in line)
    assert KEY not in err.decode() and PROMPT not in err.decode()
