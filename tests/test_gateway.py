"""The gateway's lifecycle: what start() opens, close() closes, in reverse order."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.config.loader import validate_config
from sluicegate.gateway import Gateway
from sluicegate.state.postgres.migrations import SchemaError

ECHO = {
    "providers": [{"name": "e", "type": "echo"}],
    "models": [{"name": "echo", "targets": [{"provider": "e", "model": "x"}]}],
}


async def test_a_start_that_fails_half_way_closes_what_it_had_opened(
    empty_postgres_url: str,
) -> None:
    gateway = Gateway(validate_config({**ECHO, "storage": {"url": empty_postgres_url}}))
    with pytest.raises(SchemaError):  # not migrated: the gateway refuses to start
        await gateway.start()
    assert gateway.http.streams.session.closed, "the HTTP client opened before storage was closed"


async def test_close_stops_every_background_task(tmp_path: Path) -> None:
    import asyncio

    gateway = Gateway(validate_config({**ECHO, "storage": {"url": f"sqlite:///{tmp_path}/g.db"}}))
    before = asyncio.all_tasks()
    await gateway.start()
    assert asyncio.all_tasks() - before, "the gateway runs background tasks"
    await gateway.close()
    assert asyncio.all_tasks() - before == set()
