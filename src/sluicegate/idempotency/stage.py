"""Stage: a retried request with the same Idempotency-Key gets the first answer.

Per tenant (by its immutable id: a tenant created under a deleted one's name
replays none of its answers), the first request carrying a key runs upstream; its events are
kept as they pass and stored once the answer is complete and successful. A
repeat with the same request is served those events without an upstream call
(egress streams them or collects them, whichever the repeat asked for), a
concurrent duplicate waits for the first, and a repeat with a different
request gets 409. An answer that fails, or whose client goes away, is not
stored: the key stays free, so a retry runs again.

A request without the header costs one header lookup. The stage belongs after
ResolveModel (a repeat is only served to a tenant who may still use the model)
and before Route, so that a replay makes no routing decision either.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import msgspec

from sluicegate.canonical import ChatRequest, ErrorCode, ErrorKind, Event, Finish, GatewayError
from sluicegate.canonical.recording import Recording
from sluicegate.idempotency.store import (
    Conflict,
    IdempotencyStore,
    InProgress,
    MemoryIdempotencyStore,
    Replay,
    Scope,
    Started,
    StoredAnswer,
    Token,
)
from sluicegate.pipeline import Events, Next, Observer, Request, Stream

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

ReplayHook = Callable[[Request, StoredAnswer], None]

# Sorted dict keys: the client's JSON key order and whitespace do not change the
# fingerprint (struct fields always encode in their declared order).
_encoder = msgspec.json.Encoder(order="deterministic")


def _no_hook(request: Request, answer: StoredAnswer) -> None:
    pass


def fingerprint(request: Request) -> str:
    """What makes two requests "the same request" for one key, as a SHA-256 hex digest.

    The decoded canonical request as the client sent it (before a stored prompt
    or the layers were composed into it: a retry after a label moved is the
    same request), with the ingress protocol, the operation and the alias.
    Whether the answer is streamed is left out: the stored events serve a
    streaming and a non-streaming repeat alike.
    """
    body = request.client_body or request.decoded
    if isinstance(body, ChatRequest) and (body.stream or body.include_usage):
        body = msgspec.structs.replace(body, stream=False, include_usage=False)
    alias = request.alias.name if request.alias is not None else body.model
    digest = hashlib.sha256(f"{request.protocol}\n{request.operation}\n{alias}\n".encode())
    digest.update(_encoder.encode(body))
    return digest.hexdigest()


def checked_key(key: str) -> str:
    """The key as sent, if it is 1 to 255 printable ASCII characters; else 400."""
    if 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable():
        return key
    raise GatewayError.invalid(
        f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
        param=HEADER,
        code=ErrorCode.INVALID_IDEMPOTENCY_KEY,
    )


class Idempotency:
    """The stage. ``on_replay`` is called with the context and the stored answer
    just before a replay is returned, to record on the context that no upstream
    was called and which target served the original."""

    def __init__(
        self,
        store: IdempotencyStore | None = None,
        *,
        wait_timeout_s: float = 600.0,
        on_replay: ReplayHook = _no_hook,
    ) -> None:
        self.store: IdempotencyStore = store if store is not None else MemoryIdempotencyStore()
        self.wait_timeout_s = wait_timeout_s
        self.on_replay = on_replay

    async def __call__(self, request: Request, call_next: Next) -> Events:
        key = request.headers.get(HEADER)
        if key is None:
            return await call_next(request)
        scope = Scope(request.tenant.id if request.tenant is not None else "", checked_key(key))
        outcome = await self._begin(scope, fingerprint(request))
        if isinstance(outcome, StoredAnswer):
            self.on_replay(request, outcome)
            return Stream.replay(outcome.events, request.outcome)
        try:
            stream = await call_next(request)
        except BaseException:
            await self.store.abandon(outcome)
            raise
        return stream.watch(_Recorder(self.store, request, outcome))

    async def _begin(self, scope: Scope, fingerprint: str) -> Token | StoredAnswer:
        """Claim the key, or get the answer to serve; wait while a twin is running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_timeout_s
        while True:
            begun = await self.store.begin(scope, fingerprint)
            if isinstance(begun, Started):
                return begun.token
            if isinstance(begun, Replay):
                return begun.answer
            if isinstance(begun, Conflict):
                raise GatewayError(
                    ErrorKind.CONFLICT,
                    f"this {HEADER} was already used for a different request; "
                    "use a new key for a new request",
                    code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    param=HEADER,
                )
            assert isinstance(begun, InProgress)
            try:
                waited = await asyncio.wait_for(begun.waiter, deadline - loop.time())
            except TimeoutError:
                raise GatewayError(
                    ErrorKind.CONFLICT,
                    f"a request with this {HEADER} is still in progress; retry later",
                    code=ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
                    param=HEADER,
                ) from None
            if isinstance(waited, Replay):
                return waited.answer
            # The first gave up: try to become the first ourselves.


class _Recorder(Observer):
    """Keeps the first answer as it passes; stores it once it has ended complete and
    successful, or releases the key (a retry then runs again)."""

    __slots__ = ("_recording", "_request", "_store", "_token")

    def __init__(self, store: IdempotencyStore, request: Request, token: Token) -> None:
        self._store, self._request, self._token = store, request, token
        self._recording = Recording(store.max_entry_bytes)

    def on_event(self, event: Event) -> None:
        self._recording.add(event)

    async def on_end(self, stream: Stream) -> None:
        events = self._recording.events
        if events is None:  # too large to keep: served, its key released
            self._store.oversized.note(self._token.scope, self._recording.chars)
            await self._store.abandon(self._token)
        elif stream.completed and _successful(events):
            await self._store.complete(self._token, _answer(self._request, events))
        else:
            await self._store.abandon(self._token)


def _successful(events: list[Event]) -> bool:
    return not any(type(e) is Finish and e.reason == "error" for e in events)


def _answer(request: Request, events: list[Event]) -> StoredAnswer:
    target = request.outcome.target
    alias = request.outcome.serving_alias or request.alias
    first = request.outcome.first_event_at
    return StoredAnswer(
        events=tuple(events),
        target=target.label if target is not None else None,
        alias=alias.name if alias is not None else None,
        request_id=request.id,
        attempts=request.outcome.calls,
        first_event_s=None if first is None else first - request.started,
    )
