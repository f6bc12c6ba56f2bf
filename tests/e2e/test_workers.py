"""``sluicegate serve --workers 2`` acts as one gateway.

Every test runs the real command as a subprocess and talks to each worker over
connections of its own: a worker is told apart by the per-process prefix of
the request ids it hands out, and a keep-alive connection stays with the
worker that accepted it. So each test knows it used both workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from fakes.openai_upstream import OpenAIUpstream

SLUICEGATE = [sys.executable, "-m", "sluicegate.cli"]
KEY = "sk-acme-workers-test"
ADMIN = {"Authorization": "Bearer sk-admin-workers-test"}
AUTH = {"Authorization": f"Bearer {KEY}"}
HELLO = [{"role": "user", "content": "hello"}]


def gateway_config(tmp_path: Path, upstream: str | None = None, **limits: Any) -> dict[str, Any]:
    """The echo provider (or the fake upstream) behind alias ``m``; tenant ``acme``."""
    provider: dict[str, Any] = {"name": "up", "type": "echo"}
    if upstream is not None:
        provider = {"name": "up", "type": "openai", "base_url": upstream, "api_key": "k"}
    return {
        "server": {"admin_key": ADMIN["Authorization"].removeprefix("Bearer ")},
        "storage": {"url": f"sqlite:///{tmp_path}/gw.db"},
        "providers": [provider],
        "models": [{"name": "m", "targets": [{"provider": "up", "model": "x"}],
                    "pricing": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}}],
        "tenants": [{"name": "acme", "limits": limits, "keys": [{"name": "k", "key": KEY}]}],
    }


class Group:
    """A running ``sluicegate serve --workers N`` and connections to each of its workers."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.output: list[str] = []
        self.workers: dict[str, list[aiohttp.ClientSession]] = {}
        self._reader = asyncio.ensure_future(self._read_output())

    async def _read_output(self) -> None:
        # Read everything, so that the gateway never blocks on a full pipe.
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.output.append(line.decode())

    async def connect(self, per_worker: int = 1, workers: int = 2) -> list[aiohttp.ClientSession]:
        """``per_worker`` keep-alive connections to each of ``workers`` workers; one
        from each worker first, in turn (``[a0, b0, a1, b1, ...]``)."""
        spare: list[aiohttp.ClientSession] = []
        for _ in range(50):
            batch = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
                     for _ in range(8)]
            found = await asyncio.gather(*(self.worker_of(s) for s in batch))
            for session, worker in zip(batch, found, strict=True):
                mine = self.workers.setdefault(worker, [])
                (mine if len(mine) < per_worker else spare).append(session)
            if len(self.workers) >= workers and all(
                len(s) >= per_worker for s in self.workers.values()
            ):
                break
        for session in spare:
            await session.close()
        assert len(self.workers) == workers, f"reached {len(self.workers)} of {workers} workers"
        return [s for turn in zip(*self.workers.values(), strict=False) for s in turn]

    async def worker_of(self, session: aiohttp.ClientSession) -> str:
        async with session.get(f"{self.url}/healthz") as resp:
            return worker_of(resp)

    async def close(self) -> None:
        for sessions in self.workers.values():
            for session in sessions:
                await session.close()
        if self.proc.returncode is None:
            for pid in self.worker_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()

    async def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        await asyncio.wait_for(self._reader, 10)
        return code

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [int(pid) for pid in children.split()]


def worker_of(resp: aiohttp.ClientResponse) -> str:
    """The worker that answered: request ids are ``req_`` and its 16-hex-digit prefix."""
    return resp.headers["x-request-id"][4:20]


Start = Callable[..., Awaitable[Group]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    groups: list[Group] = []

    async def start(config: dict[str, Any], workers: int = 2) -> Group:
        path = tmp_path / "gw.yaml"
        path.write_text(yaml.safe_dump(config))
        proc = await asyncio.create_subprocess_exec(
            *SLUICEGATE, "serve", "--config", str(path), "--port", "0",
            "--workers", str(workers),
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            while line := (await proc.stdout.readline()).decode():
                if "ready on http://" in line:
                    group = Group(proc, line.split("ready on ", 1)[1].split()[0])
                    groups.append(group)
                    return group
        raise AssertionError("the gateway did not print its ready line")

    yield start
    for group in groups:
        await group.close()


async def chat(session: aiohttp.ClientSession, url: str, model: str = "m",
               **extra: Any) -> tuple[int, str, Any]:
    """One chat completion: its status, the worker that answered, its body."""
    body = {"model": model, "messages": HELLO, "max_tokens": 10, **extra}
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=AUTH) as resp:
        return resp.status, worker_of(resp), await resp.json()


async def requests_counted(session: aiohttp.ClientSession, url: str) -> float:
    """``sluicegate_requests_total`` summed over its label sets, from one scrape."""
    async with session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("sluicegate_requests_total{"))


async def metric(session: aiohttp.ClientSession, url: str, name: str) -> float:
    async with session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    values = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(name + " ")]
    assert values, f"{name} is not in /metrics"
    return float(values[0])


async def test_a_rate_limit_holds_for_the_whole_group(start: Start, tmp_path: Path) -> None:
    group = await start(gateway_config(tmp_path, rpm=4))
    a, b = await group.connect()
    answers = await asyncio.gather(*(chat(s, group.url) for s in [a, b] * 6))
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) == 4, statuses
    assert statuses.count(429) == 8
    assert len({worker for _, worker, _ in answers}) == 2, "both workers answered"


async def test_concurrency_holds_for_the_whole_group(start: Start, tmp_path: Path) -> None:
    async with OpenAIUpstream() as up:
        release = up.hold_stream_after(1)  # every admitted stream stays open until released
        group = await start(gateway_config(tmp_path, up.url, max_concurrency=2))
        sessions = await group.connect(per_worker=3)

        async def stream(session: aiohttp.ClientSession) -> tuple[int, str, bytes]:
            body = {"model": "m", "messages": HELLO, "stream": True}
            async with session.post(f"{group.url}/v1/chat/completions", json=body,
                                    headers=AUTH) as resp:
                return resp.status, worker_of(resp), await resp.read()

        calls = [asyncio.ensure_future(stream(s)) for s in sessions]
        async with asyncio.timeout(30):
            while sum(c.done() for c in calls) < 4 or len(up.requests) < 2:
                await asyncio.sleep(0.01)
        refused = [c.result() for c in calls if c.done()]
        assert [status for status, _, _ in refused] == [429] * 4
        assert len({worker for _, worker, _ in refused}) == 2, "both workers refused"
        assert len(up.requests) == 2, "two slots for the whole group"
        release.set()
        answered = [body for status, _, body in await asyncio.gather(*calls) if status == 200]
        assert len(answered) == 2
        assert all(body.endswith(b"data: [DONE]\n\n") for body in answered)
        # The slots came back: one more request on each worker gets in.
        assert (await chat(sessions[0], group.url))[0] == 200
        assert (await chat(sessions[1], group.url))[0] == 200


async def test_a_budget_holds_for_the_whole_group(start: Start, tmp_path: Path) -> None:
    async with OpenAIUpstream() as up:
        # Each answer costs (9 in + 12 out) * $1000/M = $0.021, and reserves about
        # $0.02: $0.05 admits two (0.021 spent + 0.02 reserved fits, 0.042 + 0.02 does not).
        up.reply_with("ok", usage={"prompt_tokens": 9, "completion_tokens": 12,
                                   "total_tokens": 21})
        group = await start(gateway_config(tmp_path, up.url, budget_usd=0.05,
                                           budget_period="day"))
        a, b = await group.connect()
        answers = [await chat(s, group.url) for s in [a, b] * 3]
    assert [status for status, _, _ in answers] == [200, 200, 429, 429, 429, 429]
    assert answers[-1][2]["error"]["code"] == "budget_exceeded"
    assert len(up.requests) == 2


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_spent_budget_stays_spent_after_a_restart(
    start: Start, tmp_path: Path, workers: int
) -> None:
    # An echo answer costs about $0.007 and reserves about $0.015: $0.02 admits one.
    config = gateway_config(tmp_path, budget_usd=0.02, budget_period="total")
    group = await start(config, workers)
    sessions = await group.connect(workers=workers)
    answers = [await chat(s, group.url) for s in sessions * 2]
    assert [status for status, _, _ in answers] == [200] + [429] * (2 * workers - 1)
    assert await group.stop() == 0  # nothing but the ledger is left of it
    group = await start(config, workers)
    sessions = await group.connect(workers=workers)
    for session in sessions:
        status, _, body = await chat(session, group.url)
        assert (status, body["error"]["code"]) == (429, "budget_exceeded")


async def test_metrics_count_the_whole_group_and_never_go_down(
    start: Start, tmp_path: Path
) -> None:
    group = await start(gateway_config(tmp_path))
    a, b = await group.connect()
    for session in [a, b] * 10:
        assert (await chat(session, group.url))[0] == 200
    scrapes = [await requests_counted(s, group.url) for s in [a, b] * 3]
    assert scrapes == [20.0] * 6
    assert await metric(a, group.url, "sluicegate_workers") == 2


async def test_a_reload_reaches_every_worker(start: Start, tmp_path: Path) -> None:
    config = gateway_config(tmp_path)
    group = await start(config)
    a, b = await group.connect()
    assert [(await chat(s, group.url, "new"))[0] for s in (a, b)] == [404, 404]

    new = {"name": "new", "targets": [{"provider": "up", "model": "y"}]}
    (tmp_path / "gw.yaml").write_text(yaml.safe_dump({**config,
                                                      "models": [*config["models"], new]}))
    async with a.post(f"{group.url}/admin/reload", headers=ADMIN) as resp:
        answer = await resp.json()
    assert (resp.status, answer["models"]) == (200, 2)
    answers = [await chat(s, group.url, "new") for s in [a, b] * 3]
    assert [status for status, _, _ in answers] == [200] * 6
    assert len({worker for _, worker, _ in answers}) == 2
    assert answer["workers"] == 2

    # A bad file is refused where it arrives, and no worker changes.
    (tmp_path / "gw.yaml").write_text("models: [")
    async with b.post(f"{group.url}/admin/reload", headers=ADMIN) as resp:
        assert (resp.status, (await resp.json())["error"]["code"]) == (400, "invalid_config")
    assert [(await chat(s, group.url, "new"))[0] for s in (a, b)] == [200, 200]


async def test_sighup_reloads_every_worker(start: Start, tmp_path: Path) -> None:
    config = gateway_config(tmp_path)
    group = await start(config)
    a, b = await group.connect()
    new = {"name": "new", "targets": [{"provider": "up", "model": "y"}]}
    (tmp_path / "gw.yaml").write_text(yaml.safe_dump({**config,
                                                      "models": [*config["models"], new]}))
    group.proc.send_signal(signal.SIGHUP)
    async with asyncio.timeout(30):
        while not any("applied by 2 of 2 workers" in line for line in group.output):
            await asyncio.sleep(0.05)
    assert [(await chat(s, group.url, "new"))[0] for s in (a, b)] == [200, 200]


async def test_sigterm_drains_every_worker(start: Start, tmp_path: Path) -> None:
    async with OpenAIUpstream() as up:
        release = up.hold_stream_after(1)
        group = await start(gateway_config(tmp_path, up.url))
        a, b = await group.connect()

        async def stream(session: aiohttp.ClientSession) -> bytes:
            body = {"model": "m", "messages": HELLO, "stream": True}
            async with session.post(f"{group.url}/v1/chat/completions", json=body,
                                    headers=AUTH) as resp:
                assert resp.status == 200
                return await resp.read()

        streams = [asyncio.ensure_future(stream(s)) for s in (a, b)]
        async with asyncio.timeout(30):
            while len(up.requests) < 2:
                await asyncio.sleep(0.01)
        group.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):  # both workers stop accepting; the streams go on
            while sum("draining in-flight" in line for line in group.output) < 2:
                await asyncio.sleep(0.01)
        release.set()
        bodies = await asyncio.gather(*streams)
        assert all(body.endswith(b"data: [DONE]\n\n") for body in bodies)
        assert await asyncio.wait_for(group.proc.wait(), 60) == 0


async def test_a_worker_that_dies_is_replaced_and_the_group_keeps_its_state(
    start: Start, tmp_path: Path
) -> None:
    async with OpenAIUpstream() as up:
        up.hold_stream_after(1)
        group = await start(gateway_config(tmp_path, up.url, rpm=5, max_concurrency=1))
        a, b = await group.connect()
        assert (await chat(a, group.url))[0] == 200
        # A stream holds the only slot, on the worker about to die.
        body = {"model": "m", "messages": HELLO, "stream": True}
        held = await a.post(f"{group.url}/v1/chat/completions", json=body, headers=AUTH)
        assert held.status == 200
        assert (await chat(b, group.url))[0] == 429, "the slot is held"
        assert await requests_counted(b, group.url) == 2  # one answered by each worker
        assert held.connection is not None and held.connection.transport is not None
        client_port = held.connection.transport.get_extra_info("sockname")[1]
        victim = serving(group.worker_pids(), client_port)
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(aiohttp.ClientError):
            await held.read()
        held.release()

        async with asyncio.timeout(30):
            while await metric(b, group.url, "sluicegate_worker_restarts_total") < 1:
                await asyncio.sleep(0.05)
            while await metric(b, group.url, "sluicegate_workers") < 2:
                await asyncio.sleep(0.05)
        assert victim not in group.worker_pids() and len(group.worker_pids()) == 2
        assert await requests_counted(b, group.url) == 2, "what the dead worker counted stays"
        # Its slot came free at once; its two admissions still count (2 of 5 a minute).
        statuses = [(await chat(b, group.url))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert await requests_counted(b, group.url) == 6


async def freeze_the_other_worker(group: Group, session: aiohttp.ClientSession) -> int:
    """SIGSTOP the worker that does not serve ``session``: the one whose freezing
    leaves ``session`` answered."""
    for pid in group.worker_pids():
        os.kill(pid, signal.SIGSTOP)
        try:
            async with session.get(
                f"{group.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
            ) as resp:
                if resp.status == 200:
                    return pid
        except TimeoutError:
            pass
        os.kill(pid, signal.SIGCONT)
    raise AssertionError("no worker could be frozen while the other answered")


def serving(pids: list[int], client_port: int) -> int:
    """Which of ``pids`` holds the server side of the connection from ``client_port``
    (Linux: the socket's inode from /proc/net/tcp, then whose descriptors have it)."""
    inodes = {
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if int((fields := line.split())[2].rsplit(":", 1)[1], 16) == client_port
    }
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in {f"socket:[{inode}]" for inode in inodes}:
                    return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


async def test_with_redis_the_group_still_reports_and_reloads_as_one(
    start: Start, tmp_path: Path, redis_url: str
) -> None:
    config = gateway_config(tmp_path, rpm=4)
    config["storage"]["redis_url"] = redis_url
    group = await start(config)
    a, b = await group.connect()
    answers = await asyncio.gather(*(chat(s, group.url) for s in [a, b] * 6))
    assert [status for status, _, _ in answers].count(200) == 4, "Redis holds the limit"
    assert [await requests_counted(s, group.url) for s in (a, b)] == [12.0, 12.0]
    async with a.post(f"{group.url}/admin/reload", headers=ADMIN) as resp:
        assert (resp.status, (await resp.json())["workers"]) == (200, 2)



# -- state the workers share without Redis: caches, Idempotency-Key, alerts --------------


async def test_a_cache_invalidation_empties_every_workers_cache(
    start: Start, tmp_path: Path
) -> None:
    config = gateway_config(tmp_path)
    config["models"][0]["cache"] = {"mode": "always"}
    group = await start(config)
    a, b = await group.connect()

    async def cache_of(session: aiohttp.ClientSession) -> str:
        body = {"model": "m", "messages": HELLO, "max_tokens": 10}
        async with session.post(
            f"{group.url}/v1/chat/completions", json=body, headers=AUTH
        ) as resp:
            assert resp.status == 200
            return resp.headers["x-sluicegate-cache"]

    assert [await cache_of(s) for s in (a, b)] == ["miss", "miss"], "one copy per worker"
    assert [await cache_of(s) for s in (a, b)] == ["hit", "hit"]
    async with a.post(
        f"{group.url}/admin/cache/invalidate", json={"all": True}, headers=ADMIN
    ) as resp:
        assert resp.status == 200
        assert await resp.json() == {"invalidated": 2}, "both workers' entries are counted"
    assert [await cache_of(s) for s in (b, a)] == ["miss", "miss"]


async def test_an_invalidation_a_worker_cannot_take_is_a_500_that_says_so(
    start: Start, tmp_path: Path
) -> None:
    # Its entries may still be served: the operator must not be told it worked.
    config = gateway_config(tmp_path)
    config["models"][0]["cache"] = {"mode": "always"}
    group = await start(config)
    a, _ = await group.connect()
    frozen = await freeze_the_other_worker(group, a)  # alive, channel open, answering nothing
    try:
        async with a.post(
            f"{group.url}/admin/cache/invalidate", json={"all": True}, headers=ADMIN
        ) as resp:
            body = await resp.json()
    finally:
        os.kill(frozen, signal.SIGCONT)
    assert resp.status == 500
    assert body["error"]["code"] == "cache_invalidation_incomplete"
    assert "reached 1 of 2 workers" in body["error"]["message"]


async def test_a_retry_on_the_other_worker_is_replayed(start: Start, tmp_path: Path) -> None:
    async with OpenAIUpstream() as up:
        group = await start(gateway_config(tmp_path, up.url))
        a, b = await group.connect()
        key = {"Idempotency-Key": "order-1"}
        body = {"model": "m", "messages": HELLO, "max_tokens": 10}
        async with a.post(
            f"{group.url}/v1/chat/completions", json=body, headers={**AUTH, **key}
        ) as resp:
            assert resp.status == 200
            first = await resp.json()
        async with b.post(
            f"{group.url}/v1/chat/completions", json=body, headers={**AUTH, **key}
        ) as resp:
            assert resp.status == 200
            assert resp.headers.get("x-sluicegate-idempotent-replay") == "true"
            again = await resp.json()
        assert again["id"] == first["id"]
        assert len(up.requests) == 1, "charged once"
        # The same key for another request is refused on either worker.
        other = {**body, "max_tokens": 11}
        for session in (a, b):
            async with session.post(
                f"{group.url}/v1/chat/completions", json=other, headers={**AUTH, **key}
            ) as resp:
                answer = await resp.json()
                assert (resp.status, answer["error"]["code"]) == (409, "idempotency_key_reused")


async def test_a_concurrent_duplicate_on_the_other_worker_waits_for_the_first(
    start: Start, tmp_path: Path
) -> None:
    async with OpenAIUpstream() as up:
        release = up.hold_stream_after(1)
        group = await start(gateway_config(tmp_path, up.url))
        a, b = await group.connect()
        headers = {**AUTH, "Idempotency-Key": "order-2"}
        body = {"model": "m", "messages": HELLO, "stream": True}

        async def stream(session: aiohttp.ClientSession) -> tuple[int, bytes, str | None]:
            async with session.post(
                f"{group.url}/v1/chat/completions", json=body, headers=headers
            ) as resp:
                replay = resp.headers.get("x-sluicegate-idempotent-replay")
                return resp.status, await resp.read(), replay

        first = asyncio.ensure_future(stream(a))
        async with asyncio.timeout(30):
            while not up.requests:
                await asyncio.sleep(0.01)
        twin = asyncio.ensure_future(stream(b))
        done, _ = await asyncio.wait([twin], timeout=0.5)
        assert not done, "the duplicate waits while the first runs"
        release.set()
        (status, _, _), (twin_status, replayed, replay) = await asyncio.gather(first, twin)
        assert (status, twin_status, replay) == (200, 200, "true")
        assert replayed.endswith(b"data: [DONE]\n\n")
        assert len(up.requests) == 1


async def test_a_budget_alert_fires_once_for_the_group(start: Start, tmp_path: Path) -> None:
    # An echo answer costs about $0.007: the first one crosses 0.1% of $1.
    group = await start(
        gateway_config(tmp_path, budget_usd=1.0, budget_period="day", budget_alert_at=0.001)
    )
    a, b = await group.connect()
    for session in [a, b] * 2:
        assert (await chat(session, group.url))[0] == 200
    async with a.get(f"{group.url}/metrics") as resp:
        text = await resp.text()
    assert 'sluicegate_alerts_total{type="budget"} 1.0' in text
    assert sum("budget_alert:" in line for line in group.output) == 1


async def test_a_prompt_pushed_through_one_worker_is_served_by_every_worker(
    start: Start, tmp_path: Path
) -> None:
    """Each worker keeps its own registry, following the shared SQLite file."""
    from fakes.timing import eventually

    group = await start(gateway_config(tmp_path))
    a, b = await group.connect()
    base = f"{group.url}/admin/prompts/greet"
    for text in ("Version one.", "Version two."):
        document = {"name": "greet", "model": "m",
                    "messages": [{"role": "system", "content": text}]}
        async with a.post(f"{base}/versions", json=document, headers=ADMIN) as resp:
            assert resp.status == 201
    async with a.put(f"{base}/labels/production", json={"version": 1}, headers=ADMIN) as resp:
        assert resp.status == 200

    async def serves(session: aiohttp.ClientSession, version: str) -> bool:
        async with session.post(
            f"{group.url}/v1/chat/completions", headers=AUTH,
            json={"model": "prompt:greet", "messages": HELLO},
        ) as resp:
            return resp.headers.get("x-sluicegate-prompt") == f"greet@{version}"

    await eventually(lambda: serves(b, "1"), "the other worker serves version 1")
    async with b.put(f"{base}/labels/production", json={"version": 2}, headers=ADMIN) as resp:
        assert resp.status == 200
    await eventually(lambda: serves(a, "2"), "the first worker serves version 2")
