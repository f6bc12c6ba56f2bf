"""One call of one target, and the layers that wrap it.

The upstream stage walks the routing plan; for each candidate it makes a
:class:`Call` and hands it to a chain of policy layers (as in Tower), each one
small and with one job: the circuit breaker, the retry budget and backoff, the
deployment's capacity gate, the target's health accounting. Under them
:func:`sluicegate.upstream.target.call_target` calls the provider and waits for
the first event. A layer may refuse the call (:class:`NotCalled`), fail it (a
``GatewayError``), or pass it on and watch the answer's Stream; before the first
event a layer cleans up after itself in ``try``/``except``, after it through an
observer on the stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from sluicegate.pipeline import Request, Stream

if TYPE_CHECKING:
    from sluicegate.runtime.aliases import Alias, Target


class Call:
    """The request, the candidate (its alias and target) and which attempt this is."""

    __slots__ = ("alias", "number", "reached", "request", "target")

    def __init__(self, request: Request, alias: Alias, target: Target, number: int) -> None:
        self.request = request
        self.alias = alias  # the alias the target belongs to (a fallback's, perhaps)
        self.target = target
        self.number = number  # 1 for the request's first upstream call
        self.reached = False  # the provider was asked (set by the health layer)

    @property
    def retry(self) -> bool:
        return self.number > 1


CallNext = Callable[[Call], Awaitable[Stream]]


class Layer(Protocol):
    async def __call__(self, call: Call, call_next: CallNext) -> Stream: ...


class NotCalled(Exception):
    """A layer passed the target over without calling it; ``result`` is what the
    attempt log records, ``stop`` ends the whole plan (no further attempts)."""

    def __init__(self, result: str, *, stop: bool = False) -> None:
        super().__init__(result)
        self.result = result
        self.stop = stop


def compose(layers: Sequence[Layer], innermost: CallNext) -> CallNext:
    """``layers`` around ``innermost``, the first outermost; composed once."""
    handler = innermost
    for layer in reversed(layers):
        handler = _bind(layer, handler)
    return handler


def _bind(layer: Layer, call_next: CallNext) -> CallNext:
    def handler(call: Call) -> Awaitable[Stream]:
        return layer(call, call_next)

    return handler
