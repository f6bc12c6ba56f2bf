"""The ledger's SQLite store: shipped records, and the queries billing runs over them.

Its methods are coroutines only to share :class:`LedgerStore` with
PostgreSQL: they never suspend (see the shipper's docstring for why the
embedded store runs on the event loop).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
import orjson

from sluicegate.state.ledger.record import LedgerRecord
from sluicegate.state.ledger.store import GroupBy, SpendFromUsage, sums

GROUP_COLUMNS: dict[str, str] = {
    "tenant": "tenant",  # and tenant_id: a tenant is its id (see LedgerStore)
    "key": "key_name",
    "alias": "alias",
    "target": "target",
    "day": "date(ts, 'unixepoch')",
    "tag": "tag.value",
    "prompt": "prompt",
}


_COLUMNS = (
    "id, request_id, ts, tenant, key_name, alias, target, protocol, operation, stream, tags,"
    " status, error_code, input_tokens, output_tokens, cached_tokens, cache_write_tokens,"
    " reasoning_tokens, estimated, cost_usd, latency_ms, ttft_ms, attempts, cache, saved_usd,"
    " unpriced, tenant_id, prompt, contract, contract_attempts, guardrails, finish_reason,"
    " refusal, served_model, response_id, session"
)
_WIDTH = _COLUMNS.count(",") + 1


def _insert_sql(rows: int) -> str:
    """An idempotent INSERT of ``rows`` ledger rows."""
    values = ",".join(["(" + ",".join("?" * _WIDTH) + ")"] * rows)
    return f"INSERT OR IGNORE INTO ledger ({_COLUMNS}) VALUES {values}"


_INSERT = _insert_sql(1)
# ``tenant=NAME``: the rows of the tenant that has the name now (see LedgerStore).
_NAMED_NOW = "tenant_id = (SELECT id FROM tenants WHERE name = ?)"
# Rows per multi-row INSERT: one statement step for many rows costs a third less
# per row than executemany's step per row. Bounded by SQLite's variable limit.
ROWS_PER_INSERT = 100

_SUMS = (
    "COUNT(*), COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0),"
    " COALESCE(SUM(cached_tokens),0), COALESCE(SUM(cache_write_tokens),0),"
    " COALESCE(SUM(reasoning_tokens),0), COALESCE(SUM(cost_usd),0),"
    " COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END),0),"
    " COALESCE(SUM(estimated),0),"
    " COALESCE(SUM(CASE WHEN cache = 'hit' THEN 1 ELSE 0 END),0), COALESCE(SUM(saved_usd),0),"
    " COALESCE(SUM(unpriced),0)"
)


class SQLiteLedgerStore(SpendFromUsage):
    """Ledger rows in SQLite."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._chunk = max(
            1, min(ROWS_PER_INSERT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _WIDTH)
        )
        self._insert_chunk = _insert_sql(self._chunk)

    async def offset(self, file: str) -> int:
        row = self._conn.execute(
            "SELECT shipped FROM spool_offsets WHERE file = ?", (file,)
        ).fetchone()
        return int(row[0]) if row else 0

    async def ship(self, records: list[LedgerRecord], file: str, offset: int) -> None:
        """Insert a batch and record how far into ``file`` it reaches, atomically."""
        records = self._with_tenant_ids(records)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._insert(records)
            self._insert_bodies(records)
            self._conn.execute(
                "INSERT INTO spool_offsets (file, shipped) VALUES (?, ?) "
                "ON CONFLICT (file) DO UPDATE SET shipped = excluded.shipped",
                (file, offset),
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _insert(self, records: list[LedgerRecord]) -> None:
        # Whole chunks as multi-row statements; the rest row by row, so that only
        # two statements are ever prepared (and both stay in the statement cache).
        chunk, whole = self._chunk, len(records) - len(records) % self._chunk
        for start in range(0, whole, chunk):
            self._conn.execute(
                self._insert_chunk,
                [value for record in records[start : start + chunk] for value in _row(record)],
            )
        self._conn.executemany(_INSERT, [_row(r) for r in records[whole:]])

    def _insert_bodies(self, records: list[LedgerRecord]) -> None:
        """storage.bodies: each record's bodies in their own table (never in its ledger row)."""
        rows = [
            (r.id, r.tenant_id, r.ts, b.mode, orjson.dumps(b.request).decode(),
             None if b.answer is None else orjson.dumps(b.answer).decode())
            for r in records
            if (b := r.bodies) is not None
        ]
        if rows:
            self._conn.executemany(
                "INSERT OR IGNORE INTO bodies (id, tenant_id, ts, mode, request, answer)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _with_tenant_ids(self, records: list[LedgerRecord]) -> list[LedgerRecord]:
        """Records spooled by a version before tenant ids get the id of the tenant that
        has their name now (None if none has): they were written just before the upgrade."""
        names = {r.tenant for r in records if r.tenant_id is None and r.tenant is not None}
        if not names:
            return records
        marks = ",".join("?" * len(names))
        ids = dict(
            self._conn.execute(f"SELECT name, id FROM tenants WHERE name IN ({marks})", list(names))
        )
        return [
            msgspec.structs.replace(r, tenant_id=ids.get(r.tenant))
            if r.tenant_id is None and r.tenant is not None
            else r
            for r in records
        ]

    async def forget(self, file: str) -> None:
        self._conn.execute("DELETE FROM spool_offsets WHERE file = ?", (file,))

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
        """Totals and optional groups over ``[since, until)``."""
        where: list[str] = ["1=1"]
        params: list[Any] = []
        for condition, value in (
            (_NAMED_NOW, tenant),
            ("tenant_id = ?", tenant_id),
            ("key_name = ?", key),
            ("ts >= ?", since),
            ("ts < ?", until),
        ):
            if value is not None:
                where.append(condition)
                params.append(value)
        cond = " AND ".join(where)
        row = self._conn.execute(f"SELECT {_SUMS} FROM ledger WHERE {cond}", params).fetchone()
        result: dict[str, Any] = {"totals": sums(row)}
        if group_by == "tenant":
            rows = self._conn.execute(
                f"SELECT tenant, tenant_id, {_SUMS} FROM ledger WHERE {cond}"
                " GROUP BY tenant, tenant_id ORDER BY tenant, tenant_id",
                params,
            ).fetchall()
            result["groups"] = [{"key": r[0], "tenant_id": r[1], **sums(r[2:])} for r in rows]
        elif group_by is not None:
            column = GROUP_COLUMNS[group_by]
            source = "ledger, json_each(ledger.tags) AS tag" if group_by == "tag" else "ledger"
            rows = self._conn.execute(
                f"SELECT {column} AS k, {_SUMS} FROM {source} WHERE {cond} GROUP BY k ORDER BY k",
                params,
            ).fetchall()
            result["groups"] = [{"key": r[0], **sums(r[1:])} for r in rows]
        else:
            result["groups"] = []
        return result

    async def records(
        self, *, limit: int = 100, tenant: str | None = None, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        where: list[str] = []
        params: list[Any] = []
        for condition, value in ((_NAMED_NOW, tenant), ("tenant_id = ?", tenant_id)):
            if value is not None:
                where.append(condition)
                params.append(value)
        sql = "SELECT * FROM ledger"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC LIMIT ?"
        params.append(limit)
        cursor = self._conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        out = []
        for row in cursor:
            item = dict(zip(names, row, strict=True))
            item["tags"] = orjson.loads(item["tags"])
            item["attempts"] = orjson.loads(item["attempts"])
            item["contract_attempts"] = orjson.loads(item["contract_attempts"] or "[]")
            item["stream"] = bool(item["stream"])
            item["estimated"] = bool(item["estimated"])
            item["unpriced"] = bool(item["unpriced"])
            item["refusal"] = bool(item["refusal"])
            out.append(item)
        return out

    async def close(self) -> None:
        """The connection belongs to whoever opened it (the directory shares it)."""


def _row(r: LedgerRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.request_id,
        r.ts,
        r.tenant,
        r.key_name,
        r.alias,
        r.target,
        r.protocol,
        r.operation,
        int(r.stream),
        orjson.dumps(r.tags).decode(),
        r.status,
        r.error_code,
        r.input_tokens,
        r.output_tokens,
        r.cached_tokens,
        r.cache_write_tokens,
        r.reasoning_tokens,
        int(r.estimated),
        r.cost_usd,
        r.latency_ms,
        r.ttft_ms,
        orjson.dumps(r.attempts).decode(),
        r.cache,
        r.saved_usd,
        int(r.unpriced),
        r.tenant_id,
        r.prompt,
        r.contract,
        orjson.dumps(r.contract_attempts).decode() if r.contract_attempts else None,
        r.guardrails,
        r.finish_reason,
        int(r.refusal),
        r.served_model,
        r.response_id,
        r.session,
    )
