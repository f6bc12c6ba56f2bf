"""The PostgreSQL schema: applied by `sluicegate migrate`, checked by every gateway at start."""

from __future__ import annotations

import asyncpg
import pytest

from sluicegate.config.schema import StorageConfig
from sluicegate.state.postgres.migrations import LATEST, MIGRATIONS, SchemaError
from sluicegate.state.storage import migrate_storage, open_storage


async def test_a_gateway_refuses_an_unmigrated_database_and_names_the_fix(
    empty_postgres_url: str,
) -> None:
    with pytest.raises(SchemaError) as refused:
        await open_storage(StorageConfig(url=empty_postgres_url))
    assert "not migrated" in str(refused.value)
    assert "sluicegate migrate" in str(refused.value)


async def test_migrate_brings_it_up_to_date_once(empty_postgres_url: str) -> None:
    assert await migrate_storage(empty_postgres_url) == (0, LATEST)
    assert await migrate_storage(empty_postgres_url) == (LATEST, LATEST), "a second run: nothing"
    storage = await open_storage(StorageConfig(url=empty_postgres_url))
    await storage.close()


async def test_an_older_schema_is_refused_too(empty_postgres_url: str) -> None:
    await migrate_storage(empty_postgres_url)
    conn = await asyncpg.connect(empty_postgres_url)
    await conn.execute("UPDATE sluicegate_schema SET version = version - 1")
    await conn.close()
    with pytest.raises(SchemaError) as refused:
        await open_storage(StorageConfig(url=empty_postgres_url))
    assert f"needs version {LATEST}" in str(refused.value)
    assert "sluicegate migrate" in str(refused.value)


async def test_a_database_at_version_1_keeps_its_rows_and_gains_the_unpriced_counts(
    empty_postgres_url: str,
) -> None:
    conn = await asyncpg.connect(empty_postgres_url)
    try:
        await conn.execute(MIGRATIONS[0])
        await conn.execute("UPDATE sluicegate_schema SET version = 1")
        await conn.execute(
            "INSERT INTO ledger_daily VALUES ('acme', '2026-11-01', 'ci', 'smart', 'main/x',"
            " 3, 30, 15, 0, 0, 0, 0.5, 0, 0, 0, 0)"
        )
        assert await migrate_storage(empty_postgres_url) == (1, LATEST)
        row = await conn.fetchrow("SELECT requests, unpriced_requests FROM ledger_daily")
        assert tuple(row) == (3, 0)
        unpriced = await conn.fetchval(
            "SELECT column_default FROM information_schema.columns"
            " WHERE table_name = 'ledger' AND column_name = 'unpriced'"
        )
        assert unpriced == "false"
    finally:
        await conn.close()
