"""bench/observability_memory.py's parts: its traffic plan, and the verdicts it prints.
The figures themselves come from running the bench."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from observability_memory import (
    MB,
    aliases_of,
    memory_verdict,
    metrics_verdict,
    parse_args,
    sample_points,
    series,
)


def test_the_defaults_are_issue_15s_figures() -> None:
    args = parse_args([])
    assert (args.requests, args.tenants, args.aliases, args.warmup) == (
        100_000, 1000, 20, 10_000)
    assert sample_points(args.requests, args.warmup, args.sample_every) == [
        n * 10_000 for n in range(1, 11)]


def test_the_last_sample_is_the_end_even_off_the_step() -> None:
    assert sample_points(25_000, 10_000, 10_000) == [10_000, 20_000, 25_000]


@pytest.mark.parametrize("argv", [
    ["--aliases-per-tenant", "0"], ["--aliases", "5", "--aliases-per-tenant", "6"],
    ["--warmup", "100", "--requests", "100"], ["--storage", "sqlite:///x.db"],
])
def test_nonsense_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_every_alias_is_used_by_about_as_many_tenants() -> None:
    uses = Counter(a for t in range(1000) for a in aliases_of(t, 20, 3))
    assert len(uses) == 20
    assert max(uses.values()) - min(uses.values()) <= 1
    assert all(len(set(aliases_of(t, 20, 3))) == 3 for t in range(1000))


def test_a_plateau_with_a_step_is_flat() -> None:
    rss = [100, 101.6, 101.6, 101.6, 101.6, 101.6, 101.6, 102.3, 102.3, 102.3]
    verdict = memory_verdict([((i + 1) * 10_000, v * MB) for i, v in enumerate(rss)])
    assert verdict.ok, verdict.text


def test_a_leak_of_a_session_a_request_is_not_flat() -> None:
    # 120 bytes per request kept (a session id in a dict): 10.8 MB over 90k requests.
    verdict = memory_verdict([(n, 200 * MB + n * 120) for n in range(10_000, 100_001, 10_000)])
    assert not verdict.ok
    assert "NOT FLAT" in verdict.text


def test_a_slow_leak_under_5_percent_is_still_caught_by_the_trend() -> None:
    # 80 B/request on a 400 MB process: +1.8% over the run, but a steady climb.
    verdict = memory_verdict([(n, 400 * MB + n * 80) for n in range(10_000, 100_001, 10_000)])
    assert not verdict.ok


def test_metrics_pass_under_2_mb_with_no_new_series() -> None:
    warm = b"# HELP x\nx{a=\"1\"} 1.0\nx{a=\"2\"} 2.0\n"
    end = b"# HELP x\nx{a=\"1\"} 1000.0\nx{a=\"2\"} 2000.0\n"
    assert series(end) == 2
    assert metrics_verdict(warm, end).ok


def test_metrics_fail_on_a_series_per_session_or_on_size() -> None:
    warm = b"x{a=\"1\"} 1.0\n"
    assert not metrics_verdict(warm, warm + b"x{a=\"2\"} 1.0\n").ok
    big = b"x{a=\"1\"} " + b"1" * (2 * MB) + b"\n"
    assert not metrics_verdict(big, big).ok
