"""PostgreSQL usage answers: the same as SQLite's for the same records, from roll-ups."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sluicegate.config import LimitsConfig
from sluicegate.state.ledger import LedgerRecord
from sluicegate.state.postgres.partitions import drop_expired, existing
from sluicegate.state.storage import Storage
from state.stores import opened

DAY = 86400.0
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
GROUPS = [None, "tenant", "key", "alias", "target", "tag", "day"]
# (name, id): "acme" twice, a deleted tenant and the one created since under its name.
TENANTS = [("acme", "ten_acme_deleted"), ("acme", "ten_acme"), ("beta", "ten_beta"),
           (None, None)]


def traffic(n: int, seed: int = 7) -> list[LedgerRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        tenant, tenant_id = rng.choice(TENANTS)
        out.append(
            LedgerRecord(
                id=f"r{i}", request_id=f"q{i}", ts=START + rng.uniform(0, 5 * DAY),
                tenant=tenant, tenant_id=tenant_id, key_name=rng.choice(["ci", "bot"]),
                alias=rng.choice(["smart", "cheap"]), target=rng.choice(["a/x", "b/y", None]),
                protocol="openai", operation="chat", stream=rng.random() < 0.5,
                tags=tuple(rng.sample(["team:x", "batch", "eval"], rng.randint(0, 2))),
                status=rng.choice([200, 200, 200, 429, 502]), error_code=None,
                input_tokens=rng.randint(0, 500), output_tokens=rng.randint(0, 300),
                cached_tokens=rng.randint(0, 50), cache_write_tokens=0, reasoning_tokens=0,
                estimated=rng.random() < 0.1, cost_usd=round(rng.uniform(0, 0.01), 6),
                latency_ms=5.0, ttft_ms=None, cache=rng.choice([None, "hit", "miss"]),
                saved_usd=0.0,
            )
        )
    return out


@pytest.fixture
async def both(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[Storage, Storage]]:
    records = traffic(600)
    async with opened(f"sqlite:///{tmp_path}/s.db") as sqlite, opened(postgres_url) as pg:
        for storage in (sqlite, pg):  # the tenants that have the names now
            await storage.directory.create_tenant("ten_acme", "acme", None, LimitsConfig())
            await storage.directory.create_tenant("ten_beta", "beta", None, LimitsConfig())
        for store in (sqlite.ledger, pg.ledger):
            for i in range(0, len(records), 100):
                await store.ship(records[i : i + 100], "t.spool", i)
        yield sqlite, pg


def same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert [(g["key"], g.get("tenant_id")) for g in a["groups"]] == [
        (g["key"], g.get("tenant_id")) for g in b["groups"]
    ]
    for x, y in zip([a["totals"], *a["groups"]], [b["totals"], *b["groups"]], strict=True):
        assert x == pytest.approx(y, abs=1e-9)


WINDOWS = [
    (None, None),
    (START + DAY, None),  # from a midnight: roll-ups only
    (START + 1.5 * DAY, START + 3.25 * DAY),  # partial days at both ends
    (None, START + 2.7 * DAY),
    (START + 0.2 * DAY, START + 0.6 * DAY),  # inside one day: raw rows only
    (START + 2 * DAY, START + 2 * DAY),  # empty
]


@pytest.mark.parametrize("window", WINDOWS)
async def test_every_grouping_and_window_matches_sqlite(
    both: tuple[Storage, Storage], window: tuple[float | None, float | None]
) -> None:
    sqlite, pg = both
    since, until = window
    for group_by in GROUPS:
        for tenant, tenant_id, key in [
            (None, None, None), ("acme", None, None), (None, "ten_acme_deleted", None),
            ("beta", None, "bot"), ("acme", "ten_acme_deleted", None),
        ]:
            query = {"tenant": tenant, "tenant_id": tenant_id, "key": key, "since": since,
                     "until": until, "group_by": group_by}
            same(await pg.ledger.usage(**query), await sqlite.ledger.usage(**query))


async def test_a_name_is_the_tenant_that_has_it_now_and_an_id_any_tenant(
    both: tuple[Storage, Storage],
) -> None:
    for storage in both:
        now = (await storage.ledger.usage(tenant="acme"))["totals"]["requests"]
        deleted = (await storage.ledger.usage(tenant_id="ten_acme_deleted"))["totals"]
        groups = (await storage.ledger.usage(group_by="tenant"))["groups"]
        named_acme = sum(g["requests"] for g in groups if g["key"] == "acme")
        assert now > 0 and deleted["requests"] > 0
        assert now + deleted["requests"] == named_acme, storage.kind


async def test_whole_days_come_from_the_roll_ups(
    both: tuple[Storage, Storage], postgres_url: str
) -> None:
    """Raw rows of whole days are not read: deleting them changes nothing in the answer."""
    _, pg = both
    window = {"since": START + DAY, "until": START + 4 * DAY}
    before = {g: await pg.ledger.usage(**window, group_by=g) for g in GROUPS}  # type: ignore[arg-type]
    assert before[None]["totals"]["requests"] > 0
    conn = await asyncpg.connect(postgres_url)
    await conn.execute("DELETE FROM ledger WHERE ts >= $1 AND ts < $2", *window.values())
    await conn.close()
    for group_by, answer in before.items():
        assert await pg.ledger.usage(**window, group_by=group_by) == answer  # type: ignore[arg-type]


async def test_retention_drops_old_partitions_and_keeps_the_roll_ups(
    both: tuple[Storage, Storage], postgres_url: str
) -> None:
    _, pg = both
    whole = await pg.ledger.usage(since=START, until=START + 2 * DAY, group_by="day")
    conn = await asyncpg.connect(postgres_url)
    try:
        days = await existing(conn)
        assert len(days) >= 5
        dropped = await drop_expired(conn, retention_days=2, now=START + 4.5 * DAY)
        assert [d.isoformat() for d in dropped] == ["2026-01-01", "2026-01-02"]
        raw = await conn.fetchval("SELECT count(*) FROM ledger WHERE ts < $1", START + 2 * DAY)
        assert raw == 0
    finally:
        await conn.close()
    assert await pg.ledger.usage(since=START, until=START + 2 * DAY, group_by="day") == whole
