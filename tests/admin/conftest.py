"""Fixtures for the admin API tests: a gateway on the echo provider, served in-process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from sluicegate.gateway import ConfigSource, Gateway

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
def start_admin_gateway(start_gateway: StartGateway, config_dict: dict[str, Any]) -> StartGateway:
    """``await start(data=None, reload_source=None)`` serves a gateway; all are closed at the end.

    ``data`` defaults to :func:`config_dict`; ``reload_source`` is what
    ``POST /admin/reload`` re-reads (none: the gateway has no config file).
    The gateways are ``start_gateway``'s (tests/conftest.py).
    """

    async def start(
        data: dict[str, Any] | None = None, reload_source: ConfigSource | None = None
    ) -> Client:
        return await start_gateway(
            config_dict if data is None else data, reload_source=reload_source
        )

    return start


@pytest.fixture
async def client(start_admin_gateway: StartGateway) -> Client:
    """A running gateway with the default test config and no config file behind it."""
    return await start_admin_gateway()


@pytest.fixture
async def client_with_file(
    start_admin_gateway: StartGateway, config_dict: dict[str, Any], tmp_path: Path
) -> tuple[Client, Path]:
    """A running gateway and its config file (the default test config as YAML).

    ``POST /admin/reload`` re-reads the file: rewrite it, then reload.
    """
    path = tmp_path / "sluicegate.yaml"
    path.write_text(yaml.safe_dump(config_dict))
    return await start_admin_gateway(reload_source=Gateway.source_for(path)), path
