"""The embedded SQLite database: its schema is brought up to date when it is opened."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from sluicegate.state.directory import config_tenant_id, legacy_tenant_id
from sluicegate.state.sqlite import MIGRATIONS, open_database

LEDGER_ROW = (
    "INSERT INTO ledger (id, request_id, ts, tenant, protocol, operation, stream, tags, status,"
    " input_tokens, output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,"
    " estimated, cost_usd, latency_ms) VALUES"
    " (?, ?, ?, ?, 'openai', 'chat', 0, '[]', 200, 1, 1, 0, 0, 0, 0, 0.5, 1.0)"
)


def database_at(path: Path, version: int) -> sqlite3.Connection:
    """A database as sluicegate left it at schema ``version``."""
    old = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:version]:
        old.executescript(migration)
    old.execute(f"PRAGMA user_version = {version}")
    return old


def test_a_database_of_the_previous_version_gains_the_unpriced_flag(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = database_at(path, 3)
    old.execute(
        "INSERT INTO ledger (id, request_id, ts, protocol, operation, stream, tags, status,"
        " input_tokens, output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,"
        " estimated, cost_usd, latency_ms) VALUES"
        " ('r1', 'q1', 1.0, 'openai', 'chat', 0, '[]', 200, 1, 1, 0, 0, 0, 0, 0.5, 1.0)"
    )
    old.close()

    conn = open_database(f"sqlite:///{path}")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT id, unpriced FROM ledger").fetchall() == [("r1", 0)]
    conn.close()


def test_tenants_and_their_usage_get_ids_on_upgrade(tmp_path: Path) -> None:
    """Version 4 kept tenants and usage by name only; a row older than the tenant of its
    name was a deleted namesake's, and gets an id of its own, as do rows of names no
    tenant has now."""
    path = tmp_path / "old.db"
    old = database_at(path, 4)
    for name, source in (("acme", "config"), ("beta", "admin")):
        old.execute(
            "INSERT INTO tenants (name, models, limits, source, created_at)"
            " VALUES (?, NULL, '{}', ?, 1000.0)",
            (name, source),
        )
    for n, (ts, tenant) in enumerate(
        [(1500.0, "acme"), (500.0, "acme"), (1500.0, "beta"), (1500.0, "gone"), (1500.0, None)]
    ):
        old.execute(LEDGER_ROW, (f"r{n}", f"q{n}", ts, tenant))
    old.close()

    conn = open_database(f"sqlite:///{path}")
    ids = dict(conn.execute("SELECT name, id FROM tenants").fetchall())
    assert ids["acme"] == config_tenant_id("acme"), "what the config's sync would give it"
    assert re.fullmatch(r"ten_[0-9a-f]{16}", ids["beta"])
    rows = conn.execute("SELECT id, tenant_id FROM ledger ORDER BY id").fetchall()
    assert rows == [
        ("r0", ids["acme"]),
        ("r1", legacy_tenant_id("acme")),  # before this acme existed
        ("r2", ids["beta"]),
        ("r3", legacy_tenant_id("gone")),
        ("r4", None),
    ]
    with pytest.raises(sqlite3.IntegrityError, match="never changes"):
        conn.execute("UPDATE tenants SET id = 'ten_other' WHERE name = 'beta'")
    with pytest.raises(sqlite3.IntegrityError, match="needs an id"):
        conn.execute(
            "INSERT INTO tenants (name, limits, source, created_at) VALUES ('x', '{}', 'admin', 1)"
        )
    conn.close()
