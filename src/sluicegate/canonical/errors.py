"""The one error type that crosses stage boundaries.

Every failure, whether a bad request, a rejected key or an upstream outage,
becomes a :class:`GatewayError`; each protocol's egress renders it in its own
error body, so the decision of *what* went wrong is made once.
"""

from __future__ import annotations

from enum import Enum

from sluicegate.canonical.codes import ErrorCode


class ErrorKind(Enum):
    """What went wrong, with the HTTP status the contract gives it."""

    INVALID_REQUEST = 400
    AUTHENTICATION = 401
    PERMISSION = 403
    NOT_FOUND = 404
    # The client did not send its request in time (a body arriving too slowly).
    REQUEST_TIMEOUT = 408
    CONFLICT = 409
    TOO_LARGE = 413
    UNPROCESSABLE = 422
    RATE_LIMITED = 429
    # The client went away before its request was complete (nginx's 499): only
    # recorded, never sent.
    CLIENT_CLOSED = 499
    INTERNAL = 500
    UPSTREAM = 502
    UNAVAILABLE = 503
    TIMEOUT = 504

    @property
    def status(self) -> int:
        return self.value


class GatewayError(Exception):
    """A failure that ends a request with a protocol-specific error body.

    ``code`` is a stable machine-readable reason (``invalid_json``,
    ``model_not_found``, ``upstream_rate_limited`` ...). ``retryable`` tells the
    resilience stage that another target may succeed; ``retry_after`` is in
    seconds.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        code: ErrorCode | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.retryable = retryable
        self.upstream_status = upstream_status

    @property
    def status(self) -> int:
        return self.kind.status

    def __repr__(self) -> str:
        return f"GatewayError({self.kind.name}, {self.message!r}, code={self.code!r})"

    @classmethod
    def invalid(
        cls, message: str, *, param: str | None = None, code: ErrorCode = ErrorCode.INVALID_REQUEST
    ) -> GatewayError:
        return cls(ErrorKind.INVALID_REQUEST, message, code=code, param=param)
