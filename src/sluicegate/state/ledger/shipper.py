"""The shipper: moves spooled records into the ledger store in batches, off the request path.

Records this process spooled are shipped from memory (they were just encoded;
there is no need to read them back), a batch every ``interval_s`` on the event
loop. The spool files are read only to recover what a dead process left.

Why not a thread: a thread doing database work holds the GIL between
statements, and every socket call of the event loop then waits for it (the
convoy effect); measured here, that cost two thirds of the gateway's
throughput. A batch on the loop costs the same CPU without the convoy.

Each batch and the spool offset it reaches are committed in one transaction,
and inserts are idempotent on the record id, so a batch shipped twice (after a
crash between the two) never counts twice.
"""

from __future__ import annotations

import asyncio
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


class ShippingStore(Protocol):
    def offset(self, file: str) -> int: ...
    def ship(self, records: list[LedgerRecord], file: str, offset: int) -> None: ...
    def forget(self, file: str) -> None: ...


class Shipper:
    def __init__(self, spool: Spool, store: ShippingStore, *, interval_s: float = 0.2) -> None:
        self.spool = spool
        self.store = store
        self.interval_s = interval_s
        self._pending: list[LedgerRecord] = []

    def add(self, record: LedgerRecord) -> None:
        """Queue a record that has just been spooled."""
        self._pending.append(record)
        if self.spool.full:
            self._rotate()

    def ship_pending(self) -> int:
        """Ship what this process spooled since the last batch."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, []
        try:
            self.store.ship(batch, self.spool.path.name, self.spool.size)
        except Exception:
            self._pending[:0] = batch  # keep them; the spool has them too
            raise
        return len(batch)

    def recover(self) -> int:
        """Ship and delete complete spool files: those whose writer rotated away or died."""
        shipped = 0
        current = self.spool.path
        for path in sorted(self.spool.directory.glob(f"*{SUFFIX}")):
            if path == current:
                continue
            claimed = ClaimedFile.claim(path)
            if claimed is None:
                continue  # a live process still writes it, or ships it now
            try:
                shipped += self._ship_file(path)
                self.store.forget(path.name)
                claimed.release(delete=True)
            except BaseException:
                claimed.release(delete=False)
                raise
        return shipped

    def flush(self) -> int:
        return self.ship_pending() + self.recover()

    async def run(self) -> None:
        """Ship every ``interval_s`` until cancelled."""
        ticks = 0
        while True:
            await asyncio.sleep(self.interval_s)
            ticks += 1
            try:
                self.ship_pending()
                if ticks % RECOVER_EVERY == 0:
                    self.recover()
            except Exception:  # the spool keeps every record; try again next tick
                log.exception("shipping the ledger failed; records stay in the spool")

    def _rotate(self) -> None:
        old = self.spool.path
        try:
            self.ship_pending()
        except Exception:
            # Unshipped rows stay in the old file, which recover() ships later.
            log.exception("shipping the ledger failed before rotating its spool")
            self._pending = []
            self.spool.rotate()
            return
        self.spool.rotate()
        old.unlink(missing_ok=True)
        self.store.forget(old.name)

    def _ship_file(self, path: Path) -> int:
        shipped = 0
        offset = self.store.offset(path.name)
        with open(path, "rb") as f:
            while True:
                f.seek(offset)
                data = f.read(BATCH_BYTES)
                if not data:
                    break
                records, used = decode_lines(data)
                if used == 0:
                    # A torn tail left by a killed writer: its response never completed.
                    log.warning("dropping %d unreadable bytes at the end of %s", len(data),
                                path.name)
                    break
                offset += used
                self.store.ship(records, path.name, offset)
                shipped += len(records)
        return shipped


def default_spool_dir(storage_url: str, configured: str | None) -> Path:
    if configured:
        return Path(configured)
    if storage_url.startswith("sqlite:///"):
        return Path(storage_url[len("sqlite:///") :] + ".spool")
    return Path(os.getcwd()) / "sluicegate-spool"
