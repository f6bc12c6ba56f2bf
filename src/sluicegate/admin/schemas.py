"""The admin API's request and response bodies, as pydantic models.

Request models validate what comes in (unknown fields are errors, as in the
config file); response models shape what goes out. Both feed the OpenAPI
document, so the document cannot drift from what the handlers accept.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from sluicegate.config import LimitsConfig, PricingConfig
from sluicegate.config.schema import PromptLayerConfig
from sluicegate.state.directory import ApiKey, Tenant
from sluicegate.state.ledger import GroupBy

# Admin-created names end up in URL paths and in ledger groupings; keep them plain.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- parsing instants ---------------------------------------------------------


def parse_instant(value: object) -> float:
    """An ISO 8601 date or date-time, or unix seconds, as unix seconds.

    A date-time without a zone is UTC; a bare date (``2026-11-01``) is
    00:00 UTC of that day. Every RFC 3339 date-time is taken (what the OpenAPI
    document's ``format: date-time`` promises), lower-case ``t``/``z`` and a leap
    second included.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an ISO 8601 date or date-time such as 2026-11-01T00:00:00Z")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    # A leap second (23:59:60) is the instant after :59; datetime has no second 60.
    text, leap = _LEAP_SECOND.subn(r"\g<1>59", text.upper())
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or date-time (e.g. 2026-11-01 or "
            "2026-11-01T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() + leap


_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60(?=[.Z+-]|$)")


Instant = Annotated[
    float,
    BeforeValidator(parse_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
                {"type": "number"},
            ],
            "description": "ISO 8601 date or date-time; without a zone it is UTC, "
            "a bare date is 00:00 UTC of that day. Unix seconds are also accepted.",
            "examples": ["2026-11-01", "2026-11-01T12:00:00Z"],
        }
    ),
]


# -- requests -----------------------------------------------------------------


class TenantCreate(_Request):
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    models: list[str] | None = Field(
        default=None, description="Allowed model aliases; null or omitted allows every alias."
    )
    limits: LimitsConfig = LimitsConfig()
    prompt_layer: PromptLayerConfig | None = Field(
        default=None,
        description="The tenant's layer of the system prompt, after the platform's; linted "
        "against the locked platform layer (422 on an error unless ?force=true).",
    )


class TenantUpdate(_Request):
    """Only the fields given change; ``models: null`` allows every alias again."""

    models: list[str] | None = Field(
        default=None, description="Replaces the allowed aliases; null allows every alias."
    )
    limits: LimitsConfig | None = Field(
        default=None,
        description="Merged into the current limits: given fields replace theirs, absent "
        "fields keep theirs, null clears a limit; keys and models merge per entry.",
    )
    prompt_layer: PromptLayerConfig | None = Field(
        default=None,
        description="Replaces the tenant's layer of the system prompt; null removes it. "
        "Linted against the locked platform layer (422 on an error unless ?force=true).",
    )


class LayerQuery(_Request):
    force: bool = Field(default=False, description="store a prompt_layer despite lint errors")


class KeyCreate(_Request):
    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)


_TENANT_NOW = (
    "Only the requests of the tenant that has this name now (not those of a deleted "
        "tenant that had it before; a name no tenant has matches nothing)."
)
_TENANT_ID = (
    "Only the requests of the tenant with this id (TenantOut.id), deleted or "
        "not: how a deleted tenant's history is reached."
)


class UsageQuery(_Request):
    tenant: str | None = Field(default=None, description=_TENANT_NOW)
    tenant_id: str | None = Field(default=None, min_length=1, description=_TENANT_ID)
    since: Instant | None = Field(default=None, description="Start, inclusive.")
    until: Instant | None = Field(default=None, description="End, exclusive.")
    group_by: GroupBy | None = Field(default=None, description="Also break the totals down.")
    key: str | None = Field(default=None, description="Only this key's requests (by key name).")
    format: Literal["json", "csv"] = Field(
        default="json",
        description="csv: one row per group (or one of totals), a header line first.",
    )


class ForecastQuery(_Request):
    tenant: str | None = Field(default=None, description="Only this tenant (default: every one).")


class ForecastOut(_Response):
    """A tenant's month-end spend, projected from the ledger's daily spend."""

    tenant: str
    month: str = Field(description="YYYY-MM, UTC.")
    spent_usd: float = Field(description="Spent so far this month.")
    forecast_usd: float = Field(description="Projected spend of the whole month.")
    low_usd: float
    high_usd: float
    interval: float = Field(description="Confidence of [low_usd, high_usd].")
    method: Literal["linear", "mean", "today"] = Field(
        description="linear: a trend through up to 28 days of daily spend; mean: fewer than 3 "
        "days of history; today: none, today's pace."
    )
    history_days: int
    daily_usd: float = Field(description="Expected spend of the next whole day.")
    trend_usd_per_day: float
    budget_usd: float | None = Field(description="The tenant's monthly budget, if it has one.")
    over_budget: bool = Field(description="The projection exceeds the monthly budget.")


class ForecastList(_Response):
    data: list[ForecastOut]


class RequestsQuery(_Request):
    tenant: str | None = Field(default=None, description=_TENANT_NOW)
    tenant_id: str | None = Field(default=None, min_length=1, description=_TENANT_ID)
    limit: int = Field(default=100, ge=1, le=1000, description="How many, newest first.")


# -- responses ----------------------------------------------------------------


class TenantOut(_Response):
    id: str = Field(
        description="Immutable and never reused: the tenant's cache entries, Idempotency-Key "
        "answers, limits, budget and usage are kept under it. A tenant created under the name "
        "of a deleted one gets a new id and none of those. A tenant the config file creates "
        "has an id derived from its name: the same name in the file is the same tenant, "
        "also when it is removed from the file and added back."
    )
    name: str
    models: list[str] | None = Field(description="Allowed aliases; null means every alias.")
    limits: LimitsConfig
    source: Literal["config", "admin"] = Field(
        description="'config' tenants are changed in the config file, not through this API."
    )
    prompt_layer: PromptLayerConfig | None = None

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        models = None if tenant.models is None else sorted(tenant.models)
        return cls(
            id=tenant.id,
            name=tenant.name,
            models=models,
            limits=tenant.limits,
            source="config" if tenant.source == "config" else "admin",
            prompt_layer=tenant.prompt_layer,
        )


class TenantList(_Response):
    data: list[TenantOut]


class TenantDeleted(_Response):
    name: str
    id: str = Field(description="Its usage stays reachable by this id (`tenant_id=`).")
    deleted: bool = True


class KeyOut(_Response):
    id: str
    name: str
    tenant: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    source: Literal["config", "admin"]
    created_at: int = Field(description="Unix seconds.")
    revoked_at: int | None = Field(description="Unix seconds; null while the key is active.")

    @classmethod
    def fields_of(cls, key: ApiKey) -> dict[str, Any]:
        return {
            "id": key.id,
            "name": key.name,
            "tenant": key.tenant,
            "prefix": key.prefix,
            "source": "config" if key.source == "config" else "admin",
            "created_at": int(key.created_at),
            "revoked_at": None if key.revoked_at is None else int(key.revoked_at),
        }

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(**cls.fields_of(key))


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself. Shown only in this response; store it now.")

    @classmethod
    def with_plaintext(cls, key: ApiKey, plaintext: str) -> KeyCreated:
        return cls(**cls.fields_of(key), key=plaintext)


class KeyList(_Response):
    data: list[KeyOut]


class UsageSums(_Response):
    model_config = ConfigDict(extra="allow")

    requests: int
    input_tokens: int = Field(description="Includes cached reads and cache writes.")
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float
    errors: int = Field(description="Requests that ended with a status of 400 or more.")
    estimated: int = Field(description="Requests whose tokens were estimated locally.")
    unpriced_requests: int = Field(
        description="Requests served by an alias with no pricing: they count $0 here and "
        "against every budget, because no price is known."
    )


class UsageGroup(UsageSums):
    key: str | None = Field(description="The value of the group_by field (a day is YYYY-MM-DD).")
    tenant_id: str | None = Field(
        default=None,
        description="With group_by=tenant only: the tenant's id. Each id is a group of its "
        "own, so a deleted tenant and one created later under its name are two groups with "
        "the same key (the name).",
    )


class UsageOut(_Response):
    totals: UsageSums
    groups: list[UsageGroup] = Field(description="Empty unless group_by is given.")


class RequestRecord(_Response):
    """One ledger record."""

    model_config = ConfigDict(extra="allow")

    id: str
    request_id: str
    ts: float = Field(description="Unix seconds when the request arrived.")
    tenant: str | None = Field(description="The tenant's name when the request was made.")
    tenant_id: str | None = Field(
        default=None, description="The tenant's id; null before authentication."
    )
    key_name: str | None
    alias: str | None
    target: str | None
    protocol: str
    operation: str
    stream: bool
    tags: list[str]
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
    attempts: list[tuple[str, str]] = Field(
        default=[], description="Every upstream attempt in order: [target, 'ok' or failure code]"
    )
    unpriced: bool = Field(
        default=False,
        description="Served by an alias with no pricing: cost_usd is 0 because no price is "
        "known, not because the call was free.",
    )
    prompt: str | None = Field(
        default=None, description="The prompt version rendered into it, as NAME@VERSION."
    )
    contract: str | None = Field(
        default=None,
        description="The output contract's verdict: valid, repaired, reasked or invalid "
        "(null: no contract).",
    )
    contract_attempts: list[tuple[str, int, int, float]] = Field(
        default=[],
        description="Every answer the contract checked, re-asks included: [verdict, input "
        "tokens, output tokens, cost in USD]; the record's tokens and cost are their sums.",
    )
    guardrails: str | None = Field(
        default=None,
        description="What the guardrails did, NAME=OUTCOME joined by commas (redacted, "
        "flagged, blocked, error, would_redact, would_block, would_flag).",
    )
    finish_reason: str | None = Field(
        default=None,
        description="How the upstream's answer ended: stop, length, tool_calls, "
        "content_filter (null: no upstream answer).",
    )
    refusal: bool = Field(
        default=False,
        description="The answer was a refusal: the provider's signal or a refusal-shaped "
        "opening (\"I'm sorry, but I can't help with that\").",
    )
    served_model: str | None = Field(
        default=None, description="The model the upstream said served the answer."
    )
    response_id: str | None = Field(
        default=None, description="The upstream answer's id (the body's `id` the client got)."
    )
    session: str | None = Field(default=None, description="Its x-sluicegate-session.")


class RequestList(_Response):
    data: list[RequestRecord]


class TargetOut(_Response):
    provider: str
    model: str
    weight: float


class ModelOut(_Response):
    name: str
    targets: list[TargetOut]
    fallbacks: list[str]
    pricing: PricingConfig
    priced: bool = Field(
        description="false: the config gives this alias no pricing; `pricing` is then all "
        "zeros and its requests are recorded as unpriced."
    )


class ModelList(_Response):
    data: list[ModelOut]


class BreakerOut(_Response):
    state: Literal["closed", "open", "half_open"]
    calls: int = Field(description="Calls in the breaker's rolling window")
    failures: int
    failure_rate: float
    consecutive_failures: int
    retry_in_s: float | None = Field(description="Seconds until an open breaker probes again")
    open_s: float


class TargetHealthOut(_Response):
    label: str = Field(description="provider/model")
    state: Literal["closed", "open", "half_open"]
    in_flight: int
    ewma_latency_s: float | None = Field(description="Smoothed time to first event")
    successes: int
    failures: int
    last_error: str | None
    breaker: BreakerOut


class TargetHealthList(_Response):
    data: list[TargetHealthOut]


class Reloaded(_Response):
    status: Literal["reloaded"] = "reloaded"
    providers: int
    models: int
    tenants: int
    # Restart-only settings the new file changes: they take effect at the next start.
    not_applied: list[str] = []
    workers: int = Field(description="Worker processes now running the new configuration")


class ErrorDetail(_Response):
    message: str
    type: str
    code: str | None
    param: str | None


class ErrorBody(_Response):
    error: ErrorDetail


# -- response cache -----------------------------------------------------------


def _one_of_these_given() -> dict[str, Any]:
    """What the handler checks, said in the schema: at least one selector (a ``false``
    flag selects nothing), and at most one scope: a tenant (by name or id) or shared."""
    selects: dict[str, dict[str, Any]] = {
        "tenant": {"type": "string"},
        "tenant_id": {"type": "string"},
        "shared": {"const": True},
        "alias": {"type": "string"},
        "tag": {"type": "string"},
        "all": {"const": True},
    }
    scopes = ("tenant", "tenant_id", "shared")
    two_scopes = [
        {"required": [a, b], "properties": {a: selects[a], b: selects[b]}}
        for i, a in enumerate(scopes)
        for b in scopes[i + 1 :]
    ]
    return {
        "anyOf": [{"required": [name], "properties": {name: s}} for name, s in selects.items()],
        "not": {"anyOf": two_scopes},
    }


class CacheInvalidate(_Request):
    """Entries matching every field given are removed; give at least one, or ``all``."""

    model_config = ConfigDict(json_schema_extra=_one_of_these_given())

    tenant: str | None = Field(
        default=None,
        min_length=1,
        description="Only the own entries of the tenant that has this name now (404 if none "
        "has). A deleted tenant's entries are never served again (entries are kept by tenant "
        "id) and expire with their TTL; tenant_id removes them sooner.",
    )
    tenant_id: str | None = Field(
        default=None,
        min_length=1,
        description="Only the own entries of the tenant with this id, deleted or not.",
    )
    shared: bool = Field(
        default=False,
        description="Only the shared scope's entries (aliases with scope: shared); not with "
        "tenant or tenant_id.",
    )
    alias: str | None = Field(
        default=None, min_length=1, description="Only entries of this alias."
    )
    tag: str | None = Field(
        default=None,
        min_length=1,
        description="Only entries stored by requests with this x-sluicegate-tags tag.",
    )
    all: bool = Field(default=False, description="Every entry (when no other field is given).")


class CacheInvalidated(_Response):
    invalidated: int = Field(description="Entries removed.")


class CacheReportQuery(_Request):
    tenant: str | None = Field(default=None, description=_TENANT_NOW)
    tenant_id: str | None = Field(default=None, min_length=1, description=_TENANT_ID)
    since: Instant | None = Field(default=None, description="Start, inclusive.")
    until: Instant | None = Field(default=None, description="End, exclusive.")


class CacheFigures(_Response):
    requests: int
    cache_hits: int = Field(description="Requests answered from the response cache.")
    hit_rate: float = Field(description="cache_hits / requests.")
    saved_usd: float = Field(description="What the upstream calls the hits replaced would cost.")
    cost_usd: float
    input_tokens: int
    cached_tokens: int = Field(description="Input tokens read from the provider's prompt cache.")
    cache_write_tokens: int = Field(description="Input tokens written to it.")
    prompt_cache_read_share: float = Field(description="cached_tokens / input_tokens.")
    read_savings_usd: float = Field(description="The discount earned on cached reads.")
    write_premium_usd: float = Field(description="The premium paid on cache writes.")
    net_usd: float = Field(description="read_savings_usd - write_premium_usd.")
    prefix_caching_pays: bool | None = Field(
        description="net_usd > 0; null when no prompt caching happened."
    )


class CacheReportRow(CacheFigures):
    tenant: str
    tenant_id: str
    alias: str | None


class CacheReport(_Response):
    rows: list[CacheReportRow]
    totals: CacheFigures
