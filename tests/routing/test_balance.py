"""Balancers: the order in which one request tries an alias's targets."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import pytest

from sluicegate.resilience.breaker import CircuitBreaker
from sluicegate.resilience.health import TargetState
from sluicegate.routing.balance import (
    LatencyBalancer,
    LeastInFlightBalancer,
    Strategy,
    WeightedBalancer,
    balancer,
)

STRATEGIES: list[Strategy] = ["weighted", "least_in_flight", "latency"]
DRAWS = 20_000


@dataclass(frozen=True)
class Target:
    weight: float = 1.0


def states(
    in_flight: list[int] | None = None, latency: list[float | None] | None = None
) -> list[TargetState]:
    n = len(in_flight if in_flight is not None else latency or [])
    return [
        TargetState(
            f"p/m{i}",
            CircuitBreaker(),
            in_flight=in_flight[i] if in_flight else 0,
            ewma_latency_s=latency[i] if latency else None,
        )
        for i in range(n)
    ]


def first_picks(
    strategy: Strategy, targets: list[Target], target_states: list[TargetState]
) -> dict[int, float]:
    chooser = balancer(strategy, random.Random(1234))
    counts = Counter(chooser.order(targets, target_states)[0] for _ in range(DRAWS))
    return {i: counts[i] / DRAWS for i in range(len(targets))}


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_every_target_comes_exactly_once(strategy: Strategy, n: int) -> None:
    chooser = balancer(strategy, random.Random(0))
    targets = [Target(weight=i + 1) for i in range(n)]
    target_states = states(in_flight=[i % 2 for i in range(n)], latency=[0.1 * i for i in range(n)])
    for _ in range(50):
        assert sorted(chooser.order(targets, target_states)) == list(range(n))


@pytest.mark.parametrize(
    "weights",
    [[1.0, 1.0], [1.0, 3.0], [1.0, 2.0, 7.0], [0.01, 1.0], [5.0, 5.0, 5.0, 5.0]],
)
def test_weighted_first_picks_follow_the_weights(weights: list[float]) -> None:
    targets = [Target(w) for w in weights]

    share = first_picks("weighted", targets, states(in_flight=[0] * len(weights)))

    total = sum(weights)
    for i, w in enumerate(weights):
        assert share[i] == pytest.approx(w / total, abs=0.015)


def test_weighted_order_is_reproducible_with_a_seed() -> None:
    targets = [Target(1.0), Target(2.0), Target(3.0)]
    runs = [
        [WeightedBalancer(random.Random(9)).order(targets, states([0, 0, 0])) for _ in range(3)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("in_flight", "expected"),
    [
        ([3, 0, 2], [1, 2, 0]),
        ([0, 5], [0, 1]),
        ([7, 6, 5, 4], [3, 2, 1, 0]),
    ],
)
def test_least_in_flight_orders_by_load(in_flight: list[int], expected: list[int]) -> None:
    chooser = LeastInFlightBalancer(random.Random(3))
    targets = [Target(10.0 if i == 0 else 1.0) for i in range(len(in_flight))]
    assert chooser.order(targets, states(in_flight=in_flight)) == expected


def test_least_in_flight_breaks_ties_by_weight() -> None:
    targets = [Target(1.0), Target(3.0), Target(100.0)]
    share = first_picks("least_in_flight", targets, states(in_flight=[2, 2, 3]))
    assert share == pytest.approx({0: 0.25, 1: 0.75, 2: 0.0}, abs=0.015)


def test_latency_prefers_the_faster_of_two() -> None:
    chooser = LatencyBalancer(random.Random(5))
    targets = [Target(), Target()]
    target_states = states(latency=[0.9, 0.2])
    assert all(chooser.order(targets, target_states) == [1, 0] for _ in range(100))


def test_latency_uses_two_random_choices_not_the_global_best() -> None:
    # Of three, the fastest wins whenever drawn (2 pairs of 3), the middle one when
    # paired with the slowest (1 of 3), and the slowest never goes first.
    targets = [Target(), Target(), Target()]
    target_states = states(latency=[0.1, 0.5, 2.0])

    share = first_picks("latency", targets, target_states)

    assert share == pytest.approx({0: 2 / 3, 1: 1 / 3, 2: 0.0}, abs=0.015)


def test_latency_orders_the_rest_by_latency() -> None:
    chooser = LatencyBalancer(random.Random(11))
    targets = [Target() for _ in range(5)]
    latencies = [0.5, 0.1, 0.4, 0.3, 0.2]
    target_states = states(latency=list(latencies))
    for _ in range(50):
        first, *rest = chooser.order(targets, target_states)
        remaining = sorted(set(range(5)) - {first}, key=latencies.__getitem__)
        assert rest == remaining


def test_latency_explores_a_target_with_no_estimate_yet() -> None:
    chooser = LatencyBalancer(random.Random(2))
    targets = [Target(), Target()]
    target_states = states(in_flight=[0, 0], latency=[0.05, None])
    assert chooser.order(targets, target_states) == [1, 0]

    # ... but does not flood it while its first answer is on its way.
    target_states[1].in_flight = 1
    assert chooser.order(targets, target_states) == [0, 1]


def test_latency_weighs_load_too() -> None:
    # Fast but swamped (0.1 s x 10) loses to slower but idle (0.5 s x 1).
    chooser = LatencyBalancer(random.Random(4))
    targets = [Target(), Target()]
    target_states = states(in_flight=[9, 0], latency=[0.1, 0.5])
    assert chooser.order(targets, target_states) == [1, 0]


def test_latency_with_nothing_measured_follows_the_weights() -> None:
    targets = [Target(1.0), Target(3.0)]
    share = first_picks("latency", targets, states(in_flight=[0, 0]))
    # P2C over two targets always compares both; equal cost falls back to the weighted draw.
    assert share == pytest.approx({0: 0.25, 1: 0.75}, abs=0.015)


@pytest.mark.parametrize(
    ("strategy", "kind"),
    [
        ("weighted", WeightedBalancer),
        ("least_in_flight", LeastInFlightBalancer),
        ("latency", LatencyBalancer),
    ],
)
def test_balancer_by_name(strategy: Strategy, kind: type) -> None:
    assert isinstance(balancer(strategy, random.Random()), kind)


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError):
        balancer("round_robin", random.Random())  # type: ignore[arg-type]
