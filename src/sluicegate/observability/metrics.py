"""Prometheus metrics, in a registry owned by the gateway (no process globals).

Names follow the OpenTelemetry GenAI conventions where they name a thing
(``gen_ai_client_token_usage``, ``gen_ai_server_time_to_first_token``).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sluicegate_requests",
            "Requests answered, by tenant, model alias, serving target and HTTP status.",
            ["tenant", "alias", "target", "status"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "gen_ai_client_token_usage",
            "Tokens used, by tenant, alias and type (input, output, cached).",
            ["tenant", "alias", "type"],
            registry=self.registry,
        )
        self.cost = Counter(
            "sluicegate_cost_usd",
            "Spend in US dollars, by tenant and alias.",
            ["tenant", "alias"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Whole request duration as seen by the gateway.",
            ["alias"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from receiving the request to the upstream's first event.",
            ["alias"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_attempts = Counter(
            "sluicegate_upstream_attempts",
            "Upstream calls made, including retries and fallbacks.",
            ["target"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "sluicegate_requests_in_flight", "Requests being served now.", registry=self.registry
        )
        # labels() validates and locks on every call; the children it returns
        # are stable, so each label combination is looked up once.
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
