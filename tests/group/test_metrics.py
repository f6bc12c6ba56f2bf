"""/metrics of a worker group: how the workers' samples merge."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from sluicegate.group.metrics import GroupMetrics, exposition, samples_of
from sluicegate.observability.metrics import Metrics


def worker(requests: int, in_flight: int, durations: list[float]) -> Metrics:
    """A worker's metrics after ``requests`` answers, each ``durations`` long."""
    metrics = Metrics()
    metrics.requests[("acme", "m", "up/x", "200")] = requests
    metrics.in_flight = in_flight
    for seconds in durations:
        metrics.duration["chat", "openai", "m", ""].observe(seconds)
    return metrics


Seen = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(group: GroupMetrics, *workers: Metrics) -> Seen:
    """What Prometheus would read from the group's /metrics."""
    text = exposition(group.merge(samples_of(w.registry) for w in workers)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


REQUESTS = ("sluicegate_requests_total",
            (("alias", "m"), ("status", "200"), ("target", "up/x"), ("tenant", "acme")))
IN_FLIGHT = ("sluicegate_requests_in_flight", ())
LABELS = (("error_type", ""), ("gen_ai_operation_name", "chat"),
          ("gen_ai_provider_name", "openai"), ("gen_ai_request_model", "m"))
SLOW = ("gen_ai_server_request_duration_seconds_bucket", (*LABELS[:4], ("le", "0.64")))
COUNT = ("gen_ai_server_request_duration_seconds_count", LABELS)


def test_counters_histograms_and_gauges_are_summed() -> None:
    group = GroupMetrics()
    seen = scrape(group, worker(7, 1, [0.1, 2.0]), worker(13, 2, [0.3]))
    assert seen[REQUESTS] == 20
    assert seen[IN_FLIGHT] == 3, "in flight in the whole group"
    assert seen[SLOW] == 2  # 0.1 and 0.3 are under 0.64 s
    assert seen[COUNT] == 3


def test_a_worker_that_exits_leaves_its_counters_but_not_its_gauges() -> None:
    group = GroupMetrics()
    dead, alive = worker(7, 1, [0.1]), worker(13, 2, [0.3])
    assert scrape(group, dead, alive)[REQUESTS] == 20
    group.retire(samples_of(dead.registry))
    replacement = worker(0, 0, [])
    seen = scrape(group, alive, replacement)
    assert seen[REQUESTS] == 20, "never goes down"
    assert seen[COUNT] == 2
    assert seen[IN_FLIGHT] == 2
    # Retired counts keep adding to what the live workers count.
    alive.requests[("acme", "m", "up/x", "200")] += 1
    assert scrape(group, alive, replacement)[REQUESTS] == 21


def test_a_label_set_only_a_dead_worker_had_stays() -> None:
    group = GroupMetrics()
    dead = worker(1, 0, [])
    dead.requests[("beta", "m", "up/x", "429")] = 4
    group.retire(samples_of(dead.registry))
    seen = scrape(group, worker(2, 0, []))
    beta = ("sluicegate_requests_total",
            (("alias", "m"), ("status", "429"), ("target", "up/x"), ("tenant", "beta")))
    assert (seen[REQUESTS], seen[beta]) == (3, 4)
