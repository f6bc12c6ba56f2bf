"""Opening the same stores over SQLite and PostgreSQL, for tests that run on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sluicegate.config.schema import StorageConfig
from sluicegate.state.storage import Storage, open_storage

BACKENDS = ["sqlite", "postgres"]


def storage_url(backend: str, tmp_path: Path, request: object) -> str:
    """The URL of a fresh store: a SQLite file, or the session's emptied PG database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("postgres_url"))  # type: ignore[attr-defined]


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Storage]:
    storage = await open_storage(StorageConfig(url=url))
    try:
        yield storage
    finally:
        await storage.close()
