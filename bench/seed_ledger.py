"""Seed a PostgreSQL ledger with millions of rows, then time usage queries over it.

    python bench/seed_ledger.py                 # 10M rows over 60 days, 20 tenants
    python bench/seed_ledger.py --rows 1000000 --keep

Creates its own database (``--database``, default ``sluicegate_seed``) on the
server of ``--server`` (default ``$SLUICEGATE_TEST_POSTGRES_URL`` or
postgresql://postgres@127.0.0.1:5432/test), migrates it, fills one partition a
day with ``INSERT ... SELECT FROM generate_series`` (the rows never leave the
server), builds the daily roll-ups, and then times the store's own usage query
(``PostgresLedgerStore.usage``) for one tenant over the last 30 days: roll-ups
for the whole days, raw rows for the partial first day. Drops the database at
the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from sluicegate.state.postgres.ledger_store import PostgresLedgerStore
from sluicegate.state.postgres.migrations import migrate
from sluicegate.state.postgres.partitions import day_of
from sluicegate.state.postgres.rollups import rebuild_sql

DAY_S = 86400
SERVER = os.environ.get("SLUICEGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

# One day's rows, entirely on the server: $1 day number, $2 day start, $3 rows, $4 tenants.
_FILL_DAY = """
INSERT INTO ledger (id, request_id, ts, tenant, key_name, alias, target, protocol, operation,
    stream, tags, status, error_code, input_tokens, output_tokens, cached_tokens,
    cache_write_tokens, reasoning_tokens, estimated, cost_usd, latency_ms, ttft_ms, attempts,
    cache, saved_usd)
SELECT 'seed-' || $1::int || '-' || g, 'req-' || $1::int || '-' || g, $2 + (g - 1) * (86400.0 / $3),
    'tenant-' || lpad((g % $4)::text, 2, '0'), 'key-' || (g % 3),
    (ARRAY['smart', 'cheap', 'embed'])[1 + g % 3], (ARRAY['oai/gpt-4o', 'ant/claude'])[1 + g % 2],
    'openai', 'chat', g % 4 = 0,
    CASE WHEN g % 5 = 0 THEN ARRAY['batch'] ELSE ARRAY[]::text[] END,
    CASE WHEN g % 50 = 0 THEN 502 ELSE 200 END, NULL,
    100 + g % 900, 50 + g % 400, 0, 0, 0, false,
    ((100 + g % 900) * 2.5 + (50 + g % 400) * 10.0) / 1e6, 120.0, 25.0, '[]'::jsonb,
    CASE WHEN g % 10 = 0 THEN 'hit' END, 0
FROM generate_series(1, $3) AS g
"""


def database_url(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path="/" + name))


async def seed(url: str, rows: int, days: int, tenants: int, now: float) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await conn.execute("TRUNCATE ledger, ledger_daily, ledger_daily_tags")
        per_day = rows // days
        first = day_of(now).toordinal() - days + 1
        started = time.monotonic()
        for i in range(days):
            day = first + i
            day_start = float((day - 719163) * DAY_S)  # 719163: date(1970, 1, 1).toordinal()
            await conn.execute("SELECT sluicegate_ledger_partition($1)", day_of(day_start))
            await conn.execute(_FILL_DAY, day, day_start, per_day, tenants)
            done = (i + 1) * per_day
            rate = done / (time.monotonic() - started)
            print(f"\r  {done:,} rows ({rate:,.0f}/s)", end="", flush=True)
        print()
        t = time.monotonic()
        await conn.execute(rebuild_sql())
        await conn.execute("ANALYZE")
        print(f"  roll-ups built and analysed in {time.monotonic() - t:.1f}s")
    finally:
        await conn.close()


async def time_queries(url: str, tenant: str, now: float, repeats: int) -> None:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    store = PostgresLedgerStore(pool)
    since = now - 30 * DAY_S  # not a midnight: its first day is read from raw rows
    try:
        raw_rows = await pool.fetchval(
            "SELECT count(*) FROM ledger WHERE tenant = $1 AND ts >= $2 AND ts < $3",
            tenant,
            since,
            float((int(since // DAY_S) + 1) * DAY_S),
        )
        total = await pool.fetchval("SELECT count(*) FROM ledger")
        rollup_rows = await pool.fetchval(
            "SELECT count(*) FROM ledger_daily WHERE tenant = $1", tenant
        )
        for group_by in (None, "day", "key", "tag"):
            times = []
            answer = {}
            for _ in range(repeats):
                t = time.perf_counter()
                answer = await store.usage(tenant=tenant, since=since, group_by=group_by)  # type: ignore[arg-type]
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"  30-day usage of {tenant}, group_by={group_by}: median "
                f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms over {repeats} runs "
                f"({answer['totals']['requests']:,} requests, ${answer['totals']['cost_usd']:,.2f})"
            )
        print(
            f"  ledger: {total:,} raw rows; this tenant: {rollup_rows:,} roll-up rows, "
            f"{raw_rows:,} raw rows in the partial first day"
        )
    finally:
        await pool.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=SERVER, help="any database on the server to use")
    parser.add_argument("--database", default="sluicegate_seed")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-seed", action="store_true", help="only time the queries")
    args = parser.parse_args()
    url = database_url(args.server, args.database)
    admin = await asyncpg.connect(args.server)
    now = time.time()
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", args.database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{args.database}"')
        if not args.no_seed:
            print(f"seeding {args.rows:,} rows over {args.days} days into {args.database}")
            started = time.monotonic()
            await seed(url, args.rows, args.days, args.tenants, now)
            print(f"  seeded in {time.monotonic() - started:.0f}s")
        await time_queries(url, "tenant-03", now, args.repeats)
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        await admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
