"""The embedded SQLite database: its schema is brought up to date when it is opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sluicegate.state.sqlite import MIGRATIONS, open_database


def test_a_database_of_the_previous_version_gains_the_unpriced_flag(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:3]:
        old.executescript(migration)
    old.execute("PRAGMA user_version = 3")
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
