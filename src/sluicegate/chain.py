"""The order of the stages: the one place to read what happens to a request.

Settle        records every outcome in the ledger and metrics (outermost),
              and its SERVER span when tracing is on
Authenticate  API key -> tenant                                   401
Decode        body -> canonical request                           400, 413
ComposePrompt the named prompt version rendered, and the platform
              and tenant layers of the system prompt composed     404, 400
ResolveModel  alias exists and the tenant may use it              404, 403
Admit         tenant, key and tenant-per-alias rpm, tpm (reserved),
              concurrency, budgets                                429
Idempotency   a repeated Idempotency-Key replays the first answer 409
Capture       storage.bodies: the conversation and its answer kept
              with the ledger record (only when bodies are on)
Guard         the tenant's guardrails: PII redacted (and restored
              in the answer), injections and harm blocked or
              flagged, on the request and on the answer          400, 503
Cache         a repeated question is answered from the response cache
EnforceContract the answer meets its JSON Schema: repaired (syntax only)
              or re-asked, else the client is told                502
Route         alias -> ordered (alias, target) plan, fallbacks last
CallUpstream  breakers, retry budget, backoff, failover;           429, 502, 503, 504
              fair queuing for deployments at capacity             503 overloaded

Cache sits after Admit, so a hit still counts against the tenant's request rate
(its token and budget reservation settles at zero: Settle records a hit with no
usage), and after Idempotency, so a retried key replays its own answer first. It
comes before Route and CallUpstream: a hit makes no routing decision and never
queues for a deployment. Its key uses the alias's configured targets, not the
balancer's order, so every replica and every request shares one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sluicegate.accounting.access_log import AccessLog
from sluicegate.admission.admit import Admit
from sluicegate.admission.limiter import Limiter
from sluicegate.auth.authenticate import Authenticate
from sluicegate.bodies import Capture
from sluicegate.cache import Cache, CacheStore, SemanticIndex
from sluicegate.contracts.stage import EnforceContract
from sluicegate.fairness import Gates
from sluicegate.guardrails.stage import Guard
from sluicegate.idempotency import Idempotency, IdempotencyStore, StoredAnswer
from sluicegate.ingress.decode import Decode
from sluicegate.observability.alerts import Alerts
from sluicegate.observability.metrics import Metrics
from sluicegate.pipeline.request import Request
from sluicegate.pipeline.stage import Pipeline
from sluicegate.prompts import ComposePrompt, PromptRegistry
from sluicegate.resilience.backoff import BackoffPolicy
from sluicegate.resilience.budget import RetryBudget
from sluicegate.resilience.health import TargetHealth
from sluicegate.routing.plan import Planner
from sluicegate.routing.resolve import ResolveModel
from sluicegate.signals.served_models import ServedModels
from sluicegate.state.directory import Directory
from sluicegate.state.ledger import Ledger, LedgerRecord
from sluicegate.upstream.stage import CallUpstream

if TYPE_CHECKING:
    from sluicegate.observability.tracing import Tracing


@dataclass(frozen=True)
class Services:
    """What the stages share with the rest of the gateway (admin API, /readyz)."""

    directory: Directory
    ledger: Ledger
    metrics: Metrics
    health: TargetHealth
    retry_budget: RetryBudget
    backoff: BackoffPolicy
    idempotency: IdempotencyStore
    limiter: Limiter
    limits_fail_open: bool
    gates: Gates
    alerts: Alerts
    prompts: PromptRegistry
    # The response cache's store (None: an in-process one with the defaults).
    cache: CacheStore | None = None
    # The semantic index (None unless an alias sets cache.semantic).
    semantic: SemanticIndex | None = None
    # Watches the model each target's answers say served them (model_changed alerts).
    served_models: ServedModels | None = None
    # Traces (None: tracing is off, and no stage or layer makes spans).
    tracing: Tracing | None = None
    # Given every finished ledger record too (log_format: json's access lines).
    access_sink: Callable[[LedgerRecord], None] | None = None
    # storage.bodies (restart-only): off leaves the Capture stage out of the chain.
    bodies: Literal["off", "redacted", "full"] = "off"


def build_pipeline(services: Services) -> Pipeline:
    planner = Planner(services.health)
    admit = Admit(services.limiter, fail_open=services.limits_fail_open, alerts=services.alerts)
    guard = Guard()
    tracing = services.tracing
    if tracing is None:
        access_log = AccessLog(
            services.ledger, services.metrics, services.served_models, services.access_sink
        )
    else:
        from sluicegate.accounting.spans import TracedAccessLog  # OpenTelemetry: only when on

        access_log = TracedAccessLog(
            services.ledger, services.metrics, tracing, services.served_models,
            services.access_sink,
        )
    cache = Cache(services.cache, semantic=services.semantic)
    capture = [] if services.bodies == "off" else [Capture(services.bodies)]
    for source in (
        admit.metrics, services.gates.metrics, services.alerts.metrics, guard.metrics.metrics,
        cache.metrics,
    ):
        services.metrics.add_source(source)
    return Pipeline(
        [
            Authenticate(services.directory),
            Decode(),
            ComposePrompt(services.prompts),
            ResolveModel(),
            admit,
            Idempotency(services.idempotency, on_replay=_mark_replay),
            *capture,
            guard,
            cache,
            EnforceContract(),
        ],
        CallUpstream(
            planner,
            services.health,
            services.retry_budget,
            services.backoff,
            services.gates,
            metrics=services.metrics,
            tracing=services.tracing,
        ),
        access_log,
    )


def _mark_replay(request: Request, answer: StoredAnswer) -> None:
    request.outcome.replayed = True
    request.outcome.replayed_target = answer.target
