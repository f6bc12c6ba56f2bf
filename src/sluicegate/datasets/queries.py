"""The export's queries: one SQL text per query for both backends (only the parameter
marks differ: ``?`` for SQLite, ``$n`` for PostgreSQL), each read a page at a time
by keyset, so that an export of millions of rows never holds more than a page.

Bodies are joined to their ledger row only to keep answered requests (status
200); feedback by ``(tenant_id, ledger_id)``, so no row of another tenant is
ever read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg


class Database(Protocol):
    """``fetch(sql, params)``: SQL written with ``{}`` where each parameter goes."""

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...


class SQLiteDatabase:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        # On the loop, as the embedded store's every query (see the ledger shipper): a
        # page is a few milliseconds, and the client's write between pages yields.
        return self._conn.execute(sql.format(*["?"] * len(params)), params).fetchall()


class PostgresDatabase:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        marks = [f"${i + 1}" for i in range(len(params))]
        return [tuple(r) for r in await self._pool.fetch(sql.format(*marks), *params)]


def database_of(storage: object) -> Database:
    """The export's view of the gateway's storage (SQLiteStorage or PostgresStorage)."""
    pool = getattr(storage, "pool", None)
    if pool is not None:
        return PostgresDatabase(pool)
    conn = getattr(storage, "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        raise TypeError(f"no database behind {type(storage).__name__}")
    return SQLiteDatabase(conn)


# Answered requests of one tenant: a body with an answer, its ledger row a 200.
_ANSWERED = (
    " FROM bodies b JOIN ledger l ON l.id = b.id"
    " WHERE b.tenant_id = {} AND l.status = 200 AND b.answer IS NOT NULL"
)


def answered_page(
    tenant_id: str,
    *,
    since: float | None,
    feedback: str | None,
    min_value: float | None,
    after: tuple[float, str] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """(ts, id, request, answer) of answered requests, with a feedback ``feedback``
    (scored at least ``min_value``) if given, ordered by (ts, id) after ``after``."""
    sql = "SELECT b.ts, b.id, b.request, b.answer" + _ANSWERED
    params: list[Any] = [tenant_id]
    if since is not None:
        sql += " AND b.ts >= {}"
        params.append(since)
    if feedback is not None:
        sql += (
            " AND EXISTS (SELECT 1 FROM feedback f WHERE f.tenant_id = b.tenant_id"
            " AND f.ledger_id = b.id AND f.name = {}"
        )
        params.append(feedback)
        if min_value is not None:
            sql += " AND f.score >= {}"
            params.append(min_value)
        sql += ")"
    return _keyset(sql, params, ("b.ts", "b.id"), after, limit)


def rated_page(
    tenant_id: str,
    *,
    since: float | None,
    feedback: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """(id, feedback name, mean score, request) of answered requests with a numeric
    feedback (of the name ``feedback`` if given), ordered by (id, name). ``b.request``
    is not grouped by: both backends take it as determined by ``b.id``, the key."""
    sql = (
        "SELECT b.id, f.name, AVG(f.score), b.request"
        " FROM bodies b JOIN ledger l ON l.id = b.id"
        " JOIN feedback f ON f.tenant_id = b.tenant_id AND f.ledger_id = b.id"
        " WHERE b.tenant_id = {} AND l.status = 200 AND b.answer IS NOT NULL"
        " AND f.score IS NOT NULL"
    )
    params: list[Any] = [tenant_id]
    if since is not None:
        sql += " AND b.ts >= {}"
        params.append(since)
    if feedback is not None:
        sql += " AND f.name = {}"
        params.append(feedback)
    return _keyset(sql, params, ("b.id", "f.name"), after, limit, group=True)


def bodies_of(tenant_id: str, ids: Sequence[str]) -> tuple[str, list[Any]]:
    """(id, request, answer) of the tenant's requests ``ids``."""
    marks = ", ".join(["{}"] * len(ids))
    sql = "SELECT b.id, b.request, b.answer FROM bodies b WHERE b.tenant_id = {}"
    return sql + f" AND b.id IN ({marks})", [tenant_id, *ids]


def corrections_page(
    tenant_id: str,
    *,
    since: float | None,
    feedback: str | None,
    after: tuple[float, str] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """(feedback ts, feedback id, request, answer, correction) of answered requests
    with a feedback that carries a correction, ordered by the feedback's (ts, id)."""
    sql = (
        "SELECT f.ts, f.id, b.request, b.answer, f.correction"
        " FROM feedback f JOIN bodies b ON b.id = f.ledger_id AND b.tenant_id = f.tenant_id"
        " JOIN ledger l ON l.id = b.id"
        " WHERE f.tenant_id = {} AND l.status = 200 AND b.answer IS NOT NULL"
        " AND f.correction IS NOT NULL AND f.correction <> ''"
    )
    params: list[Any] = [tenant_id]
    if since is not None:
        sql += " AND b.ts >= {}"
        params.append(since)
    if feedback is not None:
        sql += " AND f.name = {}"
        params.append(feedback)
    return _keyset(sql, params, ("f.ts", "f.id"), after, limit)


def _keyset(
    sql: str,
    params: list[Any],
    key: tuple[str, str],
    after: tuple[Any, Any] | None,
    limit: int,
    *,
    group: bool = False,
) -> tuple[str, list[Any]]:
    """The page of ``sql`` after ``after`` in the order of the two ``key`` columns
    (grouped by them when ``group``), at most ``limit`` rows: keyset paging, so a
    page costs the same however deep into the export it is."""
    first, second = key
    if after is not None:
        sql += f" AND ({first} > {{}} OR ({first} = {{}} AND {second} > {{}}))"
        params = [*params, after[0], after[0], after[1]]
    if group:
        sql += f" GROUP BY {first}, {second}"
    return sql + f" ORDER BY {first}, {second} LIMIT {{}}", [*params, limit]
