"""Upstream failures mapped to the statuses the contract promises clients.

Pure functions of an upstream's status, headers and body, shared by every
provider's translation code and adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from sluicegate.canonical import ErrorKind, GatewayError

log = logging.getLogger("sluicegate.upstream")


def upstream_error(
    provider: str, status: int, message: str, headers: Mapping[str, str]
) -> GatewayError:
    """Map an upstream HTTP failure to the status the contract promises the client.

    The client's own mistakes (400, 413, 422) stay 400s with the upstream's
    message so they can be fixed; the gateway's credentials being rejected is not
    the client's fault (502); 429 stays 429; a redirect is never followed (502);
    anything else is an upstream failure.
    """
    if 300 <= status < 400:
        return _redirected(provider, status, headers)
    retry_after = parse_retry_after(headers)
    detail = (
        f"upstream {provider!r} answered {status}: {message}"
        if message
        else (f"upstream {provider!r} answered {status}")
    )
    if status == 429:
        return GatewayError(
            ErrorKind.RATE_LIMITED,
            detail,
            code="upstream_rate_limited",
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
            code="upstream_model_not_found",
            retryable=True,
            upstream_status=status,
        )
    if status in (400, 409, 413, 415, 422):
        if _is_context_overflow(message):
            code = "context_length_exceeded"
        elif _is_content_policy(message):
            code = "content_policy_violation"
        else:
            code = "upstream_invalid_request"
        return GatewayError(ErrorKind.INVALID_REQUEST, detail, code=code, upstream_status=status)
    if status in (401, 403):
        return GatewayError(
            ErrorKind.UPSTREAM,
            detail,
            code="upstream_auth_failed",
            upstream_status=status,
        )
    if status in (408, 504):
        return GatewayError(
            ErrorKind.TIMEOUT,
            detail,
            code="upstream_timeout",
            retryable=True,
            retry_after=retry_after,
            upstream_status=status,
        )
    return GatewayError(
        ErrorKind.UPSTREAM,
        detail,
        code="upstream_error",
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
        headers.get("location", ""),
    )
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"upstream {provider!r} answered {status}, a redirect, which the gateway does not follow",
        code="upstream_bad_response",
        retryable=True,
        upstream_status=status,
    )


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
        code="upstream_bad_response",
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
