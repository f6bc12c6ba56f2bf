"""What happened to one request: the record every stage writes and egress reads.

The request (:mod:`sluicegate.pipeline.request`) says what was asked; the
outcome says what came of it: which targets were tried and why they did not
serve, which one answered, whether a cache or a stored Idempotency-Key answer
stood in, the usage, the error. Response headers, the ledger record and the
metrics are all built from it, each in one place, so a stage never reaches
into egress or accounting: it writes down what it did here.

A stage's private state (what no other part reads) lives under a typed
:class:`StateKey`, never as a new field here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from sluicegate.canonical import GatewayError, Usage

if TYPE_CHECKING:
    from sluicegate.pipeline.request import Request
    from sluicegate.routing.aliases import Alias, Target

T = TypeVar("T")

# What an attempt that served records as its result.
SERVED = "ok"


class StateKey(Generic[T]):
    """A typed slot for one stage's private state on an outcome (as aiohttp's AppKey)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


@dataclass(slots=True)
class Attempt:
    """One target considered for the request: called, or passed over and why.

    ``result`` is ``"ok"`` for the target that served, else the error code or
    the reason it was not called (``breaker_open``, ``retry_budget_exhausted``).
    """

    target: str  # "provider/model"
    result: str
    called: bool = True


@dataclass(slots=True, eq=False)
class Outcome:
    # The request as the stages last shaped it (see Request.replace): what the
    # access log records, also for a request that failed halfway.
    request: Request | None = None
    # Every target considered, in order; ``calls`` counts those actually called.
    attempts: list[Attempt] = field(default_factory=list)
    calls: int = 0
    # The target whose answer the client gets, and the alias it belongs to
    # (a fallback's or a stand-in's, when one served).
    target: Target | None = None
    serving_alias: Alias | None = None
    first_event_at: float | None = None  # perf_counter time of the answer's first event
    # The alias that stood in because every target of the requested one was down.
    degraded: str | None = None
    # Answered from the Idempotency-Key store: no upstream call, nothing charged.
    replayed: bool = False
    # The target that produced a stored answer (an idempotent replay or a cache hit).
    replayed_target: str | None = None
    # "hit" or "miss" when the response cache was consulted, else None; on a hit the
    # stored answer's age and what the call it replaced would have cost.
    cache: str | None = None
    cache_age_s: float = 0.0
    saved_usd: float = 0.0
    # Final once the answer has ended (the access log fills them in).
    usage: Usage | None = None
    cost_usd: float = 0.0
    output_chars: int = 0
    error: GatewayError | None = None
    client_closed: bool = False
    # Response headers stages add (x-ratelimit-*, ...), sent with the answer.
    headers: dict[str, str] | None = None
    _state: dict[StateKey[Any], Any] | None = None
    # What stages asked to run once the answer has ended and been recorded.
    finalizers: list[Callable[[Outcome], Awaitable[None]]] | None = None

    @property
    def served(self) -> bool:
        """An upstream target answered (its first event arrived)."""
        return self.target is not None and self.first_event_at is not None

    def on_settled(self, finalizer: Callable[[Outcome], Awaitable[None]]) -> None:
        """Run ``finalizer`` once the answer has ended and been recorded (usage and
        cost are then final)."""
        if self.finalizers is None:
            self.finalizers = []
        self.finalizers.append(finalizer)

    def add_headers(self, headers: dict[str, str]) -> None:
        """Send ``headers`` with the answer (the dict is taken, not copied)."""
        if self.headers is None:
            self.headers = headers
        else:
            self.headers.update(headers)

    def attempted(self, target: str, result: str, *, called: bool = True) -> None:
        self.attempts.append(Attempt(target, result, called))

    def get(self, key: StateKey[T]) -> T | None:
        state = self._state
        return None if state is None else cast("T | None", state.get(key))

    def set(self, key: StateKey[T], value: T) -> None:
        if self._state is None:
            self._state = {}
        self._state[key] = value
