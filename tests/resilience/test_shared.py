"""Breaker openings shared between replicas through a real Redis.

Every test runs two (or more) replicas in one process, each with its own Redis
client, ``RedisBreakerSync`` and ``SharedTargetHealth``, as two gateway
processes would. Breakers read a fake clock so a test decides when an open
period is over; the syncs read the real clock, as Redis expiry is real time.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from sluicegate.resilience.breaker import BreakerPolicy
from sluicegate.resilience.shared import RedisBreakerSync, SharedTargetHealth

LABEL = "openai/gpt-4o"
KEY = "sluicegate:breaker:" + LABEL
REFRESH_S = 0.02
# Only for a change that never arrives (a bug): a replica sees one within a
# refresh, and a busy machine must not fail a test by being slow.
NEVER_S = 30.0


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Replica:
    sync: RedisBreakerSync
    health: SharedTargetHealth
    clock: FakeClock  # the breakers' clock

    def fail_until_open(self, label: str = LABEL) -> None:
        state = self.health.state(label)
        while state.breaker.state != "open":
            assert state.breaker.allow()
            generation = state.started()
            state.finished(ok=False, latency_s=None, error="503", generation=generation)

    def probe(self, *, ok: bool, label: str = LABEL) -> None:
        state = self.health.state(label)
        assert state.breaker.allow(), "the breaker should be half-open with a probe slot"
        generation = state.started()
        state.finished(ok=ok, latency_s=0.1 if ok else None, error=None, generation=generation)


StartReplica = Callable[..., Awaitable[Replica]]


@pytest.fixture
async def replica(redis_url: str) -> AsyncIterator[StartReplica]:
    """Start a replica: ``await replica(url=None, policy=..., **sync_options)``.

    Its sync's ``run()`` loop is running; everything is closed after the test.
    """
    started: list[tuple[RedisBreakerSync, asyncio.Task[None], aioredis.Redis]] = []

    async def start(
        url: str | None = None,
        policy: BreakerPolicy = BreakerPolicy(consecutive_failures=3, open_s=5.0),  # noqa: B008
        decode_responses: bool = False,
        **options: float,
    ) -> Replica:
        client = aioredis.from_url(url or redis_url, decode_responses=decode_responses)
        options.setdefault("refresh_s", REFRESH_S)
        sync = RedisBreakerSync(client, **options)  # type: ignore[arg-type]
        clock = FakeClock()
        health = SharedTargetHealth(sync, policy, clock=clock)
        health.state(LABEL)  # a replica follows the targets of its config
        started.append((sync, asyncio.create_task(sync.run()), client))
        return Replica(sync, health, clock)

    yield start
    for sync, task, client in started:
        await sync.close()
        await asyncio.wait_for(task, 2)
        await client.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def eventually(check: Callable[[], bool]) -> None:
    """Wait until ``check()`` holds."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > NEVER_S:
            pytest.fail(f"not true within {NEVER_S}s")
        await asyncio.sleep(0.005)


async def next_refresh(*replicas: Replica) -> None:
    """Each replica's writes reach Redis, then each reads what is there: what the
    refresh loops do every REFRESH_S, done now."""
    for r in replicas:
        await r.sync.refresh()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Relay:
    """A TCP relay in front of Redis that can be cut and restored, to stage an outage
    without touching the Redis that other tests share."""

    def __init__(self, target: tuple[str, int], *, answer: bool = True) -> None:
        self._target = target
        self._answer = answer  # False: accept connections and never reply (a hung Redis)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = free_port()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if not self._answer:
            while await reader.read(65536):
                pass
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers.append(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def via(relay: Relay, redis_url: str) -> str:
    db = redis_url.rsplit("/", 1)[1]
    return f"redis://127.0.0.1:{relay.port}/{db}"


def redis_address(redis_url: str) -> tuple[str, int]:
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    return host, int(port or 6379)


@pytest.mark.parametrize("decode_responses", [False, True], ids=["bytes", "str"])
async def test_an_opening_on_one_replica_reaches_the_other(
    replica: StartReplica, redis: aioredis.Redis, decode_responses: bool
) -> None:
    a = await replica()
    b = await replica(decode_responses=decode_responses)
    assert b.health.available(LABEL)

    began = time.monotonic()
    a.fail_until_open()

    await next_refresh(a, b)
    assert not b.health.available(LABEL)
    assert b.sync.open_elsewhere(LABEL)
    assert a.health.available(LABEL), "a replica's own opening is left to its own breaker"
    assert b.health.state(LABEL).breaker.state == "closed", "B's breaker is untouched"
    assert await redis.get(KEY) == a.sync.replica_id
    left_ms, retry_in = await redis.pttl(KEY), b.sync.retry_in_s(LABEL)
    # The 5 s open period less the time since, however long that was (Redis
    # counts down in real time, in whole milliseconds).
    since_ms = (time.monotonic() - began) * 1000
    assert 5000 - since_ms - 2 <= left_ms <= 5000
    assert retry_in is not None and 5.0 - (since_ms + 2) / 1000 <= retry_in <= 5.0
    assert b.health.snapshot()[LABEL]["open_elsewhere"] is True
    assert LABEL in b.sync.snapshot()["open"]  # type: ignore[operator]


async def test_the_opening_ends_when_redis_expires_the_key(
    replica: StartReplica, redis: aioredis.Redis
) -> None:
    policy = BreakerPolicy(consecutive_failures=2, open_s=0.3)
    a = await replica(policy=policy)
    b = await replica(policy=policy)

    failing = time.monotonic()
    a.fail_until_open()
    await eventually(lambda: not b.health.available(LABEL))

    await eventually(lambda: b.health.available(LABEL))
    assert time.monotonic() - failing > 0.25  # 0.3 s, less one round trip at most
    assert await redis.exists(KEY) == 0


async def test_a_successful_probe_closes_it_for_every_replica(
    replica: StartReplica, redis: aioredis.Redis
) -> None:
    a = await replica()
    b = await replica()
    a.fail_until_open()
    await eventually(lambda: not b.health.available(LABEL))

    a.clock.advance(5.0)  # A's open period is over; the key would live 5 s more
    a.probe(ok=True)

    assert a.health.state(LABEL).breaker.state == "closed"
    await next_refresh(a, b)
    assert b.health.available(LABEL)
    assert await redis.exists(KEY) == 0


async def test_a_failed_probe_opens_it_everywhere_for_twice_as_long(
    replica: StartReplica, redis: aioredis.Redis
) -> None:
    a = await replica()
    b = await replica()
    a.fail_until_open()
    await eventually(lambda: not b.health.available(LABEL))

    a.clock.advance(5.0)
    probed = time.monotonic()
    a.probe(ok=False)

    await next_refresh(a, b)
    left_ms, retry_in = await redis.pttl(KEY), b.sync.retry_in_s(LABEL)
    since_ms = (time.monotonic() - probed) * 1000
    assert 10_000 - since_ms - 2 <= left_ms <= 10_000
    assert retry_in is not None and 10.0 - (since_ms + 2) / 1000 <= retry_in <= 10.0
    assert not b.health.available(LABEL)


async def test_other_replicas_hold_off_while_one_probes(
    replica: StartReplica, redis: aioredis.Redis
) -> None:
    policy = BreakerPolicy(consecutive_failures=2, open_s=0.3)
    a = await replica(policy=policy)
    b = await replica(policy=policy)
    a.fail_until_open()
    await eventually(lambda: not b.health.available(LABEL))
    a.clock.advance(0.3)
    await redis.delete(KEY)  # as if Redis had just expired the opening
    await eventually(lambda: b.health.available(LABEL))

    state = a.health.state(LABEL)
    assert state.breaker.allow()
    generation = state.started()  # the probe is on its way: B waits for its verdict

    await eventually(lambda: not b.health.available(LABEL))
    state.finished(ok=True, latency_s=0.1, generation=generation)
    await eventually(lambda: b.health.available(LABEL))


@pytest.mark.parametrize(
    ("writes", "key_left"),
    [
        pytest.param(["open", "closed"], False, id="open then closed"),
        pytest.param(["closed", "open"], True, id="closed then open"),
        pytest.param(["open", "closed", "open"], True, id="open closed open"),
    ],
)
async def test_writes_land_in_the_order_they_were_made(
    replica: StartReplica, redis: aioredis.Redis, writes: list[str], key_left: bool
) -> None:
    a = await replica()
    for write in writes:
        if write == "open":
            a.sync.publish_open(LABEL, 5.0)
        else:
            a.sync.publish_closed(LABEL)
    await a.sync.refresh()  # waits its turn behind the queued writes
    assert await redis.exists(KEY) == int(key_left)


async def test_a_reply_older_than_a_local_write_does_not_undo_it(
    replica: StartReplica, redis_url: str
) -> None:
    a = await replica()
    a.fail_until_open()
    await a.sync.refresh()  # A's opening has reached Redis
    client = aioredis.from_url(redis_url)
    b = RedisBreakerSync(client)  # no run() loop: this test decides when B refreshes
    try:
        b.watch([LABEL])
        await b.refresh()
        assert b.open_elsewhere(LABEL)

        reading = asyncio.create_task(b.refresh())
        await asyncio.sleep(0)  # the read is on its way and will still see A's key
        b.publish_closed(LABEL)  # say B's probe succeeded meanwhile
        await reading

        assert not b.open_elsewhere(LABEL), "the older reply must not reopen it"
    finally:
        await b.close()
        await client.aclose()


async def test_an_unreachable_redis_leaves_each_replica_to_its_own_breakers(
    replica: StartReplica, caplog: pytest.LogCaptureFixture, refused_port: int
) -> None:
    a = await replica(f"redis://127.0.0.1:{refused_port}/0", timeout_s=0.1)

    a.sync.publish_open("other/model", 5.0)
    a.sync.publish_closed("other/model")
    a.fail_until_open()  # publishing from a verdict does not raise either
    await eventually(lambda: a.sync.snapshot()["errors"] >= 3)  # type: ignore[operator]

    assert not a.sync.open_elsewhere(LABEL)
    assert a.sync.snapshot()["reachable"] is False
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1, "an outage is logged once, not every refresh"


async def test_an_outage_forgets_remote_openings_and_recovery_restores_them(
    replica: StartReplica, redis_url: str
) -> None:
    relay = Relay(redis_address(redis_url))
    await relay.start()
    a = await replica()
    b = await replica(via(relay, redis_url), timeout_s=0.1)
    a.fail_until_open()
    await eventually(lambda: not b.health.available(LABEL))

    await relay.cut()
    await eventually(lambda: b.health.available(LABEL))
    assert b.sync.snapshot()["reachable"] is False

    await relay.start()
    await eventually(lambda: not b.health.available(LABEL))
    assert b.sync.snapshot()["reachable"] is True
    await relay.cut()


async def test_publishing_never_waits_for_redis(replica: StartReplica, redis_url: str) -> None:
    hung = Relay(redis_address(redis_url), answer=False)  # accepts, never replies
    await hung.start()
    # Waiting for this Redis would take the whole 10 s timeout: so long that no
    # machine's slowness passes for it, however busy.
    a = await replica(via(hung, redis_url), timeout_s=10.0)
    state = a.health.state(LABEL)

    start = time.perf_counter()
    for _ in range(3):  # the third failure opens the breaker and publishes
        state.started()
        state.finished(ok=False, latency_s=None, error="503")
    a.sync.publish_closed(LABEL)
    a.sync.publish_open("other/model", 1.0)
    assert a.health.available(LABEL)
    took = time.perf_counter() - start

    assert state.breaker.state == "open"
    assert took < 5.0, f"the request path waited {took:.3f}s for Redis"
    await hung.cut()


async def test_a_reload_follows_the_kept_targets(replica: StartReplica) -> None:
    a = await replica()
    b = await replica()
    b.health.reconfigure(b.health.policy, keep=["anthropic/claude"])  # LABEL is dropped
    a.fail_until_open()
    a.fail_until_open("anthropic/claude")

    await eventually(lambda: not b.health.available("anthropic/claude"))
    await next_refresh(a, b)
    assert b.health.available(LABEL), "a target the replica no longer has is not followed"
    assert b.sync.snapshot()["watching"] == 1


def test_a_non_positive_refresh_is_refused() -> None:
    client = aioredis.Redis()
    with pytest.raises(ValueError, match="refresh_s"):
        RedisBreakerSync(client, refresh_s=0)
