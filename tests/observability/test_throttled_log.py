"""A throttled log writes a burst, then a few lines a second, and says what it left out."""

from __future__ import annotations

import logging

import pytest

from sluicegate.observability.throttled_log import ThrottledLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_a_second_per_key(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    throttled = ThrottledLog(logging.getLogger("t"), per_s=1.0, burst=3, clock=clock)
    with caplog.at_level(logging.WARNING, logger="t"):
        written = [throttled.warning("up0", "failed %d", i) for i in range(10)]
        assert written == [True] * 3 + [False] * 7
        assert throttled.warning("up1", "another target has its own share")
        clock.now += 1.0
        assert throttled.warning("up0", "failed again")
    assert caplog.messages[-1] == "failed again (7 similar lines not logged)"
    assert len(caplog.messages) == 5
