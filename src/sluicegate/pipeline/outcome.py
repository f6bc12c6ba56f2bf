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

from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from sluicegate.canonical import GatewayError, Usage
from sluicegate.canonical.tokens import estimate_input_tokens

if TYPE_CHECKING:
    from sluicegate.pipeline.request import Request
    from sluicegate.runtime.aliases import Alias, Target
    from sluicegate.state.ledger.record import Bodies

T = TypeVar("T")

# What an attempt that served records as its result.
SERVED = "ok"
NOTHING = Usage()


class StateKey(Generic[T]):
    """A typed slot for one stage's private state on an outcome (as aiohttp's AppKey)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


# One target considered for the request, as (target label, result): ``"ok"`` for
# the one that served, else the error code, or the reason it was not called (see
# NOT_CALLED). Plain tuples: they go into the ledger record as they are.
Attempt = tuple[str, str]

# Results of targets that were passed over without a call.
BREAKER_OPEN = "breaker_open"
BUDGET_EXHAUSTED = "retry_budget_exhausted"
NOT_CALLED = frozenset({BREAKER_OPEN, BUDGET_EXHAUSTED})


class Outcome:
    # A plain class whose defaults live on the class: a request sets a handful of
    # these, and an __init__ that assigned all twenty was a measurable share of
    # the pipeline's own cost. The annotations document the instance attributes.

    # The request as the stages last shaped it (see Request.replace): what the
    # access log records, also for a request that failed halfway.
    request: Request | None = None
    # Every target considered, in order; ``calls`` counts those actually called.
    attempts: list[Attempt]
    calls: int = 0
    # The target whose answer the client gets, and the alias it belongs to
    # (a fallback's or a stand-in's, when one served).
    target: Target | None = None
    serving_alias: Alias | None = None
    first_event_at: float | None = None  # perf_counter time of the answer's first event
    # Seconds spent in upstream calls, summed over the attempts: from asking a provider
    # to the end (or failure) of its answer; the rest of the request is the gateway's own.
    upstream_s: float = 0.0
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
    # What the serving upstream reported, and the text it produced (for an
    # estimate when it reports nothing); see settle() for what is charged.
    usage: Usage | None = None
    output_chars: int = 0
    billed: Usage | None = None
    cost_usd: float = 0.0
    error: GatewayError | None = None
    client_closed: bool = False
    # An output contract's verdict ("valid", "repaired", "reasked", "invalid"), and
    # each answer it checked as (verdict, input tokens, output tokens, cost in USD).
    contract: str | None = None
    contract_attempts: list[tuple[str, int, int, float]] | None = None
    # What the guardrails did, as the x-sluicegate-guardrails header says it.
    guardrails: str | None = None
    # What the serving upstream said of its answer: the model that served it (a
    # provider may move an alias to a new snapshot), the answer's id, how it ended,
    # and the answer's first characters (enough to tell a refusal; see signals).
    served_model: str | None = None
    response_id: str | None = None
    finish_reason: str | None = None
    answer_head: str = ""
    # What answers set aside for another go (a contract's re-ask) cost, summed:
    # the request is charged for them too.
    spent: Usage | None = None
    spent_usd: float = 0.0
    # storage.bodies: what the capture stage kept of the request and its answer.
    bodies: Bodies | None = None
    # Response headers stages add (x-ratelimit-*, ...), sent with the answer.
    headers: dict[str, str] | None = None
    _state: dict[StateKey[Any], Any] | None = None

    def __init__(self) -> None:
        self.attempts = []

    @property
    def served(self) -> bool:
        """An upstream target answered (its first event arrived)."""
        return self.target is not None and self.first_event_at is not None

    def settle(self) -> tuple[Usage, float]:
        """What the request is charged, once its answer has ended: the upstream's
        usage (counted locally and marked ``estimated`` when it reported none),
        nothing for a stored answer or a request that reached no upstream, priced
        at the serving alias's rates. Computed once; every caller sees the same."""
        billed = self.billed
        if billed is not None:
            return billed, self.cost_usd
        billed, cost = self.latest_charge()
        spent = self.spent
        if spent is not None:
            billed = spent.plus(billed)
            cost += self.spent_usd
        self.billed, self.cost_usd = billed, cost
        return billed, cost

    def set_aside(self) -> tuple[Usage, float]:
        """Close the accounts of the answer just read, which a stage puts aside to
        ask again: what it cost is kept (``settle`` adds it) and the next answer's
        usage starts from nothing. Returns that answer's usage and cost."""
        billed, cost = self.latest_charge()
        self.spent = billed if self.spent is None else self.spent.plus(billed)
        self.spent_usd += cost
        self.usage = None
        self.output_chars = 0
        return billed, cost

    def latest_charge(self) -> tuple[Usage, float]:
        """The usage and cost of the latest answer alone (``settle`` adds those set aside)."""
        request = self.request
        assert request is not None  # every version of the request is given to its outcome
        usage = self.usage
        if self.replayed or self.cache == "hit":
            billed = NOTHING  # the first request paid; a replay never charges twice
        elif usage is not None:
            billed = usage
        elif self.first_event_at is None or request.body is None:
            billed = NOTHING
        else:
            billed = Usage(
                input_tokens=estimate_input_tokens(request.body),
                output_tokens=(self.output_chars + 3) // 4,
                estimated=True,
            )
        alias = self.serving_alias or request.alias
        cost = 0.0
        if alias is not None:
            cost = alias.cost_usd(
                billed.input_tokens,
                billed.output_tokens,
                billed.cached_tokens,
                billed.cache_write_tokens,
            )
        return billed, cost

    def add_headers(self, headers: dict[str, str]) -> None:
        """Send ``headers`` with the answer (the dict is taken, not copied)."""
        if self.headers is None:
            self.headers = headers
        else:
            self.headers.update(headers)

    def get(self, key: StateKey[T]) -> T | None:
        state = self._state
        return None if state is None else cast("T | None", state.get(key))

    def set(self, key: StateKey[T], value: T) -> None:
        if self._state is None:
            self._state = {}
        self._state[key] = value
