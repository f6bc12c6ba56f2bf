"""What one request asks and who asks it, as fixed versions.

A :class:`Request` never changes. A stage that decides something about it
(who sent it, its decoded body, its alias) passes a new
version on with :meth:`Request.replace`; the stages around it keep the
version they saw, so nothing changes under a stage's feet, and a stage can
run the rest of the chain again with a request of its own (a re-ask, a
shadow call) without touching the client's. Every version shares one
:class:`~sluicegate.pipeline.outcome.Outcome`, the record of what happened.

``runtime`` is the configuration snapshot the request started with: a reload
mid-request does not change the rules under it. The body is read and decoded
by a stage, not before the pipeline, so that even a malformed or oversized
request is recorded like any other.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from sluicegate.canonical import ChatRequest, EmbeddingRequest
from sluicegate.pipeline.outcome import Outcome

if TYPE_CHECKING:
    from sluicegate.runtime import Runtime
    from sluicegate.runtime.aliases import Alias
    from sluicegate.state.directory import ApiKey, Tenant

Protocol = Literal["openai", "anthropic"]
Operation = Literal["chat", "embeddings"]
CanonicalRequest = ChatRequest | EmbeddingRequest

_test_ids = itertools.count(1)


# A msgspec Struct rather than a frozen dataclass: a new version costs 0.15 us,
# where dataclasses.replace costs 5 us, and a request gets several.
class Request(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # unique per request: the ledger record's key
    request_id: str  # the client-visible x-request-id (the client may choose it)
    protocol: Protocol
    operation: Operation
    headers: Mapping[str, str]
    runtime: Runtime
    outcome: Outcome
    received_at: float  # wall-clock time, for the ledger
    started: float  # perf_counter time, for latencies
    # Reading and decoding the body (the Decode stage calls them).
    receive: Callable[[], Awaitable[bytes]] | None = None
    decode_body: Callable[[bytes], CanonicalRequest] | None = None
    # Decode: the body as a canonical call.
    body: CanonicalRequest | None = None
    # Authenticate: who asks, and the cost-attribution tags they sent.
    api_key: ApiKey | None = None
    tenant: Tenant | None = None
    tags: tuple[str, ...] = ()
    # The session it belongs to (x-sluicegate-session), None: none.
    session: str | None = None
    # ResolveModel: the alias asked for.
    alias: Alias | None = None
    # ComposePrompt: the stored prompt version rendered into the body, as NAME@VERSION,
    # and the body as the client sent it (None: the gateway composed nothing into it).
    prompt: str | None = None
    client_body: CanonicalRequest | None = None

    def replace(self, **changes: Any) -> Request:
        """A new version with ``changes``; the outcome keeps it as the latest."""
        new = msgspec.structs.replace(self, **changes)
        self.outcome.request = new
        return new

    @property
    def latest(self) -> Request:
        """The newest version of this request: what the stages last decided."""
        return self.outcome.request or self

    @property
    def decoded(self) -> CanonicalRequest:
        """The canonical body; stages after Decode may rely on it."""
        if self.body is None:
            raise RuntimeError("request body used before the Decode stage ran")
        return self.body

    @property
    def streaming(self) -> bool:
        body = self.body
        return isinstance(body, ChatRequest) and body.stream

    @classmethod
    def start(
        cls,
        *,
        id: str,
        request_id: str,
        protocol: Protocol,
        operation: Operation,
        headers: Mapping[str, str],
        runtime: Runtime,
        receive: Callable[[], Awaitable[bytes]] | None = None,
        decode_body: Callable[[bytes], CanonicalRequest] | None = None,
    ) -> Request:
        """The first version of a request that has just arrived, with a fresh outcome."""
        outcome = Outcome()
        request = cls(
            id=id,
            request_id=request_id,
            protocol=protocol,
            operation=operation,
            headers=headers,
            runtime=runtime,
            outcome=outcome,
            received_at=time.time(),
            started=time.perf_counter(),
            receive=receive,
            decode_body=decode_body,
        )
        outcome.request = request
        return request

    @classmethod
    def of(
        cls,
        body: CanonicalRequest,
        *,
        tenant: Tenant | None = None,
        api_key: ApiKey | None = None,
        alias: Alias | None = None,
        runtime: Runtime | None = None,
        headers: Mapping[str, str] | None = None,
        protocol: Protocol = "openai",
        tags: tuple[str, ...] = (),
    ) -> Request:
        """A request past Decode, Authenticate and ResolveModel, in one line: for
        tests, and for calls the gateway makes of itself (probes, shadows)."""
        from multidict import CIMultiDict

        from sluicegate.runtime import Runtime

        n = next(_test_ids)
        if runtime is None:
            runtime = Runtime.of({alias.name: alias} if alias is not None else {})
        request = cls.start(
            id=f"rec-{n}",
            request_id=f"req-{n}",
            protocol=protocol,
            operation="chat" if isinstance(body, ChatRequest) else "embeddings",
            headers=CIMultiDict(headers or {}),
            runtime=runtime,
        )
        return request.replace(body=body, tenant=tenant, api_key=api_key, alias=alias, tags=tags)
