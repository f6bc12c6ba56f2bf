"""The usage ledger: every request, its tokens and cost, recorded so a crash loses nothing.

    Settle --record()--> Spool   one append-only write, before the response ends
                 \\
                  +----> Shipper batches on the event loop, idempotent by record id
                            v
                         LedgerStore (SQLite): usage and billing queries
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sluicegate.state.ledger.record import LedgerRecord
from sluicegate.state.ledger.shipper import Shipper
from sluicegate.state.ledger.spool import Spool
from sluicegate.state.ledger.sqlite_store import GROUP_COLUMNS, GroupBy, SQLiteLedgerStore

__all__ = ["GROUP_COLUMNS", "GroupBy", "Ledger", "LedgerRecord", "SQLiteLedgerStore"]


class Ledger:
    def __init__(self, spool: Spool, store: SQLiteLedgerStore, *, interval_s: float = 0.2) -> None:
        self.spool = spool
        self.store = store
        self.shipper = Shipper(spool, store, interval_s=interval_s)
        self._task: asyncio.Task[None] | None = None

    def record(self, record: LedgerRecord) -> None:
        """Durable against a process crash when this returns; shipped within ``interval_s``."""
        self.spool.append(record)
        self.shipper.add(record)

    def start(self) -> None:
        """Recover what a crashed predecessor left, then ship in the background."""
        self.shipper.recover()
        self._task = asyncio.get_running_loop().create_task(self.shipper.run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.shipper.ship_pending()
        self.spool.close()

    def flush(self) -> int:
        return self.shipper.flush()

    def usage(self, **query: Any) -> dict[str, Any]:
        """Usage totals and groups, including records spooled a moment ago."""
        self.flush()
        return self.store.usage(**query)

    def records(self, **query: Any) -> list[dict[str, Any]]:
        self.flush()
        return self.store.records(**query)
