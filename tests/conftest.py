"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sluicegate.config.loader import validate_config
from sluicegate.gateway import ConfigSource, Gateway
from sluicegate.server.app import create_app

GatewayFactory = Callable[..., Awaitable[TestClient]]


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
        config["storage"] = storage
        gateway = Gateway(validate_config(config), reload_source=reload_source)
        client = TestClient(TestServer(create_app(gateway)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


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
