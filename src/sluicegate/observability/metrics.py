"""Prometheus metrics about every request, cheap to record on the hot path.

prometheus_client's own Counter and Histogram take a lock and validate labels
on every update; at the gateway's request rate that was a fifth of its own
cost per request. Requests are recorded here as plain dict arithmetic on the
event loop thread instead, and turned into Prometheus metric families only
when ``/metrics`` is scraped (prometheus_client still does the exposition).

Names, instrument types, units, labels and bucket boundaries follow the
OpenTelemetry GenAI conventions where they name a thing
(``gen_ai_client_token_usage``, ``gen_ai_client_operation_duration_seconds``,
``gen_ai_server_request_duration_seconds``,
``gen_ai_server_time_to_first_token_seconds``). Every label value comes from a
bounded set: tenants, aliases, targets and provider types of the config, the
gateway's own error codes; never a key or anything a request spells.
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

# Explicit bucket boundaries the OpenTelemetry GenAI conventions give each histogram
# (docs/gen-ai/gen-ai-metrics.md), so that a dashboard built for them reads ours.
TOKEN_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
TTFT_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)
# The gateway's own time is sub-millisecond when all is well: the conventions'
# duration buckets start at 10 ms and would put every request in the first one.
OVERHEAD_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)

# Label names of the GenAI histograms (Prometheus spellings of the attributes).
SERVER_LABELS = ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"]
ERROR_LABELS = [*SERVER_LABELS, "error_type"]
TOKEN_LABELS = [*SERVER_LABELS, "gen_ai_token_type"]


class _Histogram:
    """Bucket counts (not yet cumulative), sum and count for one label set."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return out


K = TypeVar("K")


class Histograms(dict[K, _Histogram]):
    """One histogram per label set, all with the same bucket boundaries."""

    __slots__ = ("bounds",)

    def __init__(self, bounds: tuple[float, ...]) -> None:
        super().__init__()
        self.bounds = bounds

    def __missing__(self, key: K) -> _Histogram:
        histogram = self[key] = _Histogram(self.bounds)
        return histogram


class Metrics:
    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
        self.tokens: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.cost: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.attempts: defaultdict[tuple[str, str], int] = defaultdict(int)
        # The GenAI conventions' histograms, keyed by their label values in the order
        # of SERVER_LABELS (+ error_type, or + token type): the gateway as a server of
        # its clients (request model: the alias asked for) and as a client of the
        # upstreams (request model: the target's model).
        self.duration: Histograms[tuple[str, str, str, str]] = Histograms(DURATION_BUCKETS)
        self.ttft: Histograms[tuple[str, str, str]] = Histograms(TTFT_BUCKETS)
        self.client_duration: Histograms[tuple[str, str, str, str]] = Histograms(
            DURATION_BUCKETS
        )
        self.token_usage: Histograms[tuple[str, str, str, str]] = Histograms(TOKEN_BUCKETS)
        self.overhead = _Histogram(OVERHEAD_BUCKETS)
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
            # Was gen_ai_client_token_usage, the name the GenAI conventions give the
            # token histogram below.
            "sluicegate_tokens",
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
        yield histogram(
            "gen_ai_server_request_duration_seconds",
            "GenAI server request duration in seconds: from receiving the request to the "
            "end of its answer (the alias asked for as the request model).",
            ERROR_LABELS,
            self.duration.items(),
            unit="seconds",
        )
        yield histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to first token in seconds, for answered requests: from receiving the "
            "request to the upstream's first event.",
            SERVER_LABELS,
            self.ttft.items(),
            unit="seconds",
        )
        yield histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration in seconds of each upstream call, retries and "
            "fallbacks included: from asking the provider to the end of its answer "
            "(the target's model as the request model).",
            ERROR_LABELS,
            self.client_duration.items(),
            unit="seconds",
        )
        yield histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens ({token}) billed per answered request, "
            "by the serving target's provider and model.",
            TOKEN_LABELS,
            self.token_usage.items(),
        )
        yield histogram(
            "sluicegate_overhead_seconds",
            "The gateway's own time per request in seconds: its whole duration less the "
            "time spent in upstream calls (asking a provider to the end of its answer).",
            [],
            [((), self.overhead)],
            unit="seconds",
        )
        yield GaugeMetricFamily(
            "sluicegate_requests_in_flight", "Requests being served now.", value=self.in_flight
        )
        for source in self._sources:
            yield from source()



def histogram(
    name: str,
    doc: str,
    labels: list[str],
    series: Iterable[tuple[tuple[str, ...], _Histogram]],
    unit: str = "",
) -> HistogramMetricFamily:
    """A histogram family from ``(label values, histogram)`` pairs."""
    family = HistogramMetricFamily(name, doc, labels=labels, unit=unit)
    for values, h in series:
        family.add_metric(list(values), h.buckets(), h.total)
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
