"""Stage: the answer meets its output contract, or the client is told it does not.

For a request with a contract (:mod:`sluicegate.contracts.contract`), the
answer is read whole (``hold``: streamed clients get the checked answer as a
stream once it is checked), checked (:mod:`sluicegate.contracts.check`) and,
while it is invalid, asked for again (:mod:`sluicegate.contracts.reask`),
at most ``max_reasks`` times and within ``reask_token_budget`` tokens.
Every answer read is charged (``Outcome.set_aside``) and listed with its
tokens, cost and verdict in the ledger. ``x-sluicegate-contract`` says how it
ended: ``valid`` as the model wrote it, ``repaired`` (syntax only), ``reasked``,
or ``invalid`` (``on_violation: pass``; with ``error`` the client gets a 502
``output_contract_violation`` naming the first errors);
``x-sluicegate-structured-output`` how the provider was held to it
(:mod:`sluicegate.contracts.native`).

A streamed client on an alias with ``stream: pass`` gets the answer as it
arrives; it is checked at its end, and an invalid one ends in an error event
instead of a clean end (no header: it is sent before the answer is known).

An answer that runs away (a long run of whitespace, as models in JSON mode
sometimes emit until max_tokens, or more text than can be checked) is cut
off there, its upstream closed, and treated as cut off.

It sits after the cache, so a stored answer is one that was checked, and
before routing, so each re-ask is routed, retried and failed over like any call.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from sluicegate.canonical import (
    ChatRequest,
    ChatResponse,
    ErrorCode,
    ErrorKind,
    Event,
    GatewayError,
    Message,
    TextPart,
    Usage,
)
from sluicegate.canonical.collect import ResponseCollector, events_of
from sluicegate.canonical.tokens import estimate_input_tokens
from sluicegate.contracts.check import Verdict, check_answer
from sluicegate.contracts.contract import Contract, contract_for
from sluicegate.contracts.native import HEADER as ENFORCED
from sluicegate.contracts.native import enforcement
from sluicegate.contracts.reask import reask_body
from sluicegate.json_schema import SchemaCache
from sluicegate.pipeline import Next, Request, Stream

HEADER = "x-sluicegate-contract"
# A run of whitespace this long in an answer is a model stuck emitting it.
RUNAWAY_WHITESPACE = 2_000
# Text beyond this in one answer is not held for checking.
MAX_ANSWER_CHARS = 4 * 1024 * 1024
# Errors named in the client's error message.
ERRORS_SHOWN = 3


class EnforceContract:
    def __init__(self, schemas: SchemaCache | None = None) -> None:
        self.schemas = schemas if schemas is not None else SchemaCache()

    def wants(self, request: Request) -> bool:
        """A chat request that asks for JSON, or to an alias with a contract."""
        body = request.body
        if type(body) is not ChatRequest:
            return False
        alias = request.alias
        return body.response_format is not None or (
            alias is not None and alias.config.contract is not None
        )

    async def __call__(self, request: Request, call_next: Next) -> Stream:
        contract = contract_for(request, self.schemas)
        if contract is None:
            return await call_next(request)
        if request.streaming and contract.settings.stream == "pass":
            return _relay(await call_next(request), contract)
        return await self._hold(request, call_next, contract)

    async def _hold(self, request: Request, call_next: Next, contract: Contract) -> Stream:
        outcome = request.outcome
        settings = contract.settings
        budget = settings.reask_token_budget
        attempts: list[tuple[str, int, int, float]] = []
        outcome.contract_attempts = attempts
        asking = request
        reasks = 0
        while True:
            answer = await _read(await call_next(asking))
            verdict = _verdict(answer, contract)
            label = _label(verdict, reasks)
            if verdict.ok or reasks >= settings.max_reasks:
                break
            body = reask_body(asking.decoded, verdict)  # type: ignore[arg-type]
            cost = estimate_input_tokens(body) + (body.max_tokens or _output_tokens(answer))
            if cost > budget:
                break
            usage, usd = outcome.set_aside()
            attempts.append((label, usage.input_tokens, usage.output_tokens, usd))
            budget -= cost
            reasks += 1
            asking = asking.replace(body=body)
        outcome.contract = label
        last, usd = outcome.latest_charge()
        attempts.append((label, last.input_tokens, last.output_tokens, usd))
        outcome.add_headers({HEADER: label})
        target, asked = outcome.target, asking.body
        if target is not None and isinstance(asked, ChatRequest):
            how = enforcement(target.provider.config.type, asked.response_format)
            outcome.add_headers({ENFORCED: how})
        if not verdict.ok and settings.on_violation == "error":
            raise violation(verdict, reasks)
        return Stream.replay(_answer_events(answer, verdict, outcome.spent), outcome)


class _Answer:
    """One upstream answer, collected as it passes."""

    __slots__ = ("_response", "collector", "runaway")

    def __init__(self) -> None:
        self.collector = ResponseCollector()
        self.runaway = False
        self._response: ChatResponse | None = None

    def response(self) -> ChatResponse:
        """The answer as a response, built once it is complete."""
        if self._response is None:
            self._response = self.collector.response()
        return self._response


async def _passing(stream: Stream, answer: _Answer) -> AsyncGenerator[Event, None]:
    """``stream``'s events, each added to ``answer``; one that runs away is cut off there."""
    watch = _RunawayWatch()
    add = answer.collector.add
    async for event in stream:
        add(event)
        if watch.runs_away(event):
            answer.runaway = True
            await stream.abandon()
            return
        yield event


async def _read(stream: Stream) -> _Answer:
    answer = _Answer()
    async for _ in _passing(stream, answer):
        pass
    return answer


class _RunawayWatch:
    __slots__ = ("chars", "spaces")

    def __init__(self) -> None:
        self.spaces = 0  # whitespace at the end of the text so far
        self.chars = 0

    def runs_away(self, event: Event) -> bool:
        text = getattr(event, "text", None) or getattr(event, "arguments", None)
        if not text:
            return False
        self.chars += len(text)
        stripped = len(text.rstrip())
        self.spaces = self.spaces + len(text) if stripped == 0 else len(text) - stripped
        return self.spaces >= RUNAWAY_WHITESPACE or self.chars > MAX_ANSWER_CHARS


def _verdict(answer: _Answer, contract: Contract) -> Verdict:
    verdict = check_answer(answer.response(), contract)
    if not answer.runaway:
        return verdict
    if verdict.ok:
        # Complete JSON, then whitespace until it was cut off: the whitespace goes.
        message = verdict.message
        text = message.text().rstrip()
        if message.content and not message.tool_calls:
            message = Message(role="assistant", content=[TextPart(text=text)])
        return Verdict(ok=True, repaired=True, errors=(), message=message)
    return Verdict(
        ok=False, repaired=False, errors=("the answer ran away and was cut off",),
        message=verdict.message, cut_off=True,
    )


def _label(verdict: Verdict, reasks: int) -> str:
    if not verdict.ok:
        return "invalid"
    if reasks:
        return "reasked"
    return "repaired" if verdict.repaired else "valid"


def _output_tokens(answer: _Answer) -> int:
    usage = answer.collector.usage
    return usage.output_tokens if usage is not None else 0


def _answer_events(answer: _Answer, verdict: Verdict, spent: Usage | None) -> list[Event]:
    """The checked answer as events; its usage is what the request was charged."""
    response = answer.response()
    response.choices[0].message = verdict.message
    if answer.runaway:
        response.choices[0].finish_reason = "stop" if verdict.ok else "length"
    if spent is not None and response.usage is not None:
        response.usage = spent.plus(response.usage)
    return events_of(response)


def violation(verdict: Verdict, reasks: int) -> GatewayError:
    shown = "; ".join(verdict.errors[:ERRORS_SHOWN])
    more = len(verdict.errors) - ERRORS_SHOWN
    if more > 0:
        shown += f" (and {more} more)"
    after = f" after {reasks} re-ask{'s' if reasks != 1 else ''}" if reasks else ""
    return GatewayError(
        ErrorKind.UPSTREAM,
        f"The model's answer does not meet the output contract{after}: {shown}",
        code=ErrorCode.OUTPUT_CONTRACT_VIOLATION,
    )


def _relay(stream: Stream, contract: Contract) -> Stream:
    """``stream: pass``: the answer as it arrives, checked at its end."""
    outcome = stream.outcome
    return Stream(_checked_at_end(stream, contract), outcome)


async def _checked_at_end(stream: Stream, contract: Contract) -> AsyncIterator[Event]:
    answer = _Answer()
    passing = _passing(stream, answer)
    try:
        async for event in passing:
            yield event
    finally:
        await passing.aclose()
        if not stream.ended:  # the client went away: give the upstream up with it
            await stream.aclose()
    verdict = _verdict(answer, contract)
    label = _label(verdict, 0)
    outcome = stream.outcome
    outcome.contract = label
    usage, usd = outcome.latest_charge()
    outcome.contract_attempts = [(label, usage.input_tokens, usage.output_tokens, usd)]
    if not verdict.ok:
        raise violation(verdict, 0)
