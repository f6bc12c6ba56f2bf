"""The tenant directory: keys as hashes, and changes made by other processes."""

from __future__ import annotations

from pathlib import Path

from sluicegate.state.directory import Directory, hash_key
from sluicegate.state.sqlite import open_database


def test_a_key_is_stored_only_as_its_hash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/d.db"
    directory = Directory(open_database(url))
    directory.create_tenant("acme")
    _, plaintext = directory.create_key("acme", "ci")
    rows = open_database(url).execute("SELECT key_hash, prefix FROM api_keys").fetchall()
    assert rows == [(hash_key(plaintext), plaintext[:10])]
    assert plaintext not in str(rows[0][0])
    found = directory.authenticate(plaintext)
    assert found is not None and found[1].name == "acme"


def test_changes_by_another_process_are_picked_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/d.db"
    worker_a = Directory(open_database(url))
    worker_b = Directory(open_database(url))
    worker_a.refresh_if_changed()  # worker B's start-up wrote (its migration check)
    assert worker_a.refresh_if_changed() is False, "nothing changed: no rebuild"
    worker_b.create_tenant("acme")
    _, plaintext = worker_b.create_key("acme", "ci")
    assert worker_a.authenticate(plaintext) is None
    assert worker_a.refresh_if_changed() is True
    assert worker_a.authenticate(plaintext) is not None
    key = worker_b.keys("acme")[0]
    worker_b.revoke_key(key.id)
    assert worker_a.refresh_if_changed() is True
    assert worker_a.authenticate(plaintext) is None, "a revocation reaches every worker"
