"""Idempotency-Key: a retried request gets the first answer, not a second upstream call."""

from sluicegate.idempotency.redis_store import RedisIdempotencyStore
from sluicegate.idempotency.stage import HEADER, Idempotency, ReplayHook, checked_key, fingerprint
from sluicegate.idempotency.store import (
    RETRY,
    Begin,
    Conflict,
    IdempotencyStore,
    InProgress,
    MemoryIdempotencyStore,
    Replay,
    Retry,
    Scope,
    Started,
    StoredAnswer,
    Token,
)

__all__ = [
    "HEADER",
    "RETRY",
    "Begin",
    "Conflict",
    "Idempotency",
    "IdempotencyStore",
    "InProgress",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
    "Replay",
    "ReplayHook",
    "Retry",
    "Scope",
    "Started",
    "StoredAnswer",
    "Token",
    "checked_key",
    "fingerprint",
]
