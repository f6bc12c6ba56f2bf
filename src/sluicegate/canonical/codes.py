"""The machine-readable reason of every error the gateway answers: one list.

``GatewayError.code`` is one of these; each protocol renders it in its error body
(OpenAI ``error.code``), the ledger keeps it (``error_code``) and the upstream
attempts metric counts failed calls by it. A ``StrEnum``: it compares equal to,
and is encoded as, its string, which is what clients and outside tests rely on.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # The client's request
    INVALID_REQUEST = "invalid_request"
    INVALID_JSON = "invalid_json"
    INVALID_TYPE = "invalid_type"
    INVALID_VALUE = "invalid_value"
    EMPTY_ARRAY = "empty_array"
    MISSING_REQUIRED_PARAMETER = "missing_required_parameter"
    INTEGER_BELOW_MIN_VALUE = "integer_below_min_value"
    INTEGER_ABOVE_MAX_VALUE = "integer_above_max_value"
    DECIMAL_BELOW_MIN_VALUE = "decimal_below_min_value"
    DECIMAL_ABOVE_MAX_VALUE = "decimal_above_max_value"
    MALFORMED_REQUEST = "malformed_request"
    REQUEST_TOO_LARGE = "request_too_large"
    REQUEST_TIMEOUT = "request_timeout"
    CLIENT_CLOSED = "client_closed"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_FOUND = "not_found"
    REQUEST_NOT_FOUND = "request_not_found"
    CONFLICT = "conflict"
    # Who asks
    MISSING_API_KEY = "missing_api_key"
    INVALID_API_KEY = "invalid_api_key"
    MISSING_ADMIN_KEY = "missing_admin_key"
    INVALID_ADMIN_KEY = "invalid_admin_key"
    ADMIN_API_DISABLED = "admin_api_disabled"
    # Models
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    EMBEDDINGS_NOT_SUPPORTED = "embeddings_not_supported"
    # Prompts
    PROMPT_NOT_FOUND = "prompt_not_found"
    PROMPT_VARIABLES_INVALID = "prompt_variables_invalid"
    PROMPT_REGISTRY_UNAVAILABLE = "prompt_registry_unavailable"
    PROMPT_LINT_FAILED = "prompt_lint_failed"
    # Output contracts and guardrails
    OUTPUT_CONTRACT_VIOLATION = "output_contract_violation"
    GUARDRAIL_BLOCKED = "guardrail_blocked"
    GUARDRAIL_UNAVAILABLE = "guardrail_unavailable"
    # Limits, budgets and overload
    RATE_LIMITED = "rate_limited"
    BUDGET_EXCEEDED = "budget_exceeded"
    OVERLOADED = "overloaded"
    LIMITS_UNAVAILABLE = "limits_unavailable"
    # Idempotency-Key
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"
    IDEMPOTENCY_ANSWER_UNREADABLE = "idempotency_answer_unreadable"
    IDEMPOTENCY_STORE_UNAVAILABLE = "idempotency_store_unavailable"
    # The cache
    CACHE_UNAVAILABLE = "cache_unavailable"
    CACHE_INVALIDATION_INCOMPLETE = "cache_invalidation_incomplete"
    # Upstreams
    NO_HEALTHY_TARGET = "no_healthy_target"
    GATEWAY_TIMEOUT = "gateway_timeout"
    UPSTREAM_ERROR = "upstream_error"
    UPSTREAM_AUTH_FAILED = "upstream_auth_failed"
    UPSTREAM_RATE_LIMITED = "upstream_rate_limited"
    UPSTREAM_MODEL_NOT_FOUND = "upstream_model_not_found"
    UPSTREAM_INVALID_REQUEST = "upstream_invalid_request"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    CONTENT_POLICY_VIOLATION = "content_policy_violation"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_UNREACHABLE = "upstream_unreachable"
    UPSTREAM_CONNECTION_ERROR = "upstream_connection_error"
    UPSTREAM_BAD_RESPONSE = "upstream_bad_response"
    UPSTREAM_STREAM_CUT = "upstream_stream_cut"
    UPSTREAM_STREAM_STALLED = "upstream_stream_stalled"
    # The admin API
    INVALID_CONFIG = "invalid_config"
    NO_CONFIG_FILE = "no_config_file"
    CONFIG_TENANT = "config_tenant"
    RELOAD_INCOMPLETE = "reload_incomplete"
    # The gateway itself
    INTERNAL_ERROR = "internal_error"
