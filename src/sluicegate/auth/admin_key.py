"""The admin key check that guards every /admin route (and the operator's views
of /readyz and /metrics).

The admin key is read from the *current* config on each request, so a reload
that changes ``server.admin_key`` takes effect at once. With no admin key
configured the admin API is closed rather than open.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from sluicegate.auth.authenticate import api_key_of
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError


def check_admin_key(headers: Mapping[str, str], admin_key: str | None) -> None:
    """Return if the request carries the admin key; raise a 401 GatewayError otherwise.

    The same header forms as the public API are accepted
    (``Authorization: Bearer KEY`` or ``x-api-key: KEY``).
    """
    if not admin_key:
        raise GatewayError(
            ErrorKind.AUTHENTICATION,
            "the admin API is disabled until server.admin_key is set in the config",
            code=ErrorCode.ADMIN_API_DISABLED,
        )
    given = api_key_of(headers)
    if not given:
        raise GatewayError(
            ErrorKind.AUTHENTICATION,
            "missing admin key: send 'Authorization: Bearer ADMIN_KEY' or 'x-api-key: ADMIN_KEY'",
            code=ErrorCode.MISSING_ADMIN_KEY,
        )
    # Constant-time comparison of equal-length digests, so response timing
    # reveals neither how much of the key matched nor its length.
    if not hmac.compare_digest(_digest(given), _digest(admin_key)):
        raise GatewayError(
            ErrorKind.AUTHENTICATION, "invalid admin key", code=ErrorCode.INVALID_ADMIN_KEY
        )


def holds_key(headers: Mapping[str, str], *keys: str | None) -> bool:
    """Whether the request carries one of ``keys`` (unset ones never match)."""
    given = api_key_of(headers)
    if not given:
        return False
    digest = _digest(given)
    return any(key and hmac.compare_digest(digest, _digest(key)) for key in keys)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
