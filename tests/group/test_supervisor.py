"""The supervisor's policies (its processes are tested in tests/e2e/test_workers.py)."""

from __future__ import annotations

from typing import Any

from sluicegate.config.loader import validate_config
from sluicegate.group.supervisor import RestartBudget, Supervisor

CONFIG: dict[str, Any] = {
    "providers": [{"name": "up", "type": "echo"}],
    "models": [{"name": "m", "targets": [{"provider": "up", "model": "x"}]}],
}


def test_restarts_are_allowed_until_a_crash_loop() -> None:
    budget = RestartBudget(limit=3, window_s=60.0)
    assert [budget.allow(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert not budget.allow(3.0), "a fourth exit within a minute stops the group"
    assert budget.allow(60.5), "the first exit has left the window"
    assert not budget.allow(60.6), "three within the minute before"


async def test_a_worker_started_after_a_reload_runs_it_with_the_storage_it_started_with() -> None:
    started = validate_config({**CONFIG, "storage": {"url": "sqlite:///./a.db"}})
    supervisor = Supervisor(started, reload_source=None, workers=2,
                            run_worker=lambda config, channels: 0, on_ready=lambda: None)
    new = validate_config({**CONFIG, "storage": {"url": "sqlite:///./b.db",
                                                 "redis_url": "redis://127.0.0.1:6379/0"},
                           "models": [*CONFIG["models"], {"name": "new", "targets": [
                               {"provider": "up", "model": "y"}]}]})
    outcome = await supervisor.apply(new)
    assert outcome == {"workers": 0, "reloaded": 0, "errors": []}
    assert [m.name for m in supervisor.config.models] == ["m", "new"]
    assert supervisor.config.storage == started.storage, "storage changes need a restart"


def test_without_redis_the_group_keeps_one_idempotency_store_with_the_configured_bounds() -> None:
    settings = {"ttl_s": 60.0, "max_entry_bytes": 1000, "max_bytes": 5000}
    config = validate_config({**CONFIG, "idempotency": settings})
    supervisor = Supervisor(config, reload_source=None, workers=2,
                            run_worker=lambda config, channels: 0, on_ready=lambda: None)
    assert supervisor.idempotency is not None
    store = supervisor.idempotency.store
    assert (store.ttl_s, store.max_entry_bytes, store.max_bytes) == (60.0, 1000, 5000)

    shared = validate_config({**CONFIG, "storage": {"redis_url": "redis://127.0.0.1:6379/0"}})
    with_redis = Supervisor(shared, reload_source=None, workers=2,
                            run_worker=lambda config, channels: 0, on_ready=lambda: None)
    assert with_redis.idempotency is None, "the workers share Redis instead"
