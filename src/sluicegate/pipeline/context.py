"""What one request carries through the pipeline."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sluicegate.canonical import ChatRequest, EmbeddingRequest, GatewayError, Usage

if TYPE_CHECKING:
    from sluicegate.routing.aliases import Alias, Target
    from sluicegate.runtime import Runtime
    from sluicegate.state.directory import ApiKey, Tenant

Protocol = Literal["openai", "anthropic"]
Operation = Literal["chat", "embeddings"]
CanonicalRequest = ChatRequest | EmbeddingRequest


@dataclass(slots=True, eq=False)
class RequestContext:
    """Everything the stages know about one request; each stage fills in its part.

    ``runtime`` is the configuration snapshot the request started with: a
    reload mid-request does not change the rules under it. The body is read
    and decoded by a stage (not before the pipeline) so that even a malformed
    or oversized request is settled and recorded like any other.
    """

    id: str  # unique per request: the ledger record's key
    request_id: str  # the client-visible x-request-id (the client may choose it)
    protocol: Protocol
    operation: Operation
    headers: Mapping[str, str]
    runtime: Runtime
    read_body: Callable[[], Awaitable[bytes]]
    decode: Callable[[bytes], CanonicalRequest]
    received_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    # decode
    request: CanonicalRequest | None = None
    # authenticate
    api_key: ApiKey | None = None
    tenant: Tenant | None = None
    tags: tuple[str, ...] = ()
    # resolve
    alias: Alias | None = None
    # admit: x-ratelimit-* headers for the response
    rate_limit_headers: dict[str, str] | None = None
    # route: (alias, target) in the order to try; fallback aliases' targets follow
    targets: list[tuple[Alias, Target]] = field(default_factory=list)
    # call upstream: the target that answered and the alias it belongs to
    target: Target | None = None
    serving_alias: Alias | None = None
    attempts: int = 0
    # Every target considered, in order: (label, "ok" or why it did not serve).
    attempt_log: list[tuple[str, str]] = field(default_factory=list)
    # The alias that stood in because every target of the requested one was down.
    degraded: str | None = None
    # Answered from the Idempotency-Key store: no upstream call, nothing to charge;
    # the label of the target that served the first request (a cache hit sets it too).
    replayed: bool = False
    replayed_target: str | None = None
    # cache: "hit" or "miss" when the response cache was consulted (None: it was
    # not); on a hit the stored answer's age, and what the upstream call it
    # replaced would have cost (the hit itself costs nothing).
    cache: str | None = None
    cache_age_s: float = 0.0
    saved_usd: float = 0.0
    first_event_at: float | None = None
    # settle: the usage and cost recorded, and what stages asked to run then
    usage: Usage | None = None
    cost_usd: float = 0.0
    finalizers: list[Callable[[RequestContext], Awaitable[None]]] | None = None
    output_chars: int = 0
    error: GatewayError | None = None
    client_closed: bool = False

    def on_settled(self, finalizer: Callable[[RequestContext], Awaitable[None]]) -> None:
        """Run ``finalizer`` once the answer has ended and been recorded (usage and
        cost are then final): how a stage settles what it reserved without
        wrapping the event stream."""
        if self.finalizers is None:
            self.finalizers = []
        self.finalizers.append(finalizer)

    @property
    def decoded(self) -> CanonicalRequest:
        """The canonical request; stages after Decode may rely on it."""
        if self.request is None:
            raise RuntimeError("request used before the Decode stage ran")
        return self.request

    @property
    def streaming(self) -> bool:
        return isinstance(self.request, ChatRequest) and self.request.stream
