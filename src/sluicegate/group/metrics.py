"""``/metrics`` for a whole worker group: every worker's samples, merged by the
supervisor.

A worker asked for ``/metrics`` asks the supervisor, which collects every
worker's samples (``samples_of`` their registries) and merges them:

- counters and histograms (buckets, ``_count``, ``_sum``) are summed;
- gauges are summed, unless listed in ``MAX_GAUGES`` (then the largest value
  wins). Every gauge the gateway has counts something each worker holds for
  itself (requests in flight, requests waiting in its queues), so the group's
  value is the sum; a gauge that reports state every worker shares (a
  setting, a shared counter read from Redis) would be listed as a maximum;
- a worker that exits leaves its last collected counters and histograms
  behind (``retire``), added to every later scrape, so that restarting a
  worker never makes a counter go down (which Prometheus would read as a
  reset). What it counted after the last scrape before it died is lost; its
  gauges go with it.

prometheus_client's multiprocess mode does this with a memory-mapped file per
process, but only for its own metric classes, which the hot path does not use
(see ``sluicegate.observability.metrics``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, float]  # sample name, labels, value
Family = tuple[str, str, str, list[Sample]]  # name, type, documentation, samples
Samples = list[Family]
"""One process's metrics in a form that pickles: what a worker sends."""

MAX_GAUGES: frozenset[str] = frozenset()
"""Gauges merged by their largest value rather than summed (none yet)."""

_ADDITIVE = frozenset({"counter", "histogram", "summary", "gaugehistogram"})
_MONOTONIC = frozenset({"counter", "histogram", "summary"})


def samples_of(registry: CollectorRegistry) -> Samples:
    """Everything ``registry`` reports now."""
    return [
        (
            metric.name,
            metric.type,
            metric.documentation,
            [(s.name, tuple(s.labels.items()), s.value) for s in metric.samples],
        )
        for metric in registry.collect()
    ]


class GroupMetrics:
    """Merges workers' samples; remembers the counters of workers that exited."""

    def __init__(self) -> None:
        self._retired: dict[str, tuple[str, str, dict[tuple[str, Labels], float]]] = {}

    def retire(self, samples: Samples) -> None:
        """A worker exited: keep its counters and histograms in every later merge."""
        for name, kind, doc, series in samples:
            if kind not in _MONOTONIC:
                continue
            _, _, kept = self._retired.setdefault(name, (kind, doc, {}))
            for sample, labels, value in series:
                kept[(sample, labels)] = kept.get((sample, labels), 0.0) + value

    def merge(self, workers: Iterable[Samples]) -> list[Metric]:
        """The group's metric families, from each live worker's samples."""
        merged: dict[str, tuple[str, str, dict[tuple[str, Labels], float]]] = {}
        for samples in workers:
            for name, kind, doc, series in samples:
                _, _, values = merged.setdefault(name, (kind, doc, {}))
                largest = kind not in _ADDITIVE and (kind != "gauge" or name in MAX_GAUGES)
                for sample, labels, value in series:
                    key = (sample, labels)
                    old = values.get(key)
                    if old is None:
                        values[key] = value
                    else:
                        values[key] = max(old, value) if largest else old + value
        for name, (kind, doc, kept) in self._retired.items():
            _, _, values = merged.setdefault(name, (kind, doc, {}))
            for key, value in kept.items():
                values[key] = values.get(key, 0.0) + value
        families = []
        for name, (kind, doc, values) in merged.items():
            family = Metric(name, doc, kind)
            for (sample, labels), value in values.items():
                family.add_sample(sample, dict(labels), value)
            families.append(family)
        return families


def exposition(families: Iterable[Metric]) -> bytes:
    """The Prometheus text format of ``families``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(list(families)))
    return generate_latest(registry)


class _Fixed:
    """A collector that reports families made beforehand."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)
