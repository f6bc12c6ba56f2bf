"""Model-card, drift, session and feedback queries in PostgreSQL (see
:mod:`sluicegate.state.behaviour_store`)."""

from __future__ import annotations

from typing import Any

import asyncpg

from sluicegate.state.behaviour_store import (
    MAX_SIGNAL_ROWS,
    SIGNAL_COLUMNS,
    Feedback,
    RequestRef,
    SignalRow,
    _feedback_of,
    _feedback_row,
    _feedback_summary,
    _lookups,
    _session,
)

_WINDOW = " AND ($2::float8 IS NULL OR ts >= $2) AND ($3::float8 IS NULL OR ts < $3)"


class PostgresBehaviourStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def signals(
        self,
        alias: str,
        since: float | None,
        until: float | None,
        *,
        first: int | None = None,
        last: int | None = None,
    ) -> list[SignalRow]:
        base = f"SELECT {SIGNAL_COLUMNS} FROM ledger WHERE alias = $1{_WINDOW}"
        if first is not None:
            sql = f"{base} ORDER BY ts LIMIT $4"
        else:
            sql = f"SELECT * FROM ({base} ORDER BY ts DESC LIMIT $4) AS recent ORDER BY ts"
        limit = first if first is not None else min(last or MAX_SIGNAL_ROWS, MAX_SIGNAL_ROWS)
        rows = await self._pool.fetch(sql, alias, since, until, limit)
        return [SignalRow(*r) for r in rows]

    async def feedback_scores(
        self, alias: str, since: float | None, until: float | None
    ) -> list[tuple[str, float, float]]:
        rows = await self._pool.fetch(
            "SELECT f.name, f.score, l.ts FROM feedback f JOIN ledger l ON l.id = f.ledger_id"
            " WHERE f.alias = $1 AND f.score IS NOT NULL"
            " AND ($2::float8 IS NULL OR l.ts >= $2) AND ($3::float8 IS NULL OR l.ts < $3)"
            " ORDER BY l.ts",
            alias,
            since,
            until,
        )
        return [(r[0], float(r[1]), float(r[2])) for r in rows]

    async def find_request(self, tenant_id: str, request_id: str) -> RequestRef | None:
        for sql, param in _lookups(request_id, "$"):
            row = await self._pool.fetchrow(sql, tenant_id, param)
            if row is not None:
                return RequestRef(*row)
        return None

    async def add_feedback(self, feedback: Feedback) -> Feedback | None:
        inserted = await self._pool.fetchval(
            "INSERT INTO feedback (tenant_id, id, ledger_id, request_id, alias, session, name,"
            " value, score, comment, correction, ts)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12)"
            " ON CONFLICT (tenant_id, id) DO NOTHING RETURNING 1",
            *_feedback_row(feedback),
        )
        return feedback if inserted is not None else None

    async def feedback(self, tenant_id: str, id: str) -> Feedback | None:
        row = await self._pool.fetchrow(
            "SELECT tenant_id, id, ledger_id, request_id, alias, session, name, value::text,"
            " comment, correction, ts FROM feedback WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            id,
        )
        return None if row is None else _feedback_of(tuple(row))

    async def sessions(
        self,
        tenant_id: str | None,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT session, min(tenant), tenant_id, count(*), sum(input_tokens),"
                " sum(output_tokens), sum(cost_usd), min(ts), max(ts),"
                " count(*) FILTER (WHERE status >= 400)"
                f" FROM ledger WHERE session IS NOT NULL AND ($1::text IS NULL OR tenant_id = $1)"
                f"{_WINDOW} GROUP BY tenant_id, session ORDER BY max(ts) DESC LIMIT $4",
                tenant_id,
                since,
                until,
                limit,
            )
            sessions = [_session(r) for r in rows]
            for item in sessions:
                marks = await conn.fetch(
                    "SELECT name, count(*), avg(score) FROM feedback WHERE tenant_id = $1"
                    " AND session = $2 GROUP BY name ORDER BY name",
                    item["tenant_id"],
                    item["session"],
                )
                item["feedback"] = _feedback_summary(marks)
        return sessions

    async def baseline_since(self, alias: str) -> float | None:
        value = await self._pool.fetchval(
            "SELECT since FROM drift_baselines WHERE alias = $1", alias
        )
        return None if value is None else float(value)

    async def set_baseline_since(self, alias: str, since: float) -> None:
        await self._pool.execute(
            "INSERT INTO drift_baselines (alias, since) VALUES ($1, $2)"
            " ON CONFLICT (alias) DO UPDATE SET since = excluded.since",
            alias,
            since,
        )

    async def served_model(self, target: str) -> str | None:
        value = await self._pool.fetchval(
            "SELECT model FROM served_models WHERE target = $1", target
        )
        return None if value is None else str(value)

    async def set_served_model(self, target: str, model: str, at: float) -> None:
        await self._pool.execute(
            "INSERT INTO served_models (target, model, at) VALUES ($1, $2, $3)"
            " ON CONFLICT (target) DO UPDATE SET model = excluded.model, at = excluded.at",
            target,
            model,
            at,
        )
