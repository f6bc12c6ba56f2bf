"""Drift detectors, measured: how soon they see a shift, how often they cry wolf.

Each run estimates the seven metrics' baselines from the first ``--baseline``
requests of a steady stream (a finite sample, as the gateway has), builds the
detectors of ``sluicegate.drift`` on them and feeds them on:

1. Detection, per shift scenario and ``--runs`` runs: ``--warmup`` more steady
   requests (so that the charts start where steady traffic leaves them, not at
   zero), then the shifted stream; the delay is the number of requests after the
   shift until the scenario's metric alarms in the shift's direction. Printed:
   median, p95 and max delay, and how many runs missed the goal (no alarm within
   it; a run is followed to five times the goal so that the delays of those are
   known too).
2. False alarms: ``--fa-runs`` runs of ``--fa-requests`` steady requests with all
   seven detectors; every alarm is a false one (a detector starts again after an
   alarm). Printed: alarms per 50,000 requests, all metrics together and each.

Goals (issue 15): refusals 2 % -> 10 % detected within 1,000 requests; output
length +30 % within 500; at most one false alarm per 50,000 steady requests, all
seven metrics together. The other scenarios' goals are ours ("sensibly"): the
request counts below, given how few requests carry feedback or a contract.
A detection goal is met when at least 95 % of the runs alarm within it (no
sequential test bounds its delay with certainty; the misses are printed).
Exit status 1 when one of the issue's goals fails.

The constants in ``sluicegate/drift/detectors.py`` were tuned on
``--seed-base 0``; the figures to report come from any other base (default 1).

The traffic comes from a *source*, ``source(shift, seed) -> iterator of signal
dicts`` (one dict per request, keyed by metric name, ``None`` where a request has
no such value), so that a stream read from a gateway run against a fake upstream
can replace the synthetic one (``Shift.changes`` names the behaviour to change).

    PYTHONPATH=src .venv/bin/python bench/drift.py [--runs 50] [--fa-runs 20] [--seed-base 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from itertools import islice

import numpy as np

from sluicegate.drift import Baseline, Detector, Direction, Metric

Signals = dict[str, float | None]
"""One request's behaviour signals: metric name -> value (a bool for a rate), or None."""

Source = Callable[["Shift | None", int], Iterator[Signals]]
"""``source(shift, seed)``: an endless stream of requests, steady when ``shift`` is None."""

TUNING_SEED_BASE = 0
SEED_STRIDE = 1_000_000  # seeds of one base: base * stride + purpose + index, never overlapping
FALSE_ALARM_PURPOSE = 900_000
SHIFTED_PURPOSE = 500_000
CHUNK = 4096
MAX_MISSED = 0.05  # a detection goal's share of runs allowed to miss it


@dataclass(frozen=True)
class Traffic:
    """The synthetic stream's behaviour (each field is a knob a Shift may turn).

    Output tokens lognormal (median 200, sigma 0.8), length-finished answers stopped
    at max_tokens and refusals short; latency the time to first token (lognormal)
    plus a per-token time (lognormal) per output token, with 2 % of requests
    retried once after a slow first attempt (a heavier tail than a lognormal's);
    errors have a latency but no answer; a contract on half the requests, feedback
    (thumbs 0/1) on a tenth of the answers.
    """

    output_median: float = 200.0
    output_sigma: float = 0.8
    output_scale: float = 1.0
    max_tokens: int = 1024
    refusal_tokens_median: float = 40.0
    ttft_median_ms: float = 400.0
    ttft_sigma: float = 0.5
    ms_per_token_median: float = 15.0
    ms_per_token_sigma: float = 0.25
    retry_rate: float = 0.02
    retry_ms_median: float = 3000.0
    latency_scale: float = 1.0
    refusal_rate: float = 0.02
    length_rate: float = 0.01
    error_rate: float = 0.005
    contract_share: float = 0.5
    contract_valid_rate: float = 0.99
    feedback_share: float = 0.10
    thumbs_up_rate: float = 0.8


@dataclass(frozen=True)
class Shift:
    name: str
    metric: Metric
    direction: Direction
    changes: dict[str, float]
    goal: int  # requests after the shift
    issue_goal: bool = False  # the issue's goal (failing it fails the bench), else ours
    label: str = field(default="")


SHIFTS = [
    Shift("refusals", Metric.REFUSAL_RATE, Direction.UP, {"refusal_rate": 0.10}, 1000, True,
          "refusal rate 2% -> 10%"),
    Shift("output", Metric.OUTPUT_TOKENS, Direction.UP, {"output_scale": 1.3}, 500, True,
          "output tokens +30%"),
    Shift("length", Metric.LENGTH_FINISH_RATE, Direction.UP, {"length_rate": 0.05}, 1000,
          label="length finish 1% -> 5%"),
    Shift("errors", Metric.ERROR_RATE, Direction.UP, {"error_rate": 0.03}, 2000,
          label="error rate 0.5% -> 3%"),
    Shift("contracts", Metric.CONTRACT_VALID_RATE, Direction.DOWN,
          {"contract_valid_rate": 0.90}, 1000, label="contract-valid 99% -> 90%"),
    Shift("latency", Metric.LATENCY_MS, Direction.UP, {"latency_scale": 1.5}, 500,
          label="latency +50%"),
    Shift("feedback", Metric.FEEDBACK, Direction.DOWN, {"thumbs_up_rate": 0.65}, 10_000,
          label="feedback 0.80 -> 0.65 (thumbs on 10%)"),
]


def synthetic(shift: Shift | None, seed: int) -> Iterator[Signals]:
    """The synthetic source: :class:`Traffic`, with ``shift``'s changes applied."""
    known = {f.name for f in fields(Traffic)}
    changes = shift.changes if shift else {}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"the synthetic source has no knob {sorted(unknown)}")
    t = replace(Traffic(), **changes)  # type: ignore[arg-type]  # knobs checked above
    rng = np.random.default_rng(seed)
    while True:
        yield from _chunk(t, rng)


def _chunk(t: Traffic, rng: np.random.Generator) -> Iterator[Signals]:
    n = CHUNK
    error = rng.random(n) < t.error_rate
    refusal = rng.random(n) < t.refusal_rate
    length = (rng.random(n) < t.length_rate) & ~refusal
    tokens = rng.lognormal(math.log(t.output_median), t.output_sigma, n) * t.output_scale
    tokens = np.where(refusal, rng.lognormal(math.log(t.refusal_tokens_median), 0.3, n), tokens)
    tokens = np.where(length, t.max_tokens, np.minimum(tokens, t.max_tokens - 1))
    tokens = np.maximum(np.rint(tokens), 1)
    ttft = rng.lognormal(math.log(t.ttft_median_ms), t.ttft_sigma, n)
    per_token = rng.lognormal(math.log(t.ms_per_token_median), t.ms_per_token_sigma, n)
    retried = rng.random(n) < t.retry_rate
    retry = np.where(retried, rng.lognormal(math.log(t.retry_ms_median), 0.5, n), 0.0)
    latency = (np.where(error, ttft, ttft + tokens * per_token) + retry) * t.latency_scale
    contract = rng.random(n) < t.contract_share
    valid = rng.random(n) < t.contract_valid_rate
    feedback = rng.random(n) < t.feedback_share
    thumbs = (rng.random(n) < t.thumbs_up_rate).astype(float)
    for e, r, ln, tok, lat, c, v, f, th in zip(
        error.tolist(), refusal.tolist(), length.tolist(), tokens.tolist(), latency.tolist(),
        contract.tolist(), valid.tolist(), feedback.tolist(), thumbs.tolist(), strict=True
    ):
        if e:
            yield {"error_rate": True, "latency_ms": lat, "output_tokens": None,
                   "refusal_rate": None, "length_finish_rate": None,
                   "contract_valid_rate": None, "feedback": None}
        else:
            yield {"error_rate": False, "latency_ms": lat, "output_tokens": tok,
                   "refusal_rate": r, "length_finish_rate": ln,
                   "contract_valid_rate": v if c else None, "feedback": th if f else None}


def seed_of(seed_base: int, purpose: int, index: int) -> int:
    return seed_base * SEED_STRIDE + purpose + index


def baselines(requests: list[Signals]) -> dict[Metric, Baseline]:
    return {m: Baseline.of(m, (r[m] for r in requests)) for m in Metric}


@dataclass
class Detection:
    delays: list[int | None]  # requests after the shift; None = none within 5x the goal
    insufficient: int


def detect(source: Source, shift: Shift, runs: int, baseline_n: int, warmup: int,
           seed_base: int, index: int) -> Detection:
    delays: list[int | None] = []
    insufficient = 0
    horizon = 5 * shift.goal
    for run in range(runs):
        seed = seed_of(seed_base, index * 10_000, run)
        steady = source(None, seed)
        baseline = Baseline.of(shift.metric, (r[shift.metric] for r in islice(steady, baseline_n)))
        if not baseline.sufficient:
            insufficient += 1
            continue
        detector = Detector.for_baseline(baseline)
        for r in islice(steady, warmup):
            detector.feed(r[shift.metric])
        delay = None
        shifted = source(shift, seed_of(seed_base, SHIFTED_PURPOSE + index * 10_000, run))
        for i, r in enumerate(islice(shifted, horizon), 1):
            alarm = detector.feed(r[shift.metric])
            if alarm is not None and alarm.direction is shift.direction:
                delay = i
                break
        delays.append(delay)
    return Detection(delays, insufficient)


@dataclass
class FalseAlarms:
    alarms: Counter[Metric]
    runs_with_alarm: int
    insufficient: Counter[Metric]


def false_alarms(source: Source, runs: int, requests: int, baseline_n: int,
                 seed_base: int) -> FalseAlarms:
    alarms: Counter[Metric] = Counter()
    insufficient: Counter[Metric] = Counter()
    runs_with_alarm = 0
    for run in range(runs):
        steady = source(None, seed_of(seed_base, FALSE_ALARM_PURPOSE, run))
        detectors: list[tuple[str, Detector]] = []
        for metric, baseline in baselines(list(islice(steady, baseline_n))).items():
            if baseline.sufficient:
                detectors.append((metric.value, Detector.for_baseline(baseline)))
            else:
                insufficient[metric] += 1
        before = sum(alarms.values())
        for r in islice(steady, requests):
            for name, detector in detectors:
                if detector.feed(r[name]) is not None:
                    alarms[detector.metric] += 1
        runs_with_alarm += sum(alarms.values()) > before
    return FalseAlarms(alarms, runs_with_alarm, insufficient)


def quantile(xs: list[int], q: float) -> int:
    """The nearest-rank quantile."""
    ordered = sorted(xs)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def main(argv: list[str] | None = None, source: Source = synthetic) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="runs per shift scenario")
    parser.add_argument("--fa-runs", type=int, default=20, help="steady runs for false alarms")
    parser.add_argument("--fa-requests", type=int, default=50_000, help="requests per steady run")
    parser.add_argument("--baseline", type=int, default=5000, help="baseline requests")
    parser.add_argument("--warmup", type=int, default=1000, help="steady requests before a shift")
    parser.add_argument("--seed-base", type=int, default=1,
                        help=f"seed family (the constants were tuned on {TUNING_SEED_BASE})")
    parser.add_argument("--only", default="",
                        help="comma-separated scenarios and/or false-alarms (default all)")
    args = parser.parse_args(argv)

    tuned = args.seed_base == TUNING_SEED_BASE
    print(f"seeds: --seed-base {args.seed_base} "
          + ("(THE TUNING SEEDS: figures optimistic, do not report)" if tuned
             else f"(measurement; the constants were tuned on --seed-base {TUNING_SEED_BASE})"))
    print(f"baseline: the first {args.baseline} requests of each run; "
          f"{args.warmup} steady requests before each shift\n")
    started = time.perf_counter()
    failed: list[str] = []
    headline: list[str] = []
    wanted = set(filter(None, args.only.split(",")))
    print(f"{'scenario':40} {'goal':>6} {'median':>7} {'p95':>6} {'max':>6} {'missed':>8}")
    for index, shift in enumerate(SHIFTS):
        if wanted and shift.name not in wanted:
            continue
        result = detect(source, shift, args.runs, args.baseline, args.warmup,
                        args.seed_base, index)
        found = [d for d in result.delays if d is not None]
        missed = sum(1 for d in result.delays if d is None or d > shift.goal)
        unseen = sum(1 for d in result.delays if d is None)
        if found:
            med, p95 = statistics.median(found), quantile(found, 0.95)
            worst: str = str(max(found)) if not unseen else f">{5 * shift.goal}"
        else:
            med, p95, worst = math.nan, 0, "-"
        goal = f"{shift.goal}{'*' if shift.issue_goal else ''}"
        line = (f"{shift.label:40} {goal:>6} {med:>7.0f} {p95:>6} {worst:>6} "
                f"{missed:>3}/{len(result.delays):<4}")
        if result.insufficient:
            line += f" ({result.insufficient} baselines insufficient)"
        print(line, flush=True)
        if shift.issue_goal:
            headline.append(f"{shift.label}: missed the {shift.goal}-request goal in {missed} of "
                            f"{len(result.delays)} runs (median delay {med:.0f}, p95 {p95}, "
                            f"max {worst})")
            if missed > MAX_MISSED * len(result.delays) or result.insufficient:
                failed.append(shift.label)
    print("(* the issue's goals, met when at most 5% of the runs miss them; delays and goals "
          "in requests after the shift)\n")

    if not wanted or "false-alarms" in wanted:
        fa = false_alarms(source, args.fa_runs, args.fa_requests, args.baseline, args.seed_base)
        total = sum(fa.alarms.values())
        per = total / (args.fa_runs * args.fa_requests) * 50_000
        print(f"false alarms: {args.fa_runs} runs x {args.fa_requests} steady requests, "
              f"seven detectors")
        for metric in Metric:
            note = f"  ({fa.insufficient[metric]} baselines insufficient)" \
                if fa.insufficient[metric] else ""
            print(f"  {metric.value:22} {fa.alarms[metric]:>4} alarms{note}")
        print(f"  all seven: {total} alarms, {per:.2f} per 50,000 requests; "
              f"{fa.runs_with_alarm} of {args.fa_runs} runs had any\n")
        headline.append(f"false alarms: {per:.2f} per 50,000 steady requests, all seven "
                        f"detectors ({total} in {args.fa_runs * args.fa_requests:,} requests)")
        if per > 1:
            failed.append("false alarms")

    print("HEADLINE")
    for line in headline:
        print(f"  {line}")
    print(f"({time.perf_counter() - started:.0f} s)")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
