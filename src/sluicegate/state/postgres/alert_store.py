"""The alert list in PostgreSQL (see :mod:`sluicegate.state.alert_store`)."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from sluicegate.observability.alert_list import MAX_LISTED, StoredAlert


class PostgresAlertStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, alert: StoredAlert) -> bool:
        inserted = await self._pool.fetchval(
            "INSERT INTO alerts (key, type, at, data) VALUES ($1, $2, $3, $4::jsonb)"
            " ON CONFLICT (key) DO NOTHING RETURNING 1",
            alert.key,
            alert.type,
            alert.at,
            orjson.dumps(alert.data).decode(),
        )
        return inserted is not None

    async def list(
        self, *, type: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT data::text FROM alerts WHERE ($1::text IS NULL OR type = $1)"
            " AND ($2::float8 IS NULL OR at >= $2) ORDER BY at DESC, seq DESC LIMIT $3",
            type,
            since,
            min(limit, MAX_LISTED),
        )
        return [orjson.loads(row[0]) for row in rows]
