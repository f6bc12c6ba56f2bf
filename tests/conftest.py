"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from fakes.timing import VirtualTimeLoop
from sluicegate.app import create_app
from sluicegate.config.loader import validate_config
from sluicegate.gateway import ConfigSource, Gateway
from sluicegate.server.protocol import GatewayRunner

GatewayFactory = Callable[..., Awaitable[TestClient]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "virtual_time: run on fakes.timing.VirtualTimeLoop, whose clock jumps to the next"
        " timer (for tests that wait only on the loop's timers, never on real I/O)",
    )


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """A test marked ``virtual_time`` runs on virtual time; every other on a plain loop."""
    if item.get_closest_marker("virtual_time") is not None:
        return {"virtual_time": VirtualTimeLoop}
    return {"asyncio": asyncio.new_event_loop}


class GatewayTestServer(TestServer):
    """aiohttp's TestServer on the runner ``sluicegate serve`` uses (the gateway's
    connection class, its client deadlines), so in-process tests meet the same
    server as clients do."""

    async def _make_runner(self, **kwargs: Any) -> GatewayRunner:
        return GatewayRunner(self.app, **kwargs)


@pytest.fixture
async def start_gateway(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Start in-process gateways from config dicts; each gets its own SQLite file.

    ``await start(config, reload_source=None)``: ``reload_source`` is what
    ``POST /admin/reload`` re-reads (none: the gateway has no config file).
    The returned TestClient's ``server`` has ``.make_url("/")`` for SDK base URLs,
    and ``client.app[GATEWAY]`` is the running Gateway.
    """
    clients: list[TestClient] = []

    async def start(
        config: dict[str, Any], *, reload_source: ConfigSource | None = None
    ) -> TestClient:
        config = dict(config)
        storage = dict(config.get("storage", {}))
        storage.setdefault("url", f"sqlite:///{tmp_path}/gw{len(clients)}.db")
        # Not the working directory's spool (PostgreSQL's default): one a test left
        # there would be shipped into the next test's database.
        if not storage["url"].startswith("sqlite"):
            storage.setdefault("spool_dir", str(tmp_path / "spool"))
        config["storage"] = storage
        gateway = Gateway(validate_config(config), reload_source=reload_source)
        client = TestClient(GatewayTestServer(create_app(gateway)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A local port that refuses connections for the whole test: an unreachable upstream.

    The port stays bound (never listened on) until the test ends. A port bound and let go
    at once can be taken meanwhile by any process on the machine (another test run's
    fake upstream, say), and the "unreachable" upstream then answers.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def _service_missing(what: str) -> None:
    """Skip, or fail where CI says every service must be there."""
    message = f"{what} is not reachable"
    if os.environ.get("SLUICEGATE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (SLUICEGATE_REQUIRE_SERVICES=1)")
    pytest.skip(f"{message}; start it to run this test")


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A real Redis (SLUICEGATE_TEST_REDIS_URL, default redis://127.0.0.1:6379/15),
    flushed before and after the test. Skips when Redis is down, unless CI requires it."""
    import redis.asyncio as aioredis

    url = os.environ.get("SLUICEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = aioredis.from_url(url)
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError):
        await client.aclose()
        _service_missing(f"Redis at {url}")
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


# -- PostgreSQL -----------------------------------------------------------------

POSTGRES_URL = os.environ.get(
    "SLUICEGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_database_url(name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path="/" + name))


def _postgres(url: str, sql: str) -> None:
    """Run ``sql`` on ``url`` from synchronous fixture code, whether or not a loop runs here."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def _new_postgres_database(prefix: str) -> str:
    """Create a uniquely named, empty database; returns its name. Skips when PG is down."""
    import secrets

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        _postgres(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    except (OSError, TimeoutError) as exc:
        _service_missing(f"PostgreSQL at {POSTGRES_URL} ({exc})")
    return name


def _drop_postgres_database(name: str) -> None:
    _postgres(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A migrated database of this test session's own (dropped at the end): its URL."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sluicegate.state.storage import migrate_storage

    name = _new_postgres_database("sluicegate_test")
    url = _postgres_database_url(name)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate_storage(url)).result()
    yield url
    _drop_postgres_database(name)


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied for this test (schema kept, migrated).

    Needs a real server (SLUICEGATE_TEST_POSTGRES_URL, default
    postgresql://postgres@127.0.0.1:5432/test, used only to create and drop
    databases of our own). Skips when PostgreSQL is down, unless CI requires it.
    """
    _postgres(
        postgres_database,
        "TRUNCATE tenants, api_keys, ledger, ledger_daily, ledger_daily_tags, spool_offsets,"
        " prompts, prompt_versions, prompt_labels, prompt_label_moves, feedback, bodies, alerts,"
        " served_models, drift_baselines",
    )
    return postgres_database


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A fresh database that sluicegate has never migrated, dropped after the test."""
    name = _new_postgres_database("sluicegate_empty")
    yield _postgres_database_url(name)
    _drop_postgres_database(name)
