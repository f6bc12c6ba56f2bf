"""bench/drift.py's parts: the synthetic stream is the traffic it says it is, and
the runner reads any source of signal dicts. The figures come from the bench."""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from drift import SHIFTS, Shift, Signals, Traffic, main, synthetic
from sluicegate.drift import Direction, Metric


def rate(requests: list[Signals], metric: Metric) -> tuple[float, int]:
    values = [r[metric] for r in requests if r[metric] is not None]
    return sum(1 for v in values if v) / len(values), len(values)


def test_the_steady_stream_has_the_documented_rates() -> None:
    requests = list(islice(synthetic(None, 1), 40_000))
    assert all(set(r) == {m.value for m in Metric} for r in requests)
    t = Traffic()
    assert rate(requests, Metric.ERROR_RATE)[0] == pytest.approx(t.error_rate, abs=0.002)
    refusals, answered = rate(requests, Metric.REFUSAL_RATE)
    assert refusals == pytest.approx(t.refusal_rate, abs=0.003)
    assert answered == pytest.approx(40_000 * (1 - t.error_rate), rel=0.01)
    assert rate(requests, Metric.CONTRACT_VALID_RATE)[1] == pytest.approx(answered / 2, rel=0.03)
    assert rate(requests, Metric.FEEDBACK)[1] == pytest.approx(answered / 10, rel=0.05)
    lengths = sorted(r["output_tokens"] or 0 for r in requests if r["output_tokens"] is not None)
    assert 180 < lengths[len(lengths) // 2] < 220


def test_a_shift_changes_its_knob_and_an_unknown_knob_is_refused() -> None:
    refusals = next(s for s in SHIFTS if s.name == "refusals")
    assert rate(list(islice(synthetic(refusals, 2), 20_000)), Metric.REFUSAL_RATE)[0] > 0.08
    with pytest.raises(ValueError, match="no knob"):
        next(synthetic(Shift("x", Metric.ERROR_RATE, Direction.UP, {"nope": 1.0}, 10), 1))


def test_the_runner_prints_the_headline(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--runs", "2", "--fa-runs", "1", "--fa-requests", "2000", "--baseline", "3000",
          "--warmup", "100"])
    out = capsys.readouterr().out
    assert "HEADLINE" in out and "false alarms:" in out and "--seed-base 1 (measurement" in out
