"""The usage ledger: every request, its tokens and cost, recorded so a crash loses nothing.

    Settle --record()--> Spool   one append-only write, before the response ends
                 \\
                  +----> Shipper batches on the event loop, idempotent by record id
                            v
                         LedgerStore (SQLite or PostgreSQL): usage and billing queries

The queries are coroutines (``ausage``, ``arecords``, ``spend``). With the
embedded SQLite store, whose coroutines never suspend, the plain ``usage``,
``records`` and ``flush`` also work from synchronous code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from sluicegate.state.ledger.record import LedgerRecord
from sluicegate.state.ledger.shipper import Shipper
from sluicegate.state.ledger.spool import Spool
from sluicegate.state.ledger.sqlite_store import GROUP_COLUMNS, SQLiteLedgerStore
from sluicegate.state.ledger.store import GroupBy, LedgerStore

__all__ = [
    "GROUP_COLUMNS",
    "GroupBy",
    "Ledger",
    "LedgerRecord",
    "LedgerStore",
    "SQLiteLedgerStore",
]

log = logging.getLogger("sluicegate.ledger")
T = TypeVar("T")


class Ledger:
    def __init__(
        self,
        spool: Spool,
        store: LedgerStore,
        *,
        interval_s: float = 0.2,
        enabled: bool = True,
    ) -> None:
        self.spool = spool
        self.store = store
        self.enabled = enabled
        self.shipper = Shipper(spool, store, interval_s=interval_s)
        self._task: asyncio.Task[None] | None = None

    def record(self, record: LedgerRecord) -> None:
        """Durable against a process crash when this returns; shipped within ``interval_s``."""
        if not self.enabled:  # storage.ledger: false, for measuring what the ledger costs
            return
        self.spool.append(record)
        self.shipper.add(record)

    async def start(self) -> None:
        """Recover what a crashed predecessor left, then ship in the background."""
        try:
            await self.shipper.recover()
        except Exception as exc:  # the background shipper retries
            log.error("could not ship a previous process's spool yet: %s", exc)
            self.shipper.failing = True
        self._task = asyncio.get_running_loop().create_task(self.shipper.run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.shipper.ship_pending()
        except Exception as exc:  # the spool keeps them for the next start
            log.error("ledger records left in the spool at exit: %s", exc)
        self.spool.close()
        await self.store.close()

    @property
    def backlog(self) -> int:
        """Records spooled by this process and not shipped yet."""
        return self.shipper.pending

    # -- queries, any store -----------------------------------------------------

    async def aflush(self) -> int:
        return await self.shipper.flush()

    async def ausage(self, **query: Any) -> dict[str, Any]:
        """Usage totals and groups, including records spooled a moment ago."""
        await self._flush_quietly()
        return await self.store.usage(**query)

    async def arecords(self, **query: Any) -> list[dict[str, Any]]:
        await self._flush_quietly()
        return await self.store.records(**query)

    async def spend(
        self,
        tenant_id: str,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> float:
        """USD a tenant (by id; or one of its keys) spent over ``[since, until)``; for
        rebuilding budgets."""
        await self._flush_quietly()
        return await self.store.spend(tenant_id, key, since, until)

    # -- the same, from synchronous code, for the embedded store only ------------

    def flush(self) -> int:
        return _run_now(self.shipper.flush())

    def usage(self, **query: Any) -> dict[str, Any]:
        return _run_now(self.ausage(**query))

    def records(self, **query: Any) -> list[dict[str, Any]]:
        return _run_now(self.arecords(**query))

    async def _flush_quietly(self) -> None:
        # A store that is down for shipping may still answer (or not): the query decides.
        try:
            await self.shipper.ship_pending()
        except Exception as exc:
            log.warning("answering from the ledger without the latest records: %s", exc)


def _run_now(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (the embedded store's) to its end."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError(
        "this ledger's store is asynchronous: use await aflush(), ausage(), arecords()"
    )
