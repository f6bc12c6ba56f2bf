"""Prometheus metrics about every request, cheap to record on the hot path.

prometheus_client's own Counter and Histogram take a lock and validate labels
on every update; at the gateway's request rate that was a fifth of its own
cost per request. Requests are recorded here as plain dict arithmetic on the
event loop thread instead, and turned into Prometheus metric families only
when ``/metrics`` is scraped (prometheus_client still does the exposition).

Names follow the OpenTelemetry GenAI conventions where they name a thing
(``gen_ai_client_token_usage``, ``gen_ai_server_time_to_first_token``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _Histogram:
    """Bucket counts (not yet cumulative), sum and count for one label set."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return out


class Metrics:
    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
        self.tokens: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.cost: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.attempts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.duration: defaultdict[str, _Histogram] = defaultdict(_Histogram)
        self.ttft: defaultdict[str, _Histogram] = defaultdict(_Histogram)
        self.in_flight = 0
        # Parts that keep their own counts (limiter, queues, alerts) and report
        # them at scrape time; see ``add_source``.
        self._sources: list[Callable[[], Iterable[Metric]]] = []
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        # A worker of a group answers /metrics for the whole group (sluicegate.group).
        self.aggregate: Callable[[], Awaitable[bytes]] | None = None

    def add_source(self, source: Callable[[], Iterable[Metric]]) -> None:
        """Have ``source()`` add its metric families to every scrape."""
        self._sources.append(source)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def scrape(self) -> bytes:
        """What ``/metrics`` answers: this process's metrics, or its group's."""
        if self.aggregate is None:
            return self.exposition()
        return await self.aggregate()

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client at scrape time."""
        yield counter(
            "sluicegate_requests",
            "Requests answered, by tenant, model alias, serving target and HTTP status.",
            ["tenant", "alias", "target", "status"],
            self.requests.items(),
        )
        yield counter(
            "gen_ai_client_token_usage",
            "Tokens used, by tenant, alias and type (input, output, cached).",
            ["tenant", "alias", "type"],
            self.tokens.items(),
        )
        yield counter(
            "sluicegate_cost_usd",
            "Spend in US dollars, by tenant and alias.",
            ["tenant", "alias"],
            self.cost.items(),
        )
        yield counter(
            "sluicegate_upstream_attempts",
            "Upstream calls made, including retries and fallbacks, by target and result "
            "(ok, or the error code of a failed call).",
            ["target", "result"],
            self.attempts.items(),
        )
        yield self._histogram(
            "gen_ai_server_request_duration_seconds",
            "Whole request duration as seen by the gateway.",
            self.duration,
        )
        yield self._histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from receiving the request to the upstream's first event.",
            self.ttft,
        )
        yield GaugeMetricFamily(
            "sluicegate_requests_in_flight", "Requests being served now.", value=self.in_flight
        )
        for source in self._sources:
            yield from source()

    @staticmethod
    def _histogram(name: str, doc: str, series: dict[str, _Histogram]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=["alias"])
        for alias, histogram in series.items():
            family.add_metric([alias], histogram.buckets(), histogram.total)
        return family


def gauge(
    name: str, doc: str, labels: list[str], series: Iterable[tuple[tuple[str, ...], float]]
) -> GaugeMetricFamily:
    """A gauge family from ``(label values, value)`` pairs."""
    return _filled(GaugeMetricFamily(name, doc, labels=labels), series)


def counter(
    name: str, doc: str, labels: list[str], series: Iterable[tuple[tuple[str, ...], float]]
) -> CounterMetricFamily:
    """A counter family from ``(label values, count)`` pairs."""
    return _filled(CounterMetricFamily(name, doc, labels=labels), series)


_Family = TypeVar("_Family", GaugeMetricFamily, CounterMetricFamily)


def _filled(family: _Family, series: Iterable[tuple[tuple[str, ...], float]]) -> _Family:
    for values, value in series:
        family.add_metric(list(values), value)
    return family
