"""Opening PostgreSQL: one asyncpg pool per gateway process."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A connection of its own or one borrowed from a pool: both run queries alike.
    Conn: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

# A gateway waits this long for a connection (or for an answer) before it
# treats PostgreSQL as down; requests never wait on it, only shipping and admin.
CONNECT_TIMEOUT_S = 3.0
COMMAND_TIMEOUT_S = 30.0


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


async def connect_pool(url: str, *, size: int = 4) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=size,
        timeout=CONNECT_TIMEOUT_S,
        command_timeout=COMMAND_TIMEOUT_S,
        # Connections dropped by a restart or a network cut are replaced, not reused.
        max_inactive_connection_lifetime=60.0,
    )
    assert pool is not None
    return pool


async def connect(url: str) -> asyncpg.Connection:
    """One connection, for one-off work (migrations, the seeding script)."""
    return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
