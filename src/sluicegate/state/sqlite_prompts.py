"""The prompt registry's rows in SQLite.

Each change runs in one ``BEGIN IMMEDIATE`` transaction: processes sharing the
file (``--workers N``) take turns, so version numbers never collide and two
label moves are recorded one after the other, each with the right "from".
Like the directory's store, its coroutines never suspend.
"""

from __future__ import annotations

import sqlite3

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
from sluicegate.state.sqlite import transaction


class SQLitePromptStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def version(self) -> int:
        row = self._conn.execute("SELECT version FROM prompt_registry_version").fetchone()
        return int(row[0])

    async def load(self) -> RegistryRows:
        with transaction(self._conn, "BEGIN"):  # one snapshot of the three tables
            prompts = [
                PromptRow(*r)
                for r in self._conn.execute(
                    "SELECT name, tenant_id, tenant, created_at FROM prompts"
                )
            ]
            versions = [
                VersionRow(*row)
                for row in self._conn.execute(
                    "SELECT name, version, hash, created_at FROM prompt_versions"
                )
            ]
            labels = [
                (name, label, int(version))
                for name, label, version in self._conn.execute(
                    "SELECT name, label, version FROM prompt_labels"
                )
            ]
        return RegistryRows(prompts, versions, labels)

    async def documents(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        out: dict[tuple[str, int], bytes] = {}
        for name, version in keys:
            row = self._conn.execute(
                "SELECT document FROM prompt_versions WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
            if row is not None:
                out[name, version] = row[0].encode()
        return out

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
        conn = self._conn
        with transaction(conn):
            owner = conn.execute("SELECT tenant_id FROM prompts WHERE name = ?", (name,)).fetchone()
            if owner is None:
                conn.execute(
                    "INSERT INTO prompts (name, tenant_id, tenant, created_at) VALUES (?, ?, ?, ?)",
                    (name, tenant_id, tenant, now),
                )
            elif owner[0] != tenant_id:
                raise owner_conflict(name)
            same = conn.execute(
                "SELECT version, created_at FROM prompt_versions WHERE name = ? AND hash = ?",
                (name, hash),
            ).fetchone()
            if same is not None:
                return StoredVersion(int(same[0]), hash, float(same[1]), created=False)
            number = 1 + int(
                conn.execute(
                    "SELECT coalesce(max(version), 0) FROM prompt_versions WHERE name = ?", (name,)
                ).fetchone()[0]
            )
            conn.execute(
                "INSERT INTO prompt_versions (name, version, hash, document, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, number, hash, document.decode(), now),
            )
        return StoredVersion(number, hash, now, created=True)

    async def move_label(
        self, *, name: str, label: str, version: int, expected: int | None, now: float
    ) -> LabelMove:
        conn = self._conn
        with transaction(conn):
            if conn.execute("SELECT 1 FROM prompts WHERE name = ?", (name,)).fetchone() is None:
                raise no_such_prompt(name)
            exists = conn.execute(
                "SELECT 1 FROM prompt_versions WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            if exists is None:
                raise no_such_version(name, version)
            row = conn.execute(
                "SELECT version FROM prompt_labels WHERE name = ? AND label = ?", (name, label)
            ).fetchone()
            current = None if row is None else int(row[0])
            check_expected(name, label, current, expected)
            conn.execute(
                "INSERT INTO prompt_labels (name, label, version, moved_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name, label) DO UPDATE SET version = excluded.version, "
                "moved_at = excluded.moved_at",
                (name, label, version, now),
            )
            conn.execute(
                "INSERT INTO prompt_label_moves (name, label, from_version, to_version, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, label, current, version, now),
            )
        return LabelMove(label, current, version, now)

    async def label_history(self, name: str) -> list[LabelMove]:
        return [
            LabelMove(label, from_version, to_version, at)
            for label, from_version, to_version, at in self._conn.execute(
                "SELECT label, from_version, to_version, at FROM prompt_label_moves "
                "WHERE name = ? ORDER BY id",
                (name,),
            )
        ]
