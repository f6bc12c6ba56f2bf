"""The supervisor's restart policy (the processes are tested in tests/e2e/test_workers.py)."""

from __future__ import annotations

from sluicegate.group.supervisor import RestartBudget


def test_restarts_are_allowed_until_a_crash_loop() -> None:
    budget = RestartBudget(limit=3, window_s=60.0)
    assert [budget.allow(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert not budget.allow(3.0), "a fourth exit within a minute stops the group"
    assert budget.allow(60.5), "the first exit has left the window"
    assert not budget.allow(60.6), "three within the minute before"
