"""Layer: what a call tells about its target (in flight, breaker verdict, latency EWMA).

The call is counted in flight from the moment the provider is asked. Only the
upstream's own failures count against it: a request it rightly refused (a
400) shows the target is working. Once the first event has arrived the answer
is committed to this target; its verdict comes when the answer ends (a client
that goes away gives none), and meanwhile the answer's usage and size are
counted on the outcome, for the ledger and for an estimate when the upstream
reports none.

It also times the call, from asking the provider to the end (or failure) of
its answer: added to the outcome's ``upstream_s`` (what is not the gateway's
own time) and observed as the GenAI conventions' client operation duration,
by the target's provider and model and the error code of a failed call.
"""

from __future__ import annotations

import time

from sluicegate.canonical import (
    ErrorKind,
    Event,
    Finish,
    GatewayError,
    Start,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from sluicegate.observability.genai import provider_name
from sluicegate.observability.metrics import Histograms
from sluicegate.pipeline import Observer, Outcome, Stream
from sluicegate.pipeline.outcome import SERVED
from sluicegate.resilience.health import TargetHealth, TargetState
from sluicegate.upstream.call import Call, CallNext

# How much of an answer's text the outcome keeps for its behaviour signals: a
# refusal says so in its first sentence.
ANSWER_HEAD_CHARS = 160


class HealthLayer:
    def __init__(
        self,
        health: TargetHealth,
        durations: Histograms[tuple[str, str, str, str]] | None = None,
    ) -> None:
        self.health = health
        # Metrics.client_duration; None: calls are not timed (unit tests of the layer).
        self.durations = durations

    async def __call__(self, call: Call, call_next: CallNext) -> Stream:
        target = call.target
        state = self.health.state(target.label)
        generation = state.started()
        call.reached = True
        started = time.perf_counter()
        try:
            stream = await call_next(call)
        except GatewayError as err:
            state.finished(
                ok=not err.retryable, latency_s=None, error=err.code, generation=generation
            )
            self._timed(call, started, err.code or err.kind.name.lower())
            raise
        except BaseException:
            state.abandoned(generation=generation)
            self._timed(call, started, "cancelled")
            raise
        outcome = call.request.outcome
        outcome.first_event_at = now = time.perf_counter()
        outcome.target, outcome.serving_alias = target, call.alias
        outcome.error = None
        outcome.attempts.append((target.label, SERVED))
        committed = _Committed(state, generation, now - started, outcome, self, call, started)
        return stream.watch(committed)

    def _timed(self, call: Call, started: float, error: str) -> None:
        """The call is over: its time to the outcome and the client duration histogram."""
        elapsed = time.perf_counter() - started
        call.request.outcome.upstream_s += elapsed
        durations = self.durations
        if durations is not None:
            target = call.target
            operation = call.request.operation
            name = provider_name(target.provider.config.type)
            durations[operation, name, target.model, error].observe(elapsed)


class _Committed(Observer):
    __slots__ = ("_call", "_generation", "_layer", "_outcome", "_started", "_state", "_ttft_s")

    def __init__(
        self,
        state: TargetState,
        generation: int,
        ttft_s: float,
        outcome: Outcome,
        layer: HealthLayer,
        call: Call,
        started: float,
    ):
        self._state, self._generation, self._ttft_s = state, generation, ttft_s
        self._outcome = outcome
        self._layer, self._call, self._started = layer, call, started

    def on_event(self, event: Event) -> None:
        kind = type(event)
        outcome = self._outcome
        if kind is TextDelta:
            text: str = event.text  # type: ignore[union-attr]
            outcome.output_chars += len(text)
            if len(outcome.answer_head) < ANSWER_HEAD_CHARS:
                outcome.answer_head = (outcome.answer_head + text)[:ANSWER_HEAD_CHARS]
        elif kind is Usage:
            outcome.usage = event  # type: ignore[assignment]
        elif kind is ToolCallDelta:
            outcome.output_chars += len(event.arguments)  # type: ignore[union-attr]
        elif kind is Start:
            outcome.served_model = event.model or None  # type: ignore[union-attr]
            outcome.response_id = event.id or None  # type: ignore[union-attr]
            outcome.answer_head = ""  # a new answer (a re-ask's): its own signals
            outcome.finish_reason = None
        elif kind is Finish and outcome.finish_reason is None:
            outcome.finish_reason = event.reason  # type: ignore[union-attr]

    def on_end(self, stream: Stream) -> None:
        err = stream.error
        if stream.completed:
            self._state.finished(ok=True, latency_s=self._ttft_s, generation=self._generation)
            error = ""
        elif err is None or err.kind is ErrorKind.INTERNAL:
            self._state.abandoned(generation=self._generation)  # no verdict on the target
            error = "cancelled" if err is None else (err.code or "internal")
        else:
            self._state.finished(ok=False, latency_s=None, generation=self._generation)
            error = err.code or err.kind.name.lower()
        self._layer._timed(self._call, self._started, error)
