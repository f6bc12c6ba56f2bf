"""The ledger in PostgreSQL: batches shipped idempotently, usage read from roll-ups.

A batch is one statement: the rows go in through ``unnest`` of one array per
column (a single round trip whatever the batch size), ``ON CONFLICT DO
NOTHING`` skips ids already there, the roll-ups add exactly the rows that
went in, and the spool offset moves, all in one implicit transaction.

A usage query over ``[since, until)`` reads whole UTC days from the roll-ups
and only the partial days at its edges from raw rows (through the
``(tenant, ts)`` index of at most two partitions), so it costs the same at ten
million rows as at ten thousand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from sluicegate.state.ledger.record import LedgerRecord
from sluicegate.state.ledger.store import GroupBy, SpendFromUsage, add_sums, empty_sums, sums
from sluicegate.state.postgres.partitions import DAY_S, Partitions, day_of
from sluicegate.state.postgres.rollups import DAY, RAW_SUMS, ROLLUP_SUMS, rollup_ctes

_COLUMNS = (
    "id, request_id, ts, tenant, key_name, alias, target, protocol, operation, stream, tags,"
    " status, error_code, input_tokens, output_tokens, cached_tokens, cache_write_tokens,"
    " reasoning_tokens, estimated, cost_usd, latency_ms, ttft_ms, attempts, cache, saved_usd,"
    " unpriced, tenant_id, prompt, contract, contract_attempts, guardrails, finish_reason,"
    " refusal, served_model, response_id, session"
)
_TYPES = [
    "text",
    "text",
    "float8",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "bool",
    "text",
    "int4",
    "text",
    "int8",
    "int8",
    "int8",
    "int8",
    "int8",
    "bool",
    "float8",
    "float8",
    "float8",
    "text",
    "text",
    "float8",
    "bool",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "bool",
    "text",
    "text",
    "text",
]

_SHIP = f"""
WITH input AS (
    SELECT * FROM unnest({", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_TYPES))})
        AS t({_COLUMNS})
),
inserted AS (
    INSERT INTO ledger ({_COLUMNS})
    SELECT id, request_id, ts, tenant, key_name, alias, target, protocol, operation, stream,
           ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)), status, error_code,
           input_tokens, output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,
           estimated, cost_usd, latency_ms, ttft_ms, attempts::jsonb, cache, saved_usd,
           unpriced,
           -- Spooled by a version before tenant ids: the tenant that has the name now.
           coalesce(tenant_id, (SELECT t.id FROM tenants t WHERE t.name = input.tenant)),
           prompt, contract, contract_attempts::jsonb, guardrails, finish_reason, refusal,
           served_model, response_id, session
    FROM input
    ON CONFLICT DO NOTHING
    RETURNING *
),
{rollup_ctes("inserted")},
offsets AS (
    INSERT INTO spool_offsets (file, shipped) VALUES (${len(_TYPES) + 1}, ${len(_TYPES) + 2})
    ON CONFLICT (file) DO UPDATE SET shipped = excluded.shipped
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM offsets)
"""

# storage.bodies: a batch's bodies, in their own table, before its ledger rows (and the
# spool offset) go in: the offset never passes a body not stored, and a batch shipped
# again stores nothing twice.
_SHIP_BODIES = """
INSERT INTO bodies (id, tenant_id, ts, mode, request, answer)
SELECT id, coalesce(tenant_id, (SELECT t.id FROM tenants t WHERE t.name = input.tenant)),
       ts, mode, request::jsonb, answer::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[],
            $7::text[]) AS input(id, tenant_id, tenant, ts, mode, request, answer)
ON CONFLICT DO NOTHING
"""

# Raw-row expressions and roll-up columns for each grouping, as the group keys k (and
# k2). A tenant is its id, with its name alongside to be shown (see LedgerStore).
_RAW_GROUP = {
    "tenant": "tenant AS k, tenant_id AS k2",
    "key": "key_name AS k",
    "alias": "alias AS k",
    "target": "target AS k",
    "day": f"to_char({DAY}, 'YYYY-MM-DD') AS k",
    "tag": "tag AS k",
    "prompt": "prompt AS k",
}
_ROLLUP_GROUP = {
    **_RAW_GROUP,
    "day": "to_char(day, 'YYYY-MM-DD') AS k",
}
_NULLABLE = {"tenant", "key", "alias", "target", "prompt"}


class PostgresLedgerStore(SpendFromUsage):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._partitions = Partitions()
        self.inserted = 0  # rows this store added (a re-shipped row adds none)

    # -- shipping ----------------------------------------------------------------

    async def offset(self, file: str) -> int:
        value = await self._pool.fetchval("SELECT shipped FROM spool_offsets WHERE file = $1", file)
        return int(value or 0)

    async def ship(self, records: list[LedgerRecord], file: str, offset: int) -> None:
        columns = _columns(records)
        async with self._pool.acquire() as conn:
            days = {day_of(r.ts) for r in records}
            await self._partitions.ensure(conn, days)
            bodies = _bodies(records)
            if bodies is not None:
                await conn.execute(_SHIP_BODIES, *bodies)
            try:
                inserted = await conn.fetchval(_SHIP, *columns, file, offset)
            except asyncpg.CheckViolationError:
                # A partition this process thought existed was dropped (retention).
                self._partitions.forget(days)
                await self._partitions.ensure(conn, days)
                inserted = await conn.fetchval(_SHIP, *columns, file, offset)
        self.inserted += int(inserted)

    async def forget(self, file: str) -> None:
        await self._pool.execute("DELETE FROM spool_offsets WHERE file = $1", file)

    async def prepare(self, now: float) -> None:
        """Create today's and tomorrow's partitions ahead of the first batch."""
        async with self._pool.acquire() as conn:
            await self._partitions.ensure(conn, {day_of(now), day_of(now + DAY_S)})

    # -- queries -----------------------------------------------------------------

    async def usage(
        self,
        *,
        tenant: str | None = None,
        tenant_id: str | None = None,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
        group_by: GroupBy | None = None,
    ) -> dict[str, Any]:
        """Totals and optional groups over ``[since, until)``: roll-ups plus edge rows."""
        filters = _Filters(tenant, tenant_id, key)
        whole, edges = split_window(since, until)
        totals = empty_sums()
        groups: dict[Any, dict[str, Any]] = {}
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            parts: list[tuple[str, list[Any], bool]] = []
            for grouping in (None, group_by) if group_by is not None else (None,):
                grouped = grouping is not None
                if whole is not None:
                    parts.append((*_rollup_query(filters, whole, grouping), grouped))
                for lo, hi in edges:
                    parts.append((*_raw_query(filters, lo, hi, grouping), grouped))
            for sql, params, grouped in parts:
                for row in await conn.fetch(sql, *params):
                    if not grouped:
                        add_sums(totals, sums(tuple(row)))
                        continue
                    width = 2 if group_by == "tenant" else 1
                    k = tuple(None if v == "" and group_by in _NULLABLE else v for v in row[:width])
                    group = groups.setdefault(k, empty_sums())
                    add_sums(group, sums(tuple(row)[width:]))
        # NULLs first, as SQLite orders them.
        ordered = sorted(
            groups.items(), key=lambda kv: [(v is not None, v or "") for v in kv[0]]
        )
        if group_by is None:
            return {"totals": totals, "groups": []}
        if group_by == "tenant":
            named = [{"key": k[0], "tenant_id": k[1], **v} for k, v in ordered]
            return {"totals": totals, "groups": named}
        return {"totals": totals, "groups": [{"key": k[0], **v} for k, v in ordered]}

    async def records(
        self, *, limit: int = 100, tenant: str | None = None, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        params: list[Any] = []
        where = _Filters(tenant, tenant_id, None).conditions(params)
        sql = f"SELECT {_COLUMNS} FROM ledger"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY ts DESC LIMIT ${len(params) + 1}"
        params.append(limit)
        out = []
        for row in await self._pool.fetch(sql, *params):
            item = dict(row)
            item["tags"] = list(item["tags"])
            item["attempts"] = orjson.loads(item["attempts"])
            item["contract_attempts"] = orjson.loads(item["contract_attempts"] or "[]")
            out.append(item)
        return out

    async def close(self) -> None:
        """The pool belongs to whoever opened it (the directory shares it)."""


def split_window(
    since: float | None, until: float | None
) -> tuple[tuple[dt.date | None, dt.date | None] | None, list[tuple[float | None, float | None]]]:
    """``[since, until)`` as whole UTC days ``[first, last)`` (None: open) and partial edges.

    An open end is a whole day: nothing is recorded in the future, so "until
    now" and "until the end of today" are the same rows.
    """
    first = None if since is None else _ceil_day(since)
    last = None if until is None else _floor_day(until)
    if first is not None and last is not None and first >= last:
        # No whole day inside: the window is one partial stretch of raw rows.
        assert since is not None and until is not None
        return None, [(since, until)] if since < until else []
    edges: list[tuple[float | None, float | None]] = []
    if since is not None and first is not None and _ts(first) > since:
        edges.append((since, _ts(first)))
    if until is not None and last is not None and _ts(last) < until:
        edges.append((_ts(last), until))
    return (first, last), edges


def _ceil_day(ts: float) -> dt.date:
    day = day_of(ts)
    return day if _ts(day) == ts else day + dt.timedelta(days=1)


def _floor_day(ts: float) -> dt.date:
    return day_of(ts)


def _ts(day: dt.date) -> float:
    return float((day - dt.date(1970, 1, 1)).days * DAY_S)


@dataclass(frozen=True, slots=True)
class _Filters:
    """Whose records a query reads: ``tenant`` is the one that has the name now (see
    LedgerStore)."""

    tenant: str | None
    tenant_id: str | None
    key: str | None

    def conditions(self, params: list[Any]) -> list[str]:
        """WHERE conditions, adding their values to ``params``; the same columns in raw
        rows and in roll-ups."""
        where = []
        for condition, value in (
            ("tenant_id = (SELECT id FROM tenants WHERE name = ${})", self.tenant),
            ("tenant_id = ${}", self.tenant_id),
            ("key_name = ${}", self.key),
        ):
            if value is not None:
                params.append(value)
                where.append(condition.format(len(params)))
        return where


def _rollup_query(
    filters: _Filters,
    days: tuple[dt.date | None, dt.date | None],
    group_by: GroupBy | None,
) -> tuple[str, list[Any]]:
    params: list[Any] = []
    where = filters.conditions(params)
    first, last = days
    if first is not None:
        params.append(first)
        where.append(f"day >= ${len(params)}")
    if last is not None:
        params.append(last)
        where.append(f"day < ${len(params)}")
    table = "ledger_daily_tags" if group_by == "tag" else "ledger_daily"
    cond = " AND ".join(where) or "true"
    if group_by is None:
        return f"SELECT {ROLLUP_SUMS} FROM {table} WHERE {cond}", params
    keys = _group_keys(group_by)
    return (
        f"SELECT {keys}, {ROLLUP_SUMS} FROM (SELECT {_ROLLUP_GROUP[group_by]}, * FROM {table}"
        f" WHERE {cond}) s GROUP BY {keys}",
        params,
    )


def _group_keys(group_by: GroupBy) -> str:
    """The columns a grouped query's rows start with."""
    return "k, k2" if group_by == "tenant" else "k"


def _raw_query(
    filters: _Filters,
    lo: float | None,
    hi: float | None,
    group_by: GroupBy | None,
) -> tuple[str, list[Any]]:
    params: list[Any] = []
    where = filters.conditions(params)
    if lo is not None:
        params.append(lo)
        where.append(f"ts >= ${len(params)}")
    if hi is not None:
        params.append(hi)
        where.append(f"ts < ${len(params)}")
    cond = " AND ".join(where) or "true"
    if group_by is None:
        return f"SELECT {RAW_SUMS} FROM ledger WHERE {cond}", params
    source = "ledger, unnest(ledger.tags) AS tag" if group_by == "tag" else "ledger"
    keys = _group_keys(group_by)
    return (
        f"SELECT {keys}, {RAW_SUMS} FROM (SELECT {_RAW_GROUP[group_by]}, ledger.* FROM {source} "
        f"WHERE {cond}) s GROUP BY {keys}",
        params,
    )


def _bodies(records: list[LedgerRecord]) -> list[list[Any]] | None:
    """The batch's bodies as one list per column of :data:`_SHIP_BODIES`; None: none."""
    kept = [r for r in records if r.bodies is not None]
    if not kept:
        return None
    dumps = orjson.dumps
    columns: list[list[Any]] = [[], [], [], [], [], [], []]
    for r in kept:
        b = r.bodies
        assert b is not None
        for column, value in zip(
            columns,
            (r.id, r.tenant_id, r.tenant, r.ts, b.mode, dumps(b.request).decode(),
             None if b.answer is None else dumps(b.answer).decode()),
            strict=True,
        ):
            column.append(value)
    return columns


def _columns(records: list[LedgerRecord]) -> list[list[Any]]:
    """The batch as one list per column, for ``unnest``."""
    dumps = orjson.dumps
    return [
        [r.id for r in records],
        [r.request_id for r in records],
        [r.ts for r in records],
        [r.tenant for r in records],
        [r.key_name for r in records],
        [r.alias for r in records],
        [r.target for r in records],
        [r.protocol for r in records],
        [r.operation for r in records],
        [r.stream for r in records],
        [dumps(r.tags).decode() for r in records],
        [r.status for r in records],
        [r.error_code for r in records],
        [r.input_tokens for r in records],
        [r.output_tokens for r in records],
        [r.cached_tokens for r in records],
        [r.cache_write_tokens for r in records],
        [r.reasoning_tokens for r in records],
        [r.estimated for r in records],
        [r.cost_usd for r in records],
        [r.latency_ms for r in records],
        [r.ttft_ms for r in records],
        [dumps(r.attempts).decode() for r in records],
        [r.cache for r in records],
        [r.saved_usd for r in records],
        [r.unpriced for r in records],
        [r.tenant_id for r in records],
        [r.prompt for r in records],
        [r.contract for r in records],
        [dumps(r.contract_attempts).decode() if r.contract_attempts else None for r in records],
        [r.guardrails for r in records],
        [r.finish_reason for r in records],
        [r.refusal for r in records],
        [r.served_model for r in records],
        [r.response_id for r in records],
        [r.session for r in records],
    ]
