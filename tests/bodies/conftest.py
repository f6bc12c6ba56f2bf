from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bodies.helpers import config, empty_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
async def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test once on SQLite and once on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/bodies.db"
    url: str = request.getfixturevalue("postgres_url")
    await empty_postgres(url)
    return url


@pytest.fixture
def start(
    start_gateway: Any, storage_url: str, tmp_path: Path
) -> Callable[..., Awaitable[Any]]:
    """``await start(bodies, **storage)``: a gateway on this test's backend (its spool in
    the test's own directory: PostgreSQL's default is the working directory)."""

    async def go(bodies: str, **storage: Any) -> Any:
        storage.setdefault("spool_dir", str(tmp_path / "spool"))
        return await start_gateway(config(storage_url, bodies, **storage))

    return go
