"""The prompt registry's rows in PostgreSQL, shared by every replica.

A change to a prompt locks its row first (``SELECT ... FOR UPDATE``), so
replicas creating versions or moving labels of one prompt at once take turns:
version numbers never collide, and each move records the version it really
moved the label from. Triggers bump ``prompt_registry_version``, which every
replica polls.
"""

from __future__ import annotations

import asyncpg

from sluicegate.state.prompt_store import (
    LabelMove,
    PromptRow,
    RegistryRows,
    StoredVersion,
    VersionRow,
    check_expected,
    no_such_prompt,
    no_such_version,
    owner_conflict,
)


class PostgresPromptStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def version(self) -> int:
        return int(await self._pool.fetchval("SELECT version FROM prompt_registry_version"))

    async def load(self) -> RegistryRows:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            prompts = await conn.fetch("SELECT name, tenant_id, tenant, created_at FROM prompts")
            versions = await conn.fetch(
                "SELECT name, version, hash, created_at FROM prompt_versions"
            )
            labels = await conn.fetch("SELECT name, label, version FROM prompt_labels")
        return RegistryRows(
            [PromptRow(r["name"], r["tenant_id"], r["tenant"], r["created_at"]) for r in prompts],
            [VersionRow(r["name"], r["version"], r["hash"], r["created_at"]) for r in versions],
            [(r["name"], r["label"], r["version"]) for r in labels],
        )

    async def documents(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        rows = await self._pool.fetch(
            "SELECT v.name, v.version, v.document::text AS document FROM prompt_versions v "
            "JOIN unnest($1::text[], $2::int[]) AS k(name, version) "
            "ON v.name = k.name AND v.version = k.version",
            [name for name, _ in keys],
            [version for _, version in keys],
        )
        return {(r["name"], r["version"]): r["document"].encode() for r in rows}

    async def add_version(
        self,
        *,
        name: str,
        tenant_id: str | None,
        tenant: str | None,
        hash: str,
        document: bytes,
        now: float,
    ) -> StoredVersion:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO prompts (name, tenant_id, tenant, created_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (name) DO NOTHING",
                name, tenant_id, tenant, now,
            )
            owner = await conn.fetchrow(
                "SELECT tenant_id FROM prompts WHERE name = $1 FOR UPDATE", name
            )
            assert owner is not None
            if owner["tenant_id"] != tenant_id:
                raise owner_conflict(name)
            same = await conn.fetchrow(
                "SELECT version, created_at FROM prompt_versions WHERE name = $1 AND hash = $2",
                name, hash,
            )
            if same is not None:
                return StoredVersion(same["version"], hash, same["created_at"], created=False)
            number = await conn.fetchval(
                "INSERT INTO prompt_versions (name, version, hash, document, created_at) "
                "SELECT $1, coalesce(max(version), 0) + 1, $2, $3::jsonb, $4 "
                "FROM prompt_versions WHERE name = $1 RETURNING version",
                name, hash, document.decode(), now,
            )
        return StoredVersion(int(number), hash, now, created=True)

    async def move_label(
        self, *, name: str, label: str, version: int, expected: int | None, now: float
    ) -> LabelMove:
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchval("SELECT 1 FROM prompts WHERE name = $1 FOR UPDATE", name)
            if locked is None:
                raise no_such_prompt(name)
            exists = await conn.fetchval(
                "SELECT 1 FROM prompt_versions WHERE name = $1 AND version = $2", name, version
            )
            if exists is None:
                raise no_such_version(name, version)
            current = await conn.fetchval(
                "SELECT version FROM prompt_labels WHERE name = $1 AND label = $2", name, label
            )
            check_expected(name, label, current, expected)
            await conn.execute(
                "INSERT INTO prompt_labels (name, label, version, moved_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (name, label) DO UPDATE "
                "SET version = excluded.version, moved_at = excluded.moved_at",
                name, label, version, now,
            )
            await conn.execute(
                "INSERT INTO prompt_label_moves (name, label, from_version, to_version, at) "
                "VALUES ($1, $2, $3, $4, $5)",
                name, label, current, version, now,
            )
        return LabelMove(label, current, version, now)

    async def label_history(self, name: str) -> list[LabelMove]:
        rows = await self._pool.fetch(
            "SELECT label, from_version, to_version, at FROM prompt_label_moves "
            "WHERE name = $1 ORDER BY id",
            name,
        )
        return [LabelMove(r["label"], r["from_version"], r["to_version"], r["at"]) for r in rows]
