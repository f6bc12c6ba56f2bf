"""Whether tracing is on, decided without importing OpenTelemetry.

The SDK, its exporters and protobuf are about 130 modules and 15 MB of a
process that does not trace; they are imported only when a collector is named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sluicegate.config.schema import ObservabilityConfig

OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"


def collector_named(config: ObservabilityConfig, env: Mapping[str, str] | None = None) -> bool:
    """A collector is configured, or named by the standard environment variables."""
    env = os.environ if env is None else env
    return config.otlp_endpoint is not None or bool(
        env.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or env.get(OTEL_EXPORTER_OTLP_ENDPOINT)
    )
