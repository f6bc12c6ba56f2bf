"""The configuration schema (see CONTRACT.md). Unknown keys are errors.

Each model validates its own fields only. Checks that span blocks (unique
names, references between providers, models and tenants, fallback cycles,
reused keys) live in :mod:`sluicegate.config.references`, so that the loader
can point at the line of the offending value; ``Config.model_validate`` alone
does not run them. Use :func:`sluicegate.config.loader.load_config` for a file
and :func:`sluicegate.config.loader.validate_config` for a mapping.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal
from urllib.parse import urlsplit

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sluicegate.config.reloading import RESTART
from sluicegate.detectors.entities import PII_ENTITIES
from sluicegate.json_schema import compile_schema

ProviderType = Literal["openai", "anthropic", "gemini", "azure", "echo"]

# The largest count a limit may be: beyond it a number is no longer exact as a double
# (Redis's Lua), nor as a 64-bit integer in the stores and in JSON answers.
MAX_COUNT = 2**53 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    host: str = Field(default="127.0.0.1", json_schema_extra=RESTART)
    port: int = Field(default=8080, ge=0, le=65535, json_schema_extra=RESTART)
    admin_key: str | None = None
    # Largest request body accepted; larger ones get 413.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    # How long SIGTERM waits for in-flight requests (streams included).
    drain_timeout_s: float = Field(default=60.0, ge=0, json_schema_extra=RESTART)
    # Client-side deadlines (server/deadlines.py). A request's head (request line
    # and headers) must be complete this long after the connection opened or
    # after its first byte arrived; otherwise the connection is closed.
    header_timeout_s: float = Field(default=10.0, gt=0, json_schema_extra=RESTART)
    # The whole body must have arrived this long after the head; otherwise 408.
    body_timeout_s: float = Field(default=30.0, gt=0)
    # A keep-alive connection with no request in progress is closed after this
    # long. Keep it above the idle timeout of a load balancer in front.
    keepalive_timeout_s: float = Field(default=75.0, gt=0, json_schema_extra=RESTART)
    # A client that takes none of an answer's bytes for this long (its socket
    # and the send buffer full) is cut off: the answer ends as a disconnect
    # (499) and its upstream call and capacity are freed.
    write_timeout_s: float = Field(default=30.0, gt=0, json_schema_extra=RESTART)
    # /metrics shows every tenant's requests, tokens and spend. With a token it
    # answers only a scraper that sends it (Authorization: Bearer TOKEN; the
    # admin key works too); with a port of its own it is served there and not on
    # the API port, which can then be exposed without it.
    metrics_token: str | None = None
    metrics_port: int | None = Field(default=None, ge=0, le=65535, json_schema_extra=RESTART)


class StorageConfig(_Strict):
    url: str = "sqlite:///./sluicegate.db"

    @field_validator("url")
    @classmethod
    def _supported_url(cls, url: str) -> str:
        if url.startswith(("postgresql://", "postgres://")):
            return url
        if not url.startswith("sqlite:///"):
            raise ValueError(
                "must look like sqlite:///path/to/file.db or postgresql://user@host:5432/db"
            )
        return url

    redis_url: str | None = None
    # Where ledger records are spooled before they are shipped to the store;
    # default: next to a SQLite database, else ./sluicegate-spool.
    spool_dir: str | None = None
    # false: record nothing (no spool, no ledger rows); for measuring what the ledger costs.
    ledger: bool = True
    # PostgreSQL only: raw ledger rows older than this many days are dropped, a day's
    # partition at a time; the daily roll-ups stay. None keeps every row.
    retention_days: int | None = Field(default=None, ge=1)
    # PostgreSQL only: connections per gateway process.
    pool_size: int = Field(default=4, ge=1, le=100)
    # Request and answer bodies kept with the ledger (in their own table, so usage
    # queries never read them): off, as they were (full) or PII-redacted first.
    bodies: Literal["off", "redacted", "full"] = "off"
    # Captured bodies older than this many days are deleted; None keeps them.
    bodies_retention_days: int | None = Field(default=None, ge=1)


class ProviderConfig(_Strict):
    name: str = Field(min_length=1)
    type: ProviderType
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = Field(default=600.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    first_token_timeout_s: float = Field(default=60.0, gt=0)
    # Longest silence between two chunks of a stream once it has started.
    idle_timeout_s: float = Field(default=60.0, gt=0)
    # Probe each target this often with a one-token call (off when unset).
    health_check_interval_s: float | None = Field(default=None, gt=0)
    # Azure OpenAI only: the api-version query parameter.
    api_version: str | None = None
    # Extra headers sent with every upstream call (org ids, gateway tokens).
    headers: dict[str, str] = {}
    # A PEM file of the CAs that https to this provider trusts instead of the
    # system's store: an internal server behind a private CA.
    ca_file: str | None = None
    # The most an answer may take (decompressed), and one event of a stream the
    # smaller of this and 8 MiB; past it the call is a 502, never the gateway's
    # memory. Raise it for embeddings of large batches.
    max_response_bytes: int = Field(default=32 * 1024 * 1024, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_base_url(cls, url: str | None) -> str | None:
        # Without a scheme the HTTP client cannot make any call, and nothing else
        # would notice before the first request fails.
        if url is None:
            return None
        example = "e.g. http://127.0.0.1:8000/v1"
        if not url.startswith(("http://", "https://")):
            if "://" not in url:
                # Most likely host:port/path: say exactly what to write.
                example = f"write http://{url} (or https://{url} for TLS)"
            raise ValueError(f"must start with http:// or https://, {example}")
        if not urlsplit(url).hostname:
            raise ValueError(f"names no host, {example}")
        return url

    @field_validator("headers")
    @classmethod
    def _one_line_each(cls, headers: dict[str, str]) -> dict[str, str]:
        # A line break would end the header and start another request line's worth
        # of text on the upstream connection (header injection).
        for name, value in headers.items():
            if not name or any(c in name for c in "\r\n:"):
                raise ValueError(f"{name!r} is not a header name")
            if "\r" in value or "\n" in value:
                raise ValueError(f"the value of header {name!r} contains a line break")
        return headers

    @field_validator("ca_file")
    @classmethod
    def _loadable_ca_file(cls, path: str | None) -> str | None:
        if path is not None:
            try:
                ssl.create_default_context(cafile=path)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load CA certificates from {path!r}: {exc}") from None
        return path

    @model_validator(mode="after")
    def _needs_base_url(self) -> ProviderConfig:
        if self.type == "azure" and not self.base_url:
            raise ValueError("an azure provider needs base_url (https://RESOURCE.openai.azure.com)")
        return self


class TargetConfig(_Strict):
    provider: str
    model: str
    weight: float = Field(default=1.0, gt=0)
    # The deployment's capacity (the provider's quota for this model, or what it
    # can serve). When set, the gateway keeps under it by queueing requests and
    # serves the queue fairly across tenants, instead of collecting 429s.
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    rpm: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    tpm: int | None = Field(default=None, ge=1, le=MAX_COUNT)


class PricingConfig(_Strict):
    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)
    # Provider prompt caching: reads are usually discounted, writes cost extra.
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)


class TimeoutsConfig(_Strict):
    """Per-alias overrides of its providers' timeouts."""

    first_token_s: float | None = Field(default=None, gt=0)
    idle_s: float | None = Field(default=None, gt=0)
    # The whole answer, streams included (the provider's own timeout_s still applies).
    total_s: float | None = Field(default=None, gt=0)


class SemanticCacheConfig(_Strict):
    """Per-alias semantic lookup after an exact miss (the index is wired in separately)."""

    # Lowest similarity that counts as the same question; None: the index's default.
    threshold: float | None = Field(default=None, gt=0, le=1)


class ModelCacheConfig(_Strict):
    """Response cache settings of one alias; unset fields take the top-level ``cache``'s."""

    # off: never; auto: requests that ask for it (Cache-Control: max-age / no-cache)
    # or have temperature 0, and embeddings; always: every request (unless no-store).
    mode: Literal["off", "auto", "always"] | None = None
    ttl_s: float | None = Field(default=None, gt=0)
    # tenant: an answer serves only the tenant that paid for it; shared: every tenant.
    scope: Literal["tenant", "shared"] = "tenant"
    semantic: SemanticCacheConfig | None = None


class ContractConfig(_Strict):
    # A JSON Schema every answer of the alias must meet (a request's own wins).
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    # Pull JSON out of prose and code fences, and fix its syntax (never a value).
    repair: bool = True
    # Follow-up turns that show the model its invalid answer and the errors.
    max_reasks: int = Field(default=1, ge=0, le=5)
    # Tokens the re-asks of one request may spend in all (their input and output).
    reask_token_budget: int = Field(default=16_000, ge=0, le=MAX_COUNT)
    # error: 502 output_contract_violation | pass: hand the invalid answer on, marked.
    on_violation: Literal["error", "pass"] = "error"
    # hold: stream only a checked answer | pass: relay, end in an error event if invalid.
    stream: Literal["hold", "pass"] = "hold"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _compiles(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            compile_schema(schema)  # SchemaError is a ValueError: the loader names the line
        return schema


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    targets: list[TargetConfig] = Field(min_length=1)
    fallbacks: list[str] = []
    # None: no price is known, so its requests cost $0 and the ledger marks them
    # unpriced (a budget cannot see them); give zero prices for a free model.
    pricing: PricingConfig | None = None
    # How the targets share the load: weighted random, fewest requests in
    # flight, or lowest latency (EWMA, power of two choices).
    balance: Literal["weighted", "least_in_flight", "latency"] = "weighted"
    # Upstream attempts one request may make, over this alias's targets and its
    # fallbacks (also capped by the gateway-wide retry budget).
    max_attempts: int = Field(default=3, ge=1, le=10)
    # The context window of the alias's models in tokens, where known (the prompt linter
    # checks a prompt plus its max_tokens against it).
    context_window: int | None = Field(default=None, gt=0)
    # Where to go when the upstream says the prompt is too long, or refuses it
    # on content policy; and what serves when every target's breaker is open.
    context_window_fallback: str | None = None
    content_policy_fallback: str | None = None
    degraded: str | None = None
    timeouts: TimeoutsConfig = TimeoutsConfig()
    cache: ModelCacheConfig = ModelCacheConfig()
    # Check every answer against a JSON Schema (sluicegate.contracts); None: only
    # requests that ask for JSON (response_format) are checked, with the defaults.
    contract: ContractConfig | None = None


Priority = Literal["interactive", "batch"]


class RateLimits(_Strict):
    """Limits on one subject; an omitted limit is unlimited."""

    rpm: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    tpm: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    max_concurrency: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    budget_usd: float | None = Field(default=None, ge=0)
    budget_period: Literal["day", "week", "month", "total"] = "month"
    # Share of the budget at which an alert is raised (once per period).
    budget_alert_at: float | None = Field(default=None, gt=0, le=1)

    def limited(self) -> bool:
        return not (
            self.rpm is None
            and self.tpm is None
            and self.max_concurrency is None
            and self.budget_usd is None
        )


class KeyLimits(RateLimits):
    """One API key's own limits and budget, within its tenant's."""

    # Requests made with this key queue as this class when an upstream is saturated.
    priority: Priority | None = None


class LimitsConfig(RateLimits):
    """A tenant's limits, its keys' and its per-alias ones, and its fair share."""

    # Log and count would-be refusals without enforcing them (to try limits safely).
    shadow: bool = False
    # Share of a saturated upstream relative to other tenants (fair queuing).
    weight: float = Field(default=1.0, gt=0)
    # Queue class of the tenant's requests unless the key or a header says otherwise.
    priority: Priority = "interactive"
    # By key name: limits of one key of this tenant.
    keys: dict[str, KeyLimits] = {}
    # By alias: limits of this tenant's use of one model.
    models: dict[str, RateLimits] = {}


class KeyConfig(_Strict):
    name: str = Field(min_length=1)
    key: str = Field(min_length=8)


class PromptLayerConfig(_Strict):
    """System text every chat request gets, before the prompt's and the request's own."""

    system: str = Field(min_length=1, max_length=64 * 1024)
    # Locked: linting reports text in later layers that tries to override it.
    locked: bool = False


class PromptLayersConfig(_Strict):
    platform: PromptLayerConfig | None = None


class PromptsConfig(_Strict):
    # A replica that could not confirm its prompt index is current for this long refuses
    # prompt requests (503) rather than serve a label that may have moved since.
    max_staleness_s: float = Field(default=1.0, gt=0)


class TenantConfig(_Strict):
    name: str = Field(min_length=1)
    limits: LimitsConfig = LimitsConfig()
    models: list[str] | None = None
    keys: list[KeyConfig] = []
    # The tenant's layer of the system prompt (after the platform's).
    prompt_layer: PromptLayerConfig | None = None
    # The guardrails that apply to the tenant's requests, by name; None: all of them.
    guardrails: list[str] | None = None


GuardrailType = Literal["pii", "injection", "moderation", "regex"]


class GuardrailConfig(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    type: GuardrailType
    # input: the request, before the upstream call; output: the answer.
    stage: list[Literal["input", "output"]] = Field(default=["input"], min_length=1)
    # redact (pii only): placeholders upstream, the originals restored in the answer.
    action: Literal["redact", "block", "flag"] = "block"
    # pii: the entities looked for (None: all of them).
    entities: list[Literal[PII_ENTITIES]] | None = None  # type: ignore[valid-type]
    # regex: the patterns (any one matching is a hit).
    patterns: list[str] = []
    # enforce, or shadow: log and count what it would do, act on nothing.
    mode: Literal["enforce", "shadow"] = "enforce"
    # A detector that errors or times out: pass the request (true) or refuse it (503).
    fail_open: bool = False
    # moderation: an alias asked only when the local classifier is unsure.
    judge: str | None = None
    # injection: mark text from documents and tool results as data before the model
    # sees it (spotlighting), besides detecting.
    spotlight: bool = False

    @model_validator(mode="after")
    def _fits_its_type(self) -> GuardrailConfig:
        if self.action == "redact" and self.type != "pii":
            raise ValueError("action redact is for pii guardrails only")
        if self.type == "regex":
            if not self.patterns:
                raise ValueError("a regex guardrail needs patterns")
            for pattern in self.patterns:
                try:
                    regex.compile(pattern)
                except regex.error as exc:
                    raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
        elif self.patterns:
            raise ValueError("patterns are for regex guardrails only")
        if self.entities is not None and self.type != "pii":
            raise ValueError("entities are for pii guardrails only")
        if self.judge is not None and self.type != "moderation":
            raise ValueError("judge is for moderation guardrails only")
        if self.spotlight and self.type != "injection":
            raise ValueError("spotlight is for injection guardrails only")
        return self


class RetryBudgetConfig(_Strict):
    """Retries and fallbacks may add at most ``percent`` of requests as extra upstream
    attempts, plus ``min_per_s`` a second, so an outage is not multiplied."""

    percent: float = Field(default=0.2, ge=0, le=1)
    min_per_s: float = Field(default=1.0, ge=0)
    window_s: float = Field(default=10.0, gt=0)


class BreakerConfig(_Strict):
    """Per-target circuit breaker."""

    window_s: float = Field(default=10.0, gt=0)
    min_requests: int = Field(default=10, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    consecutive_failures: int = Field(default=5, ge=1)
    open_s: float = Field(default=5.0, gt=0)
    max_open_s: float = Field(default=60.0, gt=0)
    half_open_probes: int = Field(default=1, ge=1)


class BackoffConfig(_Strict):
    base_s: float = Field(default=0.1, ge=0)
    max_s: float = Field(default=2.0, ge=0)
    # An upstream's Retry-After is honoured up to this; longer waits fail over instead.
    max_retry_after_s: float = Field(default=5.0, ge=0)


class ResilienceConfig(_Strict):
    retry_budget: RetryBudgetConfig = Field(default=RetryBudgetConfig(), json_schema_extra=RESTART)
    breaker: BreakerConfig = BreakerConfig()
    backoff: BackoffConfig = Field(default=BackoffConfig(), json_schema_extra=RESTART)


class QueueConfig(_Strict):
    """Requests waiting for a saturated deployment (see TargetConfig capacity)."""

    # Per deployment; a request arriving at a full queue is shed at once (503).
    max_waiting: int = Field(default=1000, ge=0)
    # Longest a request waits for capacity before it is shed (503 with Retry-After).
    timeout_s: float = Field(default=30.0, gt=0)


class AdmissionConfig(_Strict):
    # When the shared limiter (Redis) is unreachable: admit unchecked (true) or 503.
    fail_open: bool = Field(default=True, json_schema_extra=RESTART)
    queue: QueueConfig = Field(default=QueueConfig(), json_schema_extra=RESTART)
    # Budget alerts are logged; with a URL they are also POSTed there as JSON.
    alert_webhook: str | None = None

    @field_validator("alert_webhook")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url


class IdempotencyConfig(_Strict):
    ttl_s: float = Field(default=86400.0, gt=0)
    # Larger answers (their JSON encoding) are served but not kept: a retry with
    # their key runs again (both backends).
    max_entry_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    # In-process backend only: the most the kept answers may take, least recently
    # used out first (Redis: its maxmemory).
    max_bytes: int = Field(default=64 * 1024 * 1024, gt=0)


class CacheConfig(_Strict):
    """The response cache: in-process (an LRU under ``max_bytes``), or Redis when
    ``storage.redis_url`` is set. Each alias may override mode and TTL."""

    mode: Literal["off", "auto", "always"] = "auto"
    ttl_s: float = Field(default=3600.0, gt=0)
    # In-process backend only: the most the stored answers may take, in bytes.
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=0, json_schema_extra=RESTART)
    # Larger answers are not stored (both backends).
    max_entry_bytes: int = Field(default=1024 * 1024, gt=0, json_schema_extra=RESTART)
    # Semantic lookups (aliases with cache.semantic): "local" embeds with the
    # all-MiniLM-L6-v2 model the package ships (the default threshold is tuned
    # for it); otherwise the name of an embeddings alias of this gateway, whose
    # vectors have ``embeddings_dimensions`` dimensions (set a threshold per alias).
    embeddings: str = Field(default="local", json_schema_extra=RESTART)
    embeddings_dimensions: int | None = Field(default=None, gt=0, json_schema_extra=RESTART)


class DriftConfig(_Strict):
    # The first N requests of an alias after start (or after POST
    # /admin/models/{alias}/baseline) are its baseline; None: the previous 7 days.
    baseline_requests: int | None = Field(default=None, ge=100, le=10_000_000)
    # The most recent requests tested against the baseline; None: every request
    # since the baseline (rolling baseline: the last day).
    window_requests: int | None = Field(default=None, ge=100, le=10_000_000)


class ObservabilityConfig(_Strict):
    # OTLP/HTTP collector base URL (spans go to {endpoint}/v1/traces); None: the
    # OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT environment
    # variables, and no tracing when neither is set.
    otlp_endpoint: str | None = Field(default=None, json_schema_extra=RESTART)
    service_name: str = Field(default="sluicegate", min_length=1, json_schema_extra=RESTART)
    sample_ratio: float = Field(default=1.0, ge=0, le=1, json_schema_extra=RESTART)
    # Message content on spans (prompts and answers), only when true.
    capture_content: bool = False
    drift: DriftConfig = DriftConfig()

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP/HTTP)")
        return url


class Config(_Strict):
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = Field(default=StorageConfig(), json_schema_extra=RESTART)
    providers: list[ProviderConfig] = Field(min_length=1)
    models: list[ModelConfig] = Field(min_length=1)
    tenants: list[TenantConfig] = []
    resilience: ResilienceConfig = ResilienceConfig()
    idempotency: IdempotencyConfig = Field(default=IdempotencyConfig(), json_schema_extra=RESTART)
    admission: AdmissionConfig = AdmissionConfig()
    cache: CacheConfig = CacheConfig()
    prompts: PromptsConfig = PromptsConfig()
    prompt_layers: PromptLayersConfig = PromptLayersConfig()
    guardrails: list[GuardrailConfig] = []
    observability: ObservabilityConfig = ObservabilityConfig()
    # json: one access-log line per request on the sluicegate.access logger, and every
    # log line as JSON, written by a thread; text: today's lines, no access line.
    # Restart-only: the process's log handlers and writer thread are set up with it.
    log_format: Literal["text", "json"] = Field(default="text", json_schema_extra=RESTART)
