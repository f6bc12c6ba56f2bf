"""Fixtures for the admin API tests: a gateway on the echo provider, served in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sluicegate.config.schema import Config
from sluicegate.gateway import ConfigSource, Gateway
from sluicegate.server.app import create_app

Client = TestClient[web.Request, web.Application]
StartGateway = Callable[..., Awaitable[Client]]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gw.db"


@pytest.fixture
def config_dict(db_path: Path) -> dict[str, Any]:
    """Two aliases on the echo provider, the admin key, and one tenant from the config.

    The test module relies on the admin key ``admin-secret`` and acme's key
    ``sk-acme-config-key``.
    """
    return {
        "server": {"admin_key": "admin-secret"},
        "storage": {"url": f"sqlite:///{db_path}"},
        "providers": [{"name": "echo", "type": "echo"}],
        "models": [
            {
                "name": "echo",
                "targets": [{"provider": "echo", "model": "echo-1"}],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            },
            {
                "name": "other",
                "targets": [{"provider": "echo", "model": "echo-2", "weight": 2}],
                "fallbacks": ["echo"],
            },
        ],
        "tenants": [
            {
                "name": "acme",
                "limits": {"rpm": 600},
                "keys": [{"name": "ci", "key": "sk-acme-config-key"}],
            }
        ],
    }


@pytest.fixture
async def start_admin_gateway(config_dict: dict[str, Any]) -> AsyncIterator[StartGateway]:
    """``await start(data=None, reload_source=None)`` serves a gateway; all are closed at the end.

    ``data`` defaults to :func:`config_dict`; ``reload_source`` is what
    ``POST /admin/reload`` re-reads (none: the gateway has no config file).
    """
    clients: list[Client] = []

    async def start(
        data: dict[str, Any] | None = None, reload_source: ConfigSource | None = None
    ) -> Client:
        config = Config.model_validate(config_dict if data is None else data)
        client = TestClient(TestServer(create_app(Gateway(config, reload_source=reload_source))))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def client(start_admin_gateway: StartGateway) -> Client:
    """A running gateway with the default test config and no config file behind it."""
    return await start_admin_gateway()
