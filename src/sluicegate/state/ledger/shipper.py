"""The shipper: moves spooled records into the ledger store in batches, off the request path.

Records this process spooled are shipped from memory (they were just encoded;
there is no need to read them back), a batch every ``interval_s`` on the event
loop. The spool files are read only to recover what a dead process left, or
what an unreachable store could not take before its file was rotated.

The store is asynchronous. SQLite's coroutines never suspend: a batch runs to
its end on the loop, which is deliberate. A thread doing database work holds
the GIL between statements, and every socket call of the event loop then waits
for it (the convoy effect); measured here, that cost two thirds of the
gateway's throughput. A batch on the loop costs the same CPU without the
convoy. PostgreSQL's suspend on the network, so the loop serves requests while
a batch is in flight; one lock keeps batches in order.

Each batch and the spool offset it reaches are committed in one transaction,
and inserts are idempotent on the record id, so a batch shipped twice (after a
crash between the two) never counts twice. While the store is unreachable the
records stay in the spool: the pending batch is kept and retried each tick,
and once the spool file is full it is rotated anyway and shipped from disk
later, so memory stays bounded however long an outage lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sluicegate.state.ledger.record import LedgerRecord
from sluicegate.state.ledger.spool import SUFFIX, ClaimedFile, Spool, decode_lines

log = logging.getLogger("sluicegate.ledger")

# Read at most this much of a spool file per batch, to bound memory.
BATCH_BYTES = 1024 * 1024
# Look for spool files of dead processes this often (in shipping intervals).
RECOVER_EVERY = 50
# Ship as soon as this many records wait, not only every interval. A batch runs
# on the event loop and holds it for its length: 512 records are about 1.7 ms
# into SQLite, where a 0.2 s interval at 7k requests/s held it for 5 ms and
# nearly doubled the gateway's p99 latency. Smaller batches cost more per
# record (a commit each): 3.8 us a record at 256, 3.45 at 512, 3.3 at 1400.
BATCH_RECORDS = 512


class ShippingStore(Protocol):
    async def offset(self, file: str) -> int: ...

    async def ship(self, records: list[LedgerRecord], file: str, offset: int) -> None:
        """Insert the records (ignoring ids already there) and set ``file``'s offset, atomically."""
        ...

    async def forget(self, file: str) -> None: ...


class Shipper:
    def __init__(
        self,
        spool: Spool,
        store: ShippingStore,
        *,
        interval_s: float = 0.2,
        batch_records: int = BATCH_RECORDS,
    ) -> None:
        self.spool = spool
        self.store = store
        self.interval_s = interval_s
        self.batch_records = batch_records
        self._pending: list[LedgerRecord] = []
        self._full = asyncio.Event()  # a batch's worth is waiting
        self._lock = asyncio.Lock()
        self.failing = False

    @property
    def pending(self) -> int:
        """Records spooled by this process and not yet shipped from memory."""
        return len(self._pending)

    def add(self, record: LedgerRecord) -> None:
        """Queue a record that has just been spooled."""
        pending = self._pending
        pending.append(record)
        if len(pending) == self.batch_records:
            self._full.set()

    async def ship_pending(self) -> int:
        """Ship what this process spooled since the last batch; rotate a full spool."""
        async with self._lock:
            if self.spool.full:
                return await self._rotate()
            return await self._ship_pending()

    async def recover(self) -> int:
        """Ship and delete complete spool files: those whose writer rotated away or died."""
        async with self._lock:
            shipped = 0
            current = self.spool.path
            for path in sorted(self.spool.directory.glob(f"*{SUFFIX}")):
                if path == current:
                    continue
                claimed = ClaimedFile.claim(path)
                if claimed is None:
                    continue  # a live process still writes it, or ships it now
                try:
                    shipped += await self._ship_file(path)
                    await self.store.forget(path.name)
                    claimed.release(delete=True)
                except BaseException:
                    claimed.release(delete=False)
                    raise
            return shipped

    async def flush(self) -> int:
        return await self.ship_pending() + await self.recover()

    async def run(self) -> None:
        """Ship every ``interval_s``, or sooner when a batch is full, until cancelled."""
        loop = asyncio.get_running_loop()
        recover_every = RECOVER_EVERY * self.interval_s
        recover_at = loop.time() + recover_every
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._full.wait()
            self._full.clear()
            try:
                await self.ship_pending()
                if self.failing or loop.time() >= recover_at:
                    recover_at = loop.time() + recover_every
                    await self.recover()
                if self.failing:
                    log.info("shipping the ledger works again")
                self.failing = False
            except Exception as exc:  # the spool keeps every record; try again next tick
                if not self.failing:
                    log.error("shipping the ledger failed; records stay in the spool: %s", exc)
                self.failing = True

    async def _ship_pending(self) -> int:
        if not self._pending:
            return 0
        # The offset is taken with the batch: records spooled while the batch is
        # in flight lie beyond it.
        batch, self._pending = self._pending, []
        file, offset = self.spool.path.name, self.spool.size
        try:
            await self.store.ship(batch, file, offset)
        except BaseException:
            self._pending[:0] = batch  # keep them; the spool has them too
            raise
        return len(batch)

    async def _rotate(self) -> int:
        """Start a new spool file; ship the old one's pending records, then delete it.

        The rotation comes first, so records spooled while the batch is in
        flight go to the new file. If the batch fails, the old file (complete
        and unlocked now) is left for :meth:`recover`, which reads it back.
        """
        old, old_size = self.spool.path, self.spool.size
        batch, self._pending = self._pending, []
        self.spool.rotate()
        try:
            if batch:
                await self.store.ship(batch, old.name, old_size)
        except Exception:
            log.warning("a full spool file was rotated before it was shipped; shipped later")
            raise
        old.unlink(missing_ok=True)
        with contextlib.suppress(Exception):  # a stale offset row is harmless
            await self.store.forget(old.name)
        return len(batch)

    async def _ship_file(self, path: Path) -> int:
        shipped = 0
        offset = await self.store.offset(path.name)
        with open(path, "rb") as f:  # noqa: ASYNC230 - a local file, read in bounded pieces
            while True:
                f.seek(offset)
                data = f.read(BATCH_BYTES)
                if not data:
                    break
                records, used = decode_lines(data)
                if used == 0:
                    # A torn tail left by a killed writer: its response never completed.
                    log.warning(
                        "dropping %d unreadable bytes at the end of %s", len(data), path.name
                    )
                    break
                offset += used
                await self.store.ship(records, path.name, offset)
                shipped += len(records)
        return shipped


def default_spool_dir(storage_url: str, configured: str | None) -> Path:
    if configured:
        return Path(configured)
    if storage_url.startswith("sqlite:///"):
        return Path(storage_url[len("sqlite:///") :] + ".spool")
    return Path(os.getcwd()) / "sluicegate-spool"
