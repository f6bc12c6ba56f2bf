"""Layer: a deployment with a capacity is entered through its fair-queuing gate.

At once while it has room, by fair queuing when it is saturated, or not at all
(503 ``overloaded``, so the plan moves on) when its queue is full or the wait
runs out (:mod:`sluicegate.fairness`). The slot is held for the whole answer and
freed, charged with the answer's real usage, when it ends.
"""

from __future__ import annotations

from sluicegate.fairness import Gates, Slot, flow_of
from sluicegate.pipeline import Observer, Stream
from sluicegate.upstream.call import Call, CallNext


class CapacityLayer:
    def __init__(self, gates: Gates) -> None:
        self.gates = gates

    async def __call__(self, call: Call, call_next: CallNext) -> Stream:
        target = call.target
        gate = self.gates.get(target.label, target.capacity)
        if gate is None:
            return await call_next(call)
        slot = await gate.acquire(flow_of(call.request))
        try:
            stream = await call_next(call)
        except BaseException:
            # The upstream was asked (or not at all): count the request, no answer.
            await gate.release(slot, output_tokens=0, total_tokens=slot.flow.prompt_tokens)
            raise
        return stream.watch(_Holding(slot))


class _Holding(Observer):
    __slots__ = ("_slot",)

    def __init__(self, slot: Slot) -> None:
        self._slot = slot

    async def on_end(self, stream: Stream) -> None:
        slot, usage = self._slot, stream.outcome.usage
        output = usage.output_tokens if usage is not None else 0
        total = usage.total_tokens if usage is not None else slot.flow.prompt_tokens
        await slot.gate.release(slot, output_tokens=output, total_tokens=total)
