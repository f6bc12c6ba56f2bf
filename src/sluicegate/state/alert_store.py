"""The alert list in SQLite (see :mod:`sluicegate.observability.alert_list`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from sluicegate.observability.alert_list import MAX_LISTED, StoredAlert


class SQLiteAlertStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def add(self, alert: StoredAlert) -> bool:
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO alerts (key, type, at, data) VALUES (?, ?, ?, ?)",
            (alert.key, alert.type, alert.at, orjson.dumps(alert.data).decode()),
        )
        return cursor.rowcount == 1

    async def list(
        self, *, type: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        where: list[str] = ["1=1"]
        params: list[object] = []
        if type is not None:
            where.append("type = ?")
            params.append(type)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        rows = self._conn.execute(
            f"SELECT data FROM alerts WHERE {' AND '.join(where)} ORDER BY at DESC, seq DESC"
            " LIMIT ?",
            [*params, min(limit, MAX_LISTED)],
        )
        return [orjson.loads(data) for (data,) in rows]
