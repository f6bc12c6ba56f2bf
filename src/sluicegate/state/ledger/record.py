"""One ledger record: a request, its tokens and its cost."""

from __future__ import annotations

import msgspec


class LedgerRecord(msgspec.Struct, array_like=True, kw_only=True):
    """Array-like so that a spooled record is a compact JSON array, not an object."""

    id: str  # unique per request; shipping is idempotent on it
    request_id: str  # the client-visible x-request-id
    ts: float  # unix seconds when the request arrived
    tenant: str | None  # the name it had; the same name may later be another tenant's
    key_name: str | None
    alias: str | None
    target: str | None
    protocol: str
    operation: str
    stream: bool
    tags: tuple[str, ...]
    status: int
    error_code: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    estimated: bool
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    # Every upstream attempt, in order: (target, "ok" or the failure's code).
    attempts: tuple[tuple[str, str], ...] = ()
    # "hit" or "miss" when the response cache was consulted, else None. A hit
    # costs nothing upstream; saved_usd is what the call it replaced would cost.
    cache: str | None = None
    saved_usd: float = 0.0
    # Served by an alias with no pricing: cost_usd is 0 because no price is known,
    # not because the call was free (budgets cannot count it).
    unpriced: bool = False
    # The tenant's immutable id (Tenant.id): usage is the tenant's by this, not by its
    # name. None before authentication, and in records spooled by a version before ids
    # (the store then gives them the id of the tenant of that name, when it ships them).
    tenant_id: str | None = None
    # The prompt version rendered into the request, as NAME@VERSION (None: no prompt).
    prompt: str | None = None
    # The output contract's verdict (valid, repaired, reasked, invalid; None: no
    # contract), and every answer it checked: [verdict, input tokens, output tokens, USD].
    contract: str | None = None
    contract_attempts: tuple[tuple[str, int, int, float], ...] = ()
    # What the guardrails did, as in the x-sluicegate-guardrails header: "pii=redacted,...".
    guardrails: str | None = None
    # Behaviour signals (model cards, drift): how the answer ended, whether it was a
    # refusal (the provider's signal or refusal-shaped text), the model and answer id
    # the upstream reported, and the session it belongs to (x-sluicegate-session).
    finish_reason: str | None = None
    refusal: bool = False
    served_model: str | None = None
    response_id: str | None = None
    session: str | None = None
    # With storage.bodies: the conversation asked and the answer, stored in their own
    # table when the record ships (never in the ledger row itself).
    bodies: Bodies | None = None


class Bodies(msgspec.Struct, array_like=True, kw_only=True):
    """A request's captured bodies, as JSON-ready values (already redacted if asked)."""

    mode: str  # "full" or "redacted"
    request: dict[str, object]  # {"messages": [...], ...}: the conversation asked
    answer: dict[str, object] | None  # the answer's assistant message; None: no answer
