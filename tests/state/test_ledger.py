"""The ledger: spool, shipper and store, including what a crash leaves behind.

Every test runs on SQLite and on PostgreSQL unless its name says otherwise.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from fakes.timing import eventually
from sluicegate.state.directory import Directory
from sluicegate.state.ledger import Ledger, LedgerRecord
from sluicegate.state.ledger.spool import SUFFIX, Spool, decode_lines
from sluicegate.state.storage import Storage
from state.stores import BACKENDS, opened, storage_url


def record(
    n: int,
    *,
    tenant: str = "acme",
    tenant_id: str | None = None,
    tags: tuple[str, ...] = (),
    ts: float | None = None,
    unpriced: bool = False,
    prompt: str | None = None,
) -> LedgerRecord:
    """A record of tenant ``tenant``, whose id is ``ten_{tenant}`` unless given."""
    return LedgerRecord(
        id=f"rec-{n}", request_id=f"req-{n}", ts=1_700_000_000.0 + n if ts is None else ts,
        tenant=tenant, key_name="ci", alias="smart", target="main/gpt-4o", protocol="openai",
        operation="chat", stream=False, tags=tags, status=200, error_code=None, input_tokens=10,
        output_tokens=5, cached_tokens=0, cache_write_tokens=0, reasoning_tokens=0,
        estimated=False, cost_usd=0.0 if unpriced else 0.001, latency_ms=12.5, ttft_ms=3.0,
        unpriced=unpriced, tenant_id=tenant_id or f"ten_{tenant}", prompt=prompt,
    )


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return storage_url(request.param, tmp_path, request)


@pytest.fixture
async def storage(url: str) -> AsyncIterator[Storage]:
    async with opened(url) as opened_storage:
        yield opened_storage


def open_ledger(storage: Storage, tmp_path: Path, *, rotate_bytes: int = 1 << 20) -> Ledger:
    spool = Spool(tmp_path / "spool", rotate_bytes=rotate_bytes)
    return Ledger(spool, storage.ledger, interval_s=0.05)


async def count(storage: Storage) -> int:
    return int((await storage.ledger.usage())["totals"]["requests"])


async def test_recorded_rows_are_queryable_at_once(storage: Storage, tmp_path: Path) -> None:
    ledger = open_ledger(storage, tmp_path)
    await ledger.start()
    for n in range(5):
        ledger.record(record(n, tags=("batch",)))
    usage = await ledger.ausage(group_by="tag")
    assert usage["totals"]["requests"] == 5
    assert usage["totals"]["input_tokens"] == 50
    assert usage["groups"] == [{"key": "batch", **usage["totals"]}]
    await ledger.close()


async def test_the_background_shipper_ships_without_being_asked(
    storage: Storage, tmp_path: Path
) -> None:
    ledger = open_ledger(storage, tmp_path)
    await ledger.start()
    ledger.record(record(1))

    async def shipped() -> bool:
        return await count(storage) == 1

    await eventually(shipped, "the record was not shipped")
    await ledger.close()


async def test_a_full_batch_ships_at_once_and_a_partial_one_waits_for_the_interval(
    storage: Storage, tmp_path: Path
) -> None:
    """Batches stay short, because each holds the event loop while it is stored."""
    spool = Spool(tmp_path / "spool")
    ledger = Ledger(spool, storage.ledger, interval_s=30)
    ledger.shipper.batch_records = 4
    await ledger.start()
    for n in range(3):
        ledger.record(record(n))
    await asyncio.sleep(0.1)
    assert await count(storage) == 0, "three of four: wait for the interval"
    ledger.record(record(3))

    async def shipped() -> bool:
        return await count(storage) == 4

    # At once: well within the 30 s interval, however slow the machine.
    await eventually(shipped, "the full batch was not shipped", within=10)
    assert ledger.backlog == 0
    await ledger.close()


async def test_shipping_twice_never_counts_twice(storage: Storage) -> None:
    """A batch re-shipped after a crash between insert and offset update is ignored."""
    batch = [record(1, tags=("a",)), record(2)]
    await storage.ledger.ship(batch, "a.spool", 100)
    await storage.ledger.ship(batch, "a.spool", 0)  # as if the offset had been lost
    usage = await storage.ledger.usage(group_by="tag")
    assert usage["totals"]["requests"] == 2
    tagged = await storage.ledger.usage(tenant_id="ten_acme", key="ci", until=1_700_000_002.0)
    assert usage["groups"] == [{"key": "a", **tagged["totals"]}], "roll-ups counted once too"
    assert await storage.ledger.offset("a.spool") == 0


async def test_a_large_batch_is_stored_whole_and_an_overlapping_one_adds_only_its_new_rows(
    storage: Storage,
) -> None:
    """Batches longer than one multi-row INSERT, with a remainder, and re-shipped rows
    that fall inside a chunk: every row lands once, with its own values."""
    await storage.ledger.ship([record(n, tags=(f"t{n % 3}",)) for n in range(257)], "b.spool", 1)
    await storage.ledger.ship([record(n) for n in range(200, 460)], "b.spool", 2)
    usage = await storage.ledger.usage(group_by="tag")
    assert usage["totals"]["requests"] == 460
    assert usage["totals"]["input_tokens"] == 4600
    assert [(g["key"], g["requests"]) for g in usage["groups"]] == [
        ("t0", 86), ("t1", 86), ("t2", 85)
    ]
    newest = await storage.ledger.records(limit=1)
    assert newest[0]["id"] == "rec-459" and newest[0]["ts"] == 1_700_000_459.0
    assert await storage.ledger.offset("b.spool") == 2


async def test_unpriced_records_are_kept_as_such_and_counted(storage: Storage) -> None:
    """A $0 that means "no price known" must stay distinguishable from a free call."""
    day = 1_700_006_400.0  # 00:00 UTC: whole days come from PostgreSQL's roll-ups
    batch = [record(n, ts=day + n, tags=("t",), unpriced=n < 3) for n in range(5)]
    await storage.ledger.ship(batch, "u.spool", 1)

    listed = {r["id"]: r["unpriced"] for r in await storage.ledger.records()}
    assert listed == {"rec-0": True, "rec-1": True, "rec-2": True, "rec-3": False, "rec-4": False}
    totals = (await storage.ledger.usage())["totals"]
    assert (totals["requests"], totals["unpriced_requests"]) == (5, 3)
    grouped = await storage.ledger.usage(group_by="tag")
    assert [(g["key"], g["unpriced_requests"]) for g in grouped["groups"]] == [("t", 3)]
    # A partial day is read from the raw rows instead.
    edge = await storage.ledger.usage(since=day + 1, until=day + 4)
    assert (edge["totals"]["requests"], edge["totals"]["unpriced_requests"]) == (3, 2)


def spooled_by_an_older_version(record: LedgerRecord, missing: int) -> bytes:
    """``record``'s spool line as a version that had ``missing`` fewer fields wrote it."""
    line = msgspec.json.encode(record)
    for _ in range(missing):
        line = line[: line.rindex(b",")]
    return line + b"]\n"


def test_a_record_spooled_before_the_unpriced_flag_still_decodes() -> None:
    """A spool written by the previous version is shipped after an upgrade."""
    (decoded,), _ = decode_lines(spooled_by_an_older_version(record(1), missing=3 + AFTER_PROMPTS))
    assert decoded.id == "rec-1" and decoded.unpriced is False and decoded.tenant_id is None


# Fields added after the prompt: the contract's verdict and attempts, the guardrails',
# then the behaviour signals (finish reason, refusal, served model, response id), the
# session and the captured bodies.
AFTER_PROMPTS = 9


def test_a_record_spooled_before_contracts_decodes_with_none() -> None:
    (decoded,), _ = decode_lines(
        spooled_by_an_older_version(record(1, prompt="support@2"), missing=AFTER_PROMPTS)
    )
    assert decoded.prompt == "support@2"
    assert decoded.contract is None and decoded.contract_attempts == ()
    assert decoded.guardrails is None


def test_a_record_spooled_before_prompts_decodes_with_no_prompt() -> None:
    (decoded,), _ = decode_lines(
        spooled_by_an_older_version(record(1, prompt="support@2"), missing=1 + AFTER_PROMPTS)
    )
    assert decoded.id == "rec-1" and decoded.prompt is None


async def test_a_record_spooled_before_tenant_ids_gets_the_id_of_its_tenant_when_shipped(
    storage: Storage, tmp_path: Path
) -> None:
    """Written just before the upgrade, it is the tenant's that has its name now; one of a
    tenant gone since then keeps no id (no tenant's usage counts it)."""
    directory = await Directory.open(storage.directory)
    acme = await directory.create_tenant("acme")
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "dead-0-000001.spool").write_bytes(
        spooled_by_an_older_version(record(1), missing=2 + AFTER_PROMPTS)
        + spooled_by_an_older_version(record(2, tenant="gone"), missing=2 + AFTER_PROMPTS)
    )
    ledger = open_ledger(storage, tmp_path)
    assert await ledger.aflush() == 2
    assert [r["tenant_id"] for r in await ledger.arecords(tenant="acme")] == [acme.id]
    [gone] = [r for r in await ledger.arecords() if r["tenant"] == "gone"]
    assert gone["tenant_id"] is None
    await ledger.close()


async def test_usage_by_name_is_the_tenant_that_has_it_now_and_by_id_any_tenant(
    storage: Storage,
) -> None:
    """A tenant deleted and created again under its name: two tenants, two histories."""
    directory = await Directory.open(storage.directory)
    deleted = await directory.create_tenant("acme")
    await directory.delete_tenant("acme")
    recreated = await directory.create_tenant("acme")
    assert recreated.id != deleted.id
    day = 1_700_006_400.0  # 00:00 UTC: whole days come from PostgreSQL's roll-ups
    await storage.ledger.ship(
        [record(n, tenant_id=deleted.id, ts=day + n, tags=("t",)) for n in range(3)]
        + [record(n, tenant_id=recreated.id, ts=day + n, tags=("t",)) for n in range(3, 5)]
        + [record(5, tenant="nobody", ts=day + 5)],
        "r.spool",
        1,
    )
    ledger = storage.ledger
    for window in ({}, {"since": day + 1, "until": day + 4}):  # whole days, then raw rows
        now = (await ledger.usage(tenant="acme", **window))["totals"]["requests"]
        before = (await ledger.usage(tenant_id=deleted.id, **window))["totals"]["requests"]
        assert (now, before) == ((2, 3) if not window else (1, 2)), window
    assert (await ledger.usage(tenant="nobody"))["totals"]["requests"] == 0, "no such tenant now"
    assert (await ledger.usage(tenant="acme", tenant_id=deleted.id))["totals"]["requests"] == 0
    by_tag = await ledger.usage(tenant="acme", group_by="tag")
    assert [(g["key"], g["requests"]) for g in by_tag["groups"]] == [("t", 2)]

    by_tenant = (await ledger.usage(group_by="tenant"))["groups"]
    assert {(g["key"], g["tenant_id"]): g["requests"] for g in by_tenant} == {
        ("acme", deleted.id): 3, ("acme", recreated.id): 2, ("nobody", "ten_nobody"): 1
    }, "one group per tenant id, the name as its key"
    assert [r["id"] for r in await ledger.records(tenant="acme")] == ["rec-4", "rec-3"]
    assert len(await ledger.records(tenant_id=deleted.id)) == 3
    assert await ledger.spend(recreated.id) == pytest.approx(0.002)
    assert await ledger.spend(deleted.id) == pytest.approx(0.003)


async def test_rotated_files_are_shipped_and_deleted(storage: Storage, tmp_path: Path) -> None:
    ledger = open_ledger(storage, tmp_path, rotate_bytes=1000)
    await ledger.start()
    for n in range(50):
        ledger.record(record(n))
    await ledger.aflush()
    spool_files = list((tmp_path / "spool").glob(f"*{SUFFIX}"))
    assert spool_files == [ledger.spool.path], "only the file in use remains"
    assert await count(storage) == 50
    await ledger.close()


async def test_a_torn_last_line_left_by_a_dead_writer_is_dropped(
    storage: Storage, tmp_path: Path
) -> None:
    dead = Spool(tmp_path / "spool")
    dead.append(record(1))
    with open(dead.path, "ab") as f:
        f.write(b'["rec-2","req-2"')  # a write caught half way
    dead.close()  # as the kernel does when the process dies
    ledger = open_ledger(storage, tmp_path)
    assert await ledger.aflush() == 1
    assert await count(storage) == 1
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
    storage: Storage, tmp_path: Path
) -> None:
    tests = str(Path(__file__).parent.parent)
    code = CRASHING_WRITER.format(tests=tests, spool=str(tmp_path / "spool"), n=300)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -9, proc.stderr
    ledger = open_ledger(storage, tmp_path)
    await ledger.start()  # ships what the dead process left
    assert await count(storage) == 300
    await ledger.aflush()
    assert await count(storage) == 300
    assert list((tmp_path / "spool").glob(f"*{SUFFIX}")) == [ledger.spool.path]
    await ledger.close()


async def test_a_live_writers_file_is_left_to_it(storage: Storage, tmp_path: Path) -> None:
    """Two processes share a spool directory; each ships only what no one else holds."""
    first = open_ledger(storage, tmp_path)
    first.record(record(1))
    second = open_ledger(storage, tmp_path)
    assert await second.aflush() == 0, "the first process's file is locked: not ours to ship"
    assert await first.aflush() == 1
    await first.close()
    await second.close()


async def test_recording_does_no_database_work_on_the_request_path(
    storage: Storage, tmp_path: Path
) -> None:
    """record() only appends to the spool; the store sees nothing until shipping."""
    ledger = open_ledger(storage, tmp_path)
    for i in range(2000):
        ledger.record(record(i))
    assert await count(storage) == 0, "nothing reaches the store until the shipper runs"
    assert await ledger.aflush() == 2000
    await ledger.close()


async def test_a_disabled_ledger_records_nothing(storage: Storage, tmp_path: Path) -> None:
    ledger = Ledger(Spool(tmp_path / "spool"), storage.ledger, enabled=False)
    await ledger.start()
    ledger.record(record(1))
    assert ledger.spool.size == 0
    assert await ledger.aflush() == 0
    await ledger.close()


async def test_spend_sums_a_tenants_cost_over_a_window(storage: Storage) -> None:
    batch = [record(n, tenant="acme" if n % 2 else "beta") for n in range(10)]
    await storage.ledger.ship(batch, "a.spool", 1)
    assert await storage.ledger.spend("ten_acme") == pytest.approx(0.005)
    assert await storage.ledger.spend("ten_acme", since=1_700_000_005.0) == pytest.approx(0.003)
    assert await storage.ledger.spend("ten_acme", key="other") == 0.0


def test_the_sync_shortcuts_work_on_sqlite_only(tmp_path: Path) -> None:
    """Code that is not async may flush and query an embedded (SQLite) ledger directly."""

    async def scenario() -> None:
        async with opened(f"sqlite:///{tmp_path}/l.db") as storage:
            ledger = open_ledger(storage, tmp_path)
            ledger.record(record(1))
            assert ledger.usage()["totals"]["requests"] == 1
            assert [r["id"] for r in ledger.records(limit=5)] == ["rec-1"]
            await ledger.close()

    asyncio.run(scenario())


def test_a_record_spooled_before_behaviour_signals_decodes_without_them() -> None:
    (decoded,), _ = decode_lines(
        spooled_by_an_older_version(record(1, prompt="support@2"), missing=AFTER_PROMPTS - 3)
    )
    assert decoded.guardrails is None and decoded.prompt == "support@2"
    assert decoded.finish_reason is None and decoded.refusal is False
    assert decoded.served_model is None and decoded.session is None and decoded.bodies is None
