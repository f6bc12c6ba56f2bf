"""The policy layers around one call of a target, one policy each (see upstream.call)."""

from sluicegate.upstream.layers.breaker import BreakerLayer
from sluicegate.upstream.layers.capacity import CapacityLayer
from sluicegate.upstream.layers.health import HealthLayer
from sluicegate.upstream.layers.retry import RetryLayer

__all__ = ["BreakerLayer", "CapacityLayer", "HealthLayer", "RetryLayer"]
