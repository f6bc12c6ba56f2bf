"""The ledger's daily partitions: created before a batch needs them, dropped after retention.

Raw rows are kept ``storage.retention_days`` days (whole UTC days, a
partition at a time: dropping a table is instant and leaves no bloat, where a
DELETE of millions of rows is neither); the daily roll-ups stay.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluicegate.state.postgres.connection import Conn

log = logging.getLogger("sluicegate.ledger")

DAY_S = 86400
_PREFIX = "ledger_p"


def day_of(ts: float) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(ts // DAY_S))


class Partitions:
    """Remembers which days this process has made sure of, so a batch usually costs nothing."""

    def __init__(self) -> None:
        self._known: set[dt.date] = set()

    async def ensure(self, conn: Conn, days: set[dt.date]) -> None:
        missing = sorted(days - self._known)
        for day in missing:
            await conn.execute("SELECT sluicegate_ledger_partition($1)", day)
            self._known.add(day)

    def forget(self, days: set[dt.date]) -> None:
        self._known -= days


async def existing(conn: Conn) -> list[dt.date]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'ledger' "
        "AND p.relnamespace = c.relnamespace ORDER BY 1"
    )
    days = []
    for row in rows:
        name: str = row["relname"]
        if name.startswith(_PREFIX):
            days.append(dt.datetime.strptime(name[len(_PREFIX) :], "%Y%m%d").date())
    return days


async def drop_expired(conn: Conn, retention_days: int, now: float) -> list[dt.date]:
    """Drop the partitions of days wholly older than ``retention_days``; returns their days."""
    # A day goes once its last row is older than the retention: it ends by the cutoff's day.
    cutoff = day_of(now - retention_days * DAY_S)
    dropped = []
    async with conn.transaction():
        # One replica at a time; the others find nothing left to do.
        if not await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtext('sluicegate_retention'))"
        ):
            return []
        for day in await existing(conn):
            if day < cutoff:
                await conn.execute(f'DROP TABLE IF EXISTS "{_PREFIX}{day:%Y%m%d}"')
                dropped.append(day)
    if dropped:
        log.info("ledger retention: dropped the raw rows of %d days", len(dropped))
    return dropped
