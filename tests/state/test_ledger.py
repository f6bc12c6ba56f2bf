"""The ledger: spool, shipper and store, including what a crash leaves behind."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from sluicegate.state.ledger import Ledger, LedgerRecord, SQLiteLedgerStore
from sluicegate.state.ledger.spool import SUFFIX, Spool
from sluicegate.state.sqlite import open_database


def record(n: int, *, tenant: str = "acme", tags: tuple[str, ...] = ()) -> LedgerRecord:
    return LedgerRecord(
        id=f"rec-{n}", request_id=f"req-{n}", ts=1_700_000_000.0 + n, tenant=tenant,
        key_name="ci", alias="smart", target="main/gpt-4o", protocol="openai", operation="chat",
        stream=False, tags=tags, status=200, error_code=None, input_tokens=10, output_tokens=5,
        cached_tokens=0, cache_write_tokens=0, reasoning_tokens=0, estimated=False,
        cost_usd=0.001, latency_ms=12.5, ttft_ms=3.0,
    )


def open_ledger(tmp_path: Path, *, rotate_bytes: int = 1 << 20) -> Ledger:
    url = f"sqlite:///{tmp_path}/ledger.db"
    spool = Spool(tmp_path / "spool", rotate_bytes=rotate_bytes)
    return Ledger(spool, SQLiteLedgerStore(open_database(url)), interval_s=0.05)


def count(tmp_path: Path) -> int:
    conn = open_database(f"sqlite:///{tmp_path}/ledger.db")
    return int(conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0])


async def test_recorded_rows_are_queryable_at_once(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    ledger.start()
    for n in range(5):
        ledger.record(record(n, tags=("batch",)))
    usage = ledger.usage(group_by="tag")
    assert usage["totals"]["requests"] == 5
    assert usage["totals"]["input_tokens"] == 50
    assert usage["groups"] == [{"key": "batch", **usage["totals"]}]
    await ledger.close()


async def test_the_background_shipper_ships_without_being_asked(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    ledger.start()
    ledger.record(record(1))
    for _ in range(100):
        if count(tmp_path) == 1:
            break
        await asyncio.sleep(0.02)
    assert count(tmp_path) == 1
    await ledger.close()


def test_shipping_twice_never_counts_twice(tmp_path: Path) -> None:
    """A batch re-shipped after a crash between insert and offset update is ignored."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    store = SQLiteLedgerStore(open_database(url))
    batch = [record(1), record(2)]
    store.ship(batch, "a.spool", 100)
    store.ship(batch, "a.spool", 0)  # as if the offset had been lost
    assert store.usage()["totals"]["requests"] == 2


async def test_rotated_files_are_shipped_and_deleted(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path, rotate_bytes=1000)
    ledger.start()
    for n in range(50):
        ledger.record(record(n))
    ledger.flush()
    spool_files = list((tmp_path / "spool").glob(f"*{SUFFIX}"))
    assert spool_files == [ledger.spool.path], "only the file in use remains"
    assert count(tmp_path) == 50
    await ledger.close()


async def test_a_torn_last_line_left_by_a_dead_writer_is_dropped(tmp_path: Path) -> None:
    dead = Spool(tmp_path / "spool")
    dead.append(record(1))
    with open(dead.path, "ab") as f:
        f.write(b'["rec-2","req-2"')  # a write caught half way
    dead.close()  # as the kernel does when the process dies
    ledger = open_ledger(tmp_path)
    assert ledger.flush() == 1
    assert count(tmp_path) == 1
    await ledger.close()


CRASHING_WRITER = """
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from state.test_ledger import record
from sluicegate.state.ledger.spool import Spool
spool = Spool(Path({spool!r}))
for n in range({n}):
    spool.append(record(n))
with open(spool.path, "ab") as f:
    f.write(b'["torn')
os.kill(os.getpid(), 9)
"""


async def test_records_spooled_before_kill_9_are_shipped_once_by_the_next_process(
    tmp_path: Path,
) -> None:
    tests = str(Path(__file__).parent.parent)
    code = CRASHING_WRITER.format(tests=tests, spool=str(tmp_path / "spool"), n=300)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -9, proc.stderr
    ledger = open_ledger(tmp_path)
    ledger.start()  # ships what the dead process left
    assert count(tmp_path) == 300
    ledger.flush()
    assert count(tmp_path) == 300
    assert list((tmp_path / "spool").glob(f"*{SUFFIX}")) == [ledger.spool.path]
    await ledger.close()


async def test_a_live_writers_file_is_left_to_it(tmp_path: Path) -> None:
    """Two processes share a spool directory; each ships only what no one else holds."""
    first = open_ledger(tmp_path)
    first.record(record(1))
    second = open_ledger(tmp_path)
    assert second.flush() == 0, "the first process's file is locked: not ours to ship"
    assert first.flush() == 1
    await first.close()
    await second.close()


@pytest.mark.parametrize("n", [2000])
async def test_recording_does_no_database_work_on_the_request_path(tmp_path: Path, n: int) -> None:
    """record() only appends to the spool; the store sees nothing until shipping."""
    ledger = open_ledger(tmp_path)
    for i in range(n):
        ledger.record(record(i))
    assert count(tmp_path) == 0, "nothing reaches the store until the shipper runs"
    assert ledger.flush() == n
    await ledger.close()
    assert (tmp_path / "ledger.db").exists()
