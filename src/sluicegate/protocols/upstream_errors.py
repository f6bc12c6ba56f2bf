"""Upstream failures mapped to the statuses the contract promises clients.

Functions of an upstream's status, headers and body, shared by every
provider's translation code and adapter.

What an upstream says in an error is written for the gateway's operator, who
holds the account: a rejected key is often named in it (``Incorrect API key
provided: sk-proj-...``), rate limits name the organisation (``org-...``) or
project. Tenants therefore never see it verbatim: a credential failure gets a
message of the gateway's own (the upstream's is logged for the operator), and
any other message is relayed with whatever looks like a secret or an account
id replaced by ``[redacted]`` (:func:`scrub`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import orjson

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError

log = logging.getLogger("sluicegate.upstream")

# Relaying (or logging) more of an upstream's message helps nobody; the rest is cut.
MAX_MESSAGE_CHARS = 1000
REDACTED = "[redacted]"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
# key = value, key: "value" (the value whatever its shape)
_NAMED_SECRET = re.compile(
    r"(?i)\b(api[-_ ]?key|access[-_ ]?token|secret|password)(\W{0,3}[:=]\s*[\"']?)[^\s\"',;&)]+"
)
_KEY_SHAPED = re.compile(
    # OpenAI (sk-, sk-proj-) and Anthropic (sk-ant-) keys, masked or not; Google's
    r"(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_*.-]{3,}[A-Za-z0-9_*-]|AIza[A-Za-z0-9_-]{10,})"
    r"|\b(?:org|proj)[-_][A-Za-z0-9]{3,}"  # OpenAI organisation and project ids
    r"|\bproject_number:\d+"  # Google's consumer project
    # UUIDs: Anthropic's organisation ids, Azure subscriptions
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    # A run of 32 or more base64 or hex characters, letters and digits mixed:
    # Azure's 32-hex keys, tokens of self-hosted servers. Words never are; "/"
    # ends a run, so that a URL path is not taken for one.
    r"|(?<![A-Za-z0-9+_-])(?=[A-Za-z0-9+_-]*[0-9])(?=[A-Za-z0-9+_-]*[A-Za-z])"
    r"[A-Za-z0-9+_-]{32,}=*"
)
# Credential failures that arrive without 401 or 403 (OpenAI-compatible servers
# that answer 400, Gemini's expired keys).
_CREDENTIAL_MARKERS = (
    "api key not valid",
    "invalid api key",
    "incorrect api key",
    "invalid_api_key",
    "invalid x-api-key",
    "api key expired",
    "invalid subscription key",
    "access token is missing",
)


def scrub(text: str) -> str:
    """``text`` with bearer tokens, API keys, long secrets and account ids redacted,
    cut to :data:`MAX_MESSAGE_CHARS` (between words, so that no key is cut in two
    and so escapes being recognised)."""
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS].rsplit(None, 1)[0] + " ..."
    text = _BEARER.sub(r"\1 " + REDACTED, text)
    text = _NAMED_SECRET.sub(r"\1\2" + REDACTED, text)
    return _KEY_SHAPED.sub(REDACTED, text)


def upstream_error(
    provider: str, status: int, message: str, headers: Mapping[str, str]
) -> GatewayError:
    """Map an upstream HTTP failure to the status the contract promises the client.

    The client's own mistakes (400, 413, 422) stay 400s with the upstream's
    message (scrubbed) so they can be fixed; the gateway's credentials being
    rejected is not the client's fault (502, and the upstream's words only in
    the log); 429 stays 429; a redirect is never followed (502); anything else
    is an upstream failure.
    """
    if 300 <= status < 400:
        return _redirected(provider, status, headers)
    if status in (401, 403) or _is_credential_failure(message):
        return _credentials_rejected(provider, status, message)
    retry_after = parse_retry_after(headers)
    detail = (
        f"upstream {provider!r} answered {status}: {scrub(message)}"
        if message
        else (f"upstream {provider!r} answered {status}")
    )
    if status == 429:
        return GatewayError(
            ErrorKind.RATE_LIMITED,
            detail,
            code=ErrorCode.UPSTREAM_RATE_LIMITED,
            retry_after=retry_after,
            retryable=True,
            upstream_status=status,
        )
    if status == 404:
        # The client asked for an alias that exists; the upstream not knowing the
        # model (or Azure deployment) behind it is the operator's configuration,
        # and another target may well have it.
        return GatewayError(
            ErrorKind.UPSTREAM,
            detail,
            code=ErrorCode.UPSTREAM_MODEL_NOT_FOUND,
            retryable=True,
            upstream_status=status,
        )
    if status in (400, 409, 413, 415, 422):
        if _is_context_overflow(message):
            code = ErrorCode.CONTEXT_LENGTH_EXCEEDED
        elif _is_content_policy(message):
            code = ErrorCode.CONTENT_POLICY_VIOLATION
        else:
            code = ErrorCode.UPSTREAM_INVALID_REQUEST
        return GatewayError(ErrorKind.INVALID_REQUEST, detail, code=code, upstream_status=status)
    if status in (408, 504):
        return GatewayError(
            ErrorKind.TIMEOUT,
            detail,
            code=ErrorCode.UPSTREAM_TIMEOUT,
            retryable=True,
            retry_after=retry_after,
            upstream_status=status,
        )
    return GatewayError(
        ErrorKind.UPSTREAM,
        detail,
        code=ErrorCode.UPSTREAM_ERROR,
        retryable=True,
        retry_after=retry_after,
        upstream_status=status,
    )


def _redirected(provider: str, status: int, headers: Mapping[str, str]) -> GatewayError:
    # Following it would send the prompt and the key to the host it names.
    log.warning(
        "upstream %r answered %d, a redirect to %r, which is not followed: check its base_url",
        provider,
        status,
        scrub(headers.get("location", "")),
    )
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} answered {status}, a redirect, which the gateway does not follow",
        code=ErrorCode.UPSTREAM_BAD_RESPONSE,
        retryable=True,
        upstream_status=status,
    )


def _credentials_rejected(provider: str, status: int, message: str) -> GatewayError:
    log.warning(
        "upstream %r rejected the gateway's credentials (%d): %s",
        provider,
        status,
        scrub(message) or "(no message)",
    )
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"the gateway's credentials for upstream {provider!r} were rejected",
        code=ErrorCode.UPSTREAM_AUTH_FAILED,
        upstream_status=status,
    )


def _is_credential_failure(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in _CREDENTIAL_MARKERS)


def error_message(body: bytes) -> str:
    """The human message inside an upstream error body, whatever its format."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode(errors="replace").strip()
    if isinstance(data, list) and data:
        data = data[0]  # Gemini sometimes wraps errors in a list
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if isinstance(data.get("message"), str):
            return str(data["message"])
    return body[:500].decode(errors="replace").strip()


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from LLM providers; fall back to backoff


def _is_context_overflow(message: str) -> bool:
    text = message.lower()
    return any(
        marker in text
        for marker in (
            "context length",
            "context_length",
            "maximum context",
            "prompt is too long",
            "too many tokens",
            "context window",
            "exceeds the maximum",
        )
    )


def bad_json(provider: str, exc: Exception) -> GatewayError:
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} sent an unusable answer: {exc}",
        code=ErrorCode.UPSTREAM_BAD_RESPONSE,
        retryable=True,
    )


def _is_content_policy(message: str) -> bool:
    """OpenAI's and Azure's content filters, and Gemini's and Anthropic's safety refusals."""
    text = message.lower()
    return any(
        marker in text
        for marker in ("content policy", "content management policy", "content_filter",
                       "content filter", "safety system", "responsible ai")
    )
