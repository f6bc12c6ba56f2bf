"""Opening the configured storage: SQLite (embedded) or PostgreSQL (shared by replicas).

Either way the gateway gets the same stores, for the tenant directory, the
ledger, the prompt registry, the alert list and the behaviour figures (model
cards, drift, sessions, feedback), plus a readiness probe and periodic upkeep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from pathlib import Path

import asyncpg

from sluicegate.config.schema import StorageConfig
from sluicegate.observability.alert_list import AlertStore
from sluicegate.state.alert_store import SQLiteAlertStore
from sluicegate.state.behaviour_store import BehaviourStore, SQLiteBehaviourStore
from sluicegate.state.directory import DirectoryStore
from sluicegate.state.ledger.sqlite_store import SQLiteLedgerStore
from sluicegate.state.ledger.store import LedgerStore
from sluicegate.state.postgres.alert_store import PostgresAlertStore
from sluicegate.state.postgres.behaviour_store import PostgresBehaviourStore
from sluicegate.state.postgres.connection import connect, connect_pool, is_postgres_url
from sluicegate.state.postgres.directory_store import PostgresDirectoryStore
from sluicegate.state.postgres.ledger_store import PostgresLedgerStore
from sluicegate.state.postgres.migrations import SchemaError, check_schema, migrate
from sluicegate.state.postgres.partitions import drop_expired
from sluicegate.state.postgres.prompt_store import PostgresPromptStore
from sluicegate.state.prompt_store import PromptStore
from sluicegate.state.sqlite import open_database, sqlite_path
from sluicegate.state.sqlite_directory import SQLiteDirectoryStore
from sluicegate.state.sqlite_prompts import SQLitePromptStore

log = logging.getLogger("sluicegate.storage")

__all__ = ["SchemaError", "Storage", "migrate_storage", "open_storage"]


class Storage:
    """The stores of one gateway process, and what it takes to keep them up."""

    kind = "sqlite"

    def __init__(
        self,
        directory: DirectoryStore,
        ledger: LedgerStore,
        prompts: PromptStore,
        alerts: AlertStore,
        behaviour: BehaviourStore,
    ) -> None:
        self.directory = directory
        self.ledger = ledger
        self.prompts = prompts
        self.alerts = alerts
        self.behaviour = behaviour

    async def ping(self) -> None:
        """Raise unless the database answers."""

    async def upkeep(self) -> None:
        """Periodic housekeeping (retention)."""

    async def close(self) -> None:
        pass


class SQLiteStorage(Storage):
    def __init__(
        self, conn: sqlite3.Connection, *, bodies_retention_days: int | None = None
    ) -> None:
        super().__init__(
            SQLiteDirectoryStore(conn),
            SQLiteLedgerStore(conn),
            SQLitePromptStore(conn),
            SQLiteAlertStore(conn),
            SQLiteBehaviourStore(conn),
        )
        self.conn = conn
        self.bodies_retention_days = bodies_retention_days

    async def upkeep(self) -> None:
        if self.bodies_retention_days is not None:
            # On the loop, as every embedded-store write (see the shipper); hourly, so
            # each run deletes about an hour's bodies, found by the bodies_ts index.
            cutoff = time.time() - self.bodies_retention_days * 86400
            self.conn.execute("DELETE FROM bodies WHERE ts < ?", (cutoff,))

    async def ping(self) -> None:
        self.conn.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        self.conn.close()


class PostgresStorage(Storage):
    kind = "postgresql"

    def __init__(self, pool: asyncpg.Pool, config: StorageConfig) -> None:
        super().__init__(
            PostgresDirectoryStore(pool),
            PostgresLedgerStore(pool),
            PostgresPromptStore(pool),
            PostgresAlertStore(pool),
            PostgresBehaviourStore(pool),
        )
        self.pool = pool
        self.retention_days = config.retention_days
        self.bodies_retention_days = config.bodies_retention_days

    async def ping(self) -> None:
        await asyncio.wait_for(self.pool.fetchval("SELECT 1"), timeout=2.0)

    async def upkeep(self) -> None:
        if self.retention_days is not None:
            async with self.pool.acquire() as conn:
                await drop_expired(conn, self.retention_days, time.time())
        if self.bodies_retention_days is not None:
            cutoff = time.time() - self.bodies_retention_days * 86400
            await self.pool.execute("DELETE FROM bodies WHERE ts < $1", cutoff)
        assert isinstance(self.ledger, PostgresLedgerStore)
        await self.ledger.prepare(time.time())

    async def close(self) -> None:
        await self.pool.close()


async def open_storage(config: StorageConfig) -> Storage:
    """Open (SQLite: and migrate) the configured database.

    PostgreSQL is never migrated here: a schema that is not the latest raises
    :class:`SchemaError` naming ``sluicegate migrate``.
    """
    if not is_postgres_url(config.url):
        return SQLiteStorage(
            open_database(config.url), bodies_retention_days=config.bodies_retention_days
        )
    pool = await connect_pool(config.url, size=config.pool_size)
    try:
        async with pool.acquire() as conn:
            await check_schema(conn)
        storage = PostgresStorage(pool, config)
        await storage.upkeep()
    except BaseException:
        await pool.close()
        raise
    return storage


async def check_storage(config: StorageConfig) -> None:
    """What ``serve`` checks before it starts any worker (PostgreSQL only)."""
    if is_postgres_url(config.url):
        conn = await connect(config.url)
        try:
            await check_schema(conn)
        finally:
            await conn.close()


async def migrate_storage(url: str) -> tuple[int, int]:
    """Bring the database's schema up to date; returns (version before, version after)."""
    if not is_postgres_url(url):
        path = Path(sqlite_path(url))
        before = 0
        if path.exists():  # noqa: ASYNC240 - a CLI command, not the gateway's loop
            with contextlib.closing(sqlite3.connect(path)) as raw:
                before = int(raw.execute("PRAGMA user_version").fetchone()[0])
        db = open_database(url)  # opening a SQLite database migrates it
        try:
            return before, int(db.execute("PRAGMA user_version").fetchone()[0])
        finally:
            db.close()
    pg = await connect(url)
    try:
        return await migrate(pg)
    finally:
        await pg.close()
