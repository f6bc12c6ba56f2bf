"""The PostgreSQL schema: applied by `sluicegate migrate`, checked by every gateway at start."""

from __future__ import annotations

import datetime as dt
import re

import asyncpg
import pytest

from sluicegate.config.schema import StorageConfig
from sluicegate.state.directory import Directory, config_tenant_id, legacy_tenant_id
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


async def test_tenants_and_their_usage_get_ids_on_upgrade_from_version_2(
    empty_postgres_url: str,
) -> None:
    """Raw rows older than the tenant of their name, and roll-up days before the day it
    was created, were a deleted namesake's; they and the usage of names no tenant has now
    get an id of their own. The ids are those SQLite's migration gives."""
    created = 1_767_268_800.0  # 2026-01-01T12:00:00Z
    conn = await asyncpg.connect(empty_postgres_url)
    try:
        for migration in MIGRATIONS[:2]:
            await conn.execute(migration)
        await conn.execute("UPDATE sluicegate_schema SET version = 2")
        await conn.execute(
            "INSERT INTO tenants VALUES ('acme', NULL, '{}', 'config', $1),"
            " ('beta', NULL, '{}', 'admin', $1)",
            created,
        )
        await conn.execute("SELECT sluicegate_ledger_partition('2026-01-01')")
        for n, (ts, tenant) in enumerate(
            [(created + 60, "acme"), (created - 60, "acme"), (created, "beta"),
             (created, "gone"), (created, None)]
        ):
            await conn.execute(
                "INSERT INTO ledger (id, request_id, ts, tenant, protocol, operation, stream,"
                " tags, status, input_tokens, output_tokens, cached_tokens, cache_write_tokens,"
                " reasoning_tokens, estimated, cost_usd, latency_ms, attempts, saved_usd)"
                " VALUES ($1, $1, $2, $3, 'openai', 'chat', false, '{}', 200, 1, 1, 0, 0, 0,"
                " false, 0.5, 1.0, '[]', 0)",
                f"r{n}", ts, tenant,
            )
        for day, tenant in [("2025-12-31", "acme"), ("2026-01-01", "acme"),
                            ("2026-01-02", "gone")]:
            await conn.execute(
                "INSERT INTO ledger_daily VALUES ($1, $2, 'ci', 'smart', 'main/x',"
                " 3, 30, 15, 0, 0, 0, 0.5, 0, 0, 0, 0, 0)",
                tenant, dt.date.fromisoformat(day),
            )
        assert await migrate_storage(empty_postgres_url) == (2, LATEST)

        ids = dict(await conn.fetch("SELECT name, id FROM tenants"))
        assert ids["acme"] == config_tenant_id("acme")
        assert re.fullmatch(r"ten_[0-9a-f]{16}", ids["beta"])
        raw = await conn.fetch("SELECT id, tenant_id FROM ledger ORDER BY id")
        assert [tuple(r) for r in raw] == [
            ("r0", ids["acme"]),
            ("r1", legacy_tenant_id("acme")),
            ("r2", ids["beta"]),
            ("r3", legacy_tenant_id("gone")),
            ("r4", None),
        ]
        days = await conn.fetch("SELECT day::text, tenant_id FROM ledger_daily ORDER BY day")
        assert [tuple(r) for r in days] == [
            ("2025-12-31", legacy_tenant_id("acme")),
            ("2026-01-01", ids["acme"]),  # the day it was created is counted for it
            ("2026-01-02", legacy_tenant_id("gone")),
        ]
        with pytest.raises(asyncpg.RaiseError, match="never changes"):
            await conn.execute("UPDATE tenants SET id = 'ten_other' WHERE name = 'beta'")
    finally:
        await conn.close()

    storage = await open_storage(StorageConfig(url=empty_postgres_url))
    try:
        directory = await Directory.open(storage.directory)
        assert {t.name: t.id for t in directory.tenants()} == ids
        usage = await storage.ledger.usage(tenant="acme", group_by="tenant")
        assert [(g["key"], g["tenant_id"]) for g in usage["groups"]] == [("acme", ids["acme"])]
    finally:
        await storage.close()
