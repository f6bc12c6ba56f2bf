"""Daily roll-ups of the ledger, so usage over months reads days, not millions of rows.

They are kept in the statement that inserts a batch: only the rows that
statement actually inserted (``ON CONFLICT DO NOTHING RETURNING``) are added,
so a batch shipped twice adds nothing the second time, and the roll-ups can
never disagree with the rows they summarise. Keys are sorted before the upsert
so that replicas shipping at once lock roll-up rows in the same order (no
deadlocks). Rows are kept per tenant id (a deleted tenant's days and its
namesake's are different rows), with the name alongside to be shown.
"""

from __future__ import annotations

from sluicegate.state.ledger.store import FLOAT_FIELDS, SUM_FIELDS

# Sums over ledger rows (raw) and over roll-up rows, in SUM_FIELDS order.
RAW_SUMS = (
    "count(*)::int8, coalesce(sum(input_tokens),0)::int8, coalesce(sum(output_tokens),0)::int8,"
    " coalesce(sum(cached_tokens),0)::int8, coalesce(sum(cache_write_tokens),0)::int8,"
    " coalesce(sum(reasoning_tokens),0)::int8, coalesce(sum(cost_usd),0)::float8,"
    " (count(*) FILTER (WHERE status >= 400))::int8, (count(*) FILTER (WHERE estimated))::int8,"
    " (count(*) FILTER (WHERE cache = 'hit'))::int8, coalesce(sum(saved_usd),0)::float8,"
    " (count(*) FILTER (WHERE unpriced))::int8"
)
ROLLUP_SUMS = ", ".join(
    f"coalesce(sum({c}),0)::{'float8' if c in FLOAT_FIELDS else 'int8'}" for c in SUM_FIELDS
)
SUM_COLUMNS = ", ".join(SUM_FIELDS)
_ADD = ", ".join(f"{c} = r.{c} + excluded.{c}" for c in SUM_FIELDS)
# The UTC day of a unix-seconds ts.
DAY = "(to_timestamp(ts) AT TIME ZONE 'UTC')::date"


def rollup_ctes(inserted: str) -> str:
    """Data-modifying CTEs adding the rows of CTE ``inserted`` to both roll-up tables."""
    return f"""
    daily AS (
        INSERT INTO ledger_daily AS r
            (tenant_id, tenant, day, key_name, alias, target, prompt, {SUM_COLUMNS})
        SELECT coalesce(tenant_id, ''), coalesce(tenant, ''), {DAY}, coalesce(key_name, ''),
               coalesce(alias, ''), coalesce(target, ''), coalesce(prompt, ''), {RAW_SUMS}
        FROM {inserted} GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (tenant_id, tenant, day, key_name, alias, target, prompt)
        DO UPDATE SET {_ADD}
        RETURNING 1
    ),
    daily_tags AS (
        INSERT INTO ledger_daily_tags AS r (tenant_id, tenant, day, key_name, tag, {SUM_COLUMNS})
        SELECT coalesce(tenant_id, ''), coalesce(tenant, ''), {DAY}, coalesce(key_name, ''),
               tag, {RAW_SUMS}
        FROM {inserted}, unnest({inserted}.tags) AS tag
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_id, tenant, day, key_name, tag) DO UPDATE SET {_ADD}
        RETURNING 1
    )"""


def rebuild_sql() -> str:
    """Recompute every roll-up from the raw rows (for bulk loads that bypass shipping)."""
    return f"""
    TRUNCATE ledger_daily, ledger_daily_tags;
    INSERT INTO ledger_daily
        (tenant_id, tenant, day, key_name, alias, target, prompt, {SUM_COLUMNS})
        SELECT coalesce(tenant_id, ''), coalesce(tenant, ''), {DAY}, coalesce(key_name, ''),
               coalesce(alias, ''), coalesce(target, ''), coalesce(prompt, ''), {RAW_SUMS}
        FROM ledger GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO ledger_daily_tags (tenant_id, tenant, day, key_name, tag, {SUM_COLUMNS})
        SELECT coalesce(tenant_id, ''), coalesce(tenant, ''), {DAY}, coalesce(key_name, ''),
               tag, {RAW_SUMS}
        FROM ledger, unnest(ledger.tags) AS tag GROUP BY 1, 2, 3, 4, 5;
    """
