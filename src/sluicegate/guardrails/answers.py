"""An answer on its way out: checked by the output guardrails, placeholders restored.

Text is released as it arrives, less a short tail: a value the guardrails
look for (an e-mail address, a pattern) may still be arriving, and must be
seen whole before any of it is sent. PII and patterns are checked on each
release; moderation and injection, which judge a text as a whole, on the
whole answer at its end (a stream that has started then ends in an error
event, never a clean end). Output checks read the model's own text, with
placeholders in it; the originals are put back last, so the client's own
data is never taken for something the model produced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import msgspec

from sluicegate.canonical import Event, TextDelta, ToolCallDelta
from sluicegate.detectors.scans import Hit, Uncertain
from sluicegate.guardrails.placeholders import Redaction, StreamRestorer
from sluicegate.pipeline import Stream
from sluicegate.runtime.guardrails import Guardrail

# Characters of answer text held back until the next piece (or the end) in case a
# value being looked for is still arriving.
HOLD = 96
# A streamed answer is read again once this much more of it has arrived.
STEP = 256
_WINDOWED = frozenset({"pii", "regex"})


class Blocked(Exception):
    """An output guardrail blocks the answer."""

    def __init__(self, guardrail: str) -> None:
        super().__init__(guardrail)
        self.guardrail = guardrail


# What the stage is told of each output check: (guardrail, hits or None on a failure).
Report = Callable[[Guardrail, Sequence[Hit] | Uncertain | None], None]


class TextGate:
    """One choice's answer text."""

    __slots__ = (
        "_done", "_pending", "_report", "_restorer", "_seen", "_until_end", "_whole", "_windowed",
    )  # fmt: skip

    def __init__(
        self,
        guardrails: Sequence[Guardrail],
        redaction: Redaction,
        report: Report,
        *,
        until_end: bool = False,
    ) -> None:
        self._windowed = [g for g in guardrails if g.config.type in _WINDOWED]
        self._whole = [g for g in guardrails if g.config.type not in _WINDOWED]
        self._report = report
        self._restorer = StreamRestorer(redaction)
        # An answer the client gets whole is read once, at its end.
        self._until_end = until_end
        self._pending = ""
        self._seen: list[str] = []  # the model's text so far, for the whole-answer checks
        self._done: set[str] = set()  # guardrails that found something (reported once)

    def feed(self, text: str) -> str:
        """What may be sent now."""
        if self._whole:
            self._seen.append(text)
        if not self._windowed:
            return self._restorer.feed(text)
        pending = self._pending + text
        if self._until_end or len(pending) < HOLD + STEP:
            self._pending = pending  # read in steps, not at every piece
            return ""
        released, self._pending = self._checked(pending, len(pending) - HOLD)
        return self._restorer.feed(released)

    def end(self) -> str:
        """The rest, once the answer is complete (and the whole-answer checks pass)."""
        released, self._pending = self._checked(self._pending, len(self._pending))
        for guardrail in self._windowed:
            if guardrail.name not in self._done:
                self._report(guardrail, ())  # one check of the answer, and it passed
        whole = "".join(self._seen)
        for guardrail in self._whole:
            self._judge(guardrail, whole)
        return self._restorer.feed(released) + self._restorer.flush()

    def _checked(self, pending: str, cut: int) -> tuple[str, str]:
        """``pending`` split at ``cut`` (moved back to the start of a hit it would split),
        each hit before it acted on; the first part redacted where asked."""
        redact: list[tuple[int, int, str]] = []
        for guardrail in self._windowed:
            hits = self._scan(guardrail, pending)
            for hit in hits:
                if hit.start < cut < hit.end:
                    cut = hit.start
            inside = [h for h in hits if h.end <= cut]
            if inside and guardrail.config.action == "redact":
                redact.extend((h.start, h.end, h.label) for h in inside)
        head, rest = pending[:cut], pending[cut:]
        if redact:
            head = _masked(head, redact)
        return head, rest

    def _scan(self, guardrail: Guardrail, text: str) -> Sequence[Hit]:
        try:
            found = guardrail.detector.scan(text, "answer")
        except Exception:
            self._done.add(guardrail.name)
            self._report(guardrail, None)  # raises unless the guardrail fails open
            return ()
        hits = () if isinstance(found, Uncertain) else found
        if hits and guardrail.name not in self._done:
            self._done.add(guardrail.name)
            self._report(guardrail, hits)  # raises for an enforced block
        return hits if guardrail.config.mode == "enforce" else ()

    def _judge(self, guardrail: Guardrail, text: str) -> None:
        try:
            found = guardrail.detector.scan(text, "answer")
        except Exception:
            self._report(guardrail, None)
            return
        # No judge on the way out: an unsure classifier lets the answer pass.
        self._report(guardrail, () if isinstance(found, Uncertain) else found)


def _masked(text: str, spans: list[tuple[int, int, str]]) -> str:
    """PII the model wrote itself, replaced by its kind (nothing to restore it from)."""
    out: list[str] = []
    at = 0
    for start, end, entity in sorted(spans):
        if start < at:
            continue
        out.append(text[at:start])
        out.append(f"[{entity.upper()}]")
        at = end
    out.append(text[at:])
    return "".join(out)


async def watched(
    stream: Stream,
    guardrails: Sequence[Guardrail],
    redaction: Redaction,
    report: Report,
    *,
    streamed: bool = True,
) -> AsyncIterator[Event]:
    """``stream``'s events with the answer text gated and placeholders restored;
    ``streamed``: the client gets them as they come (else the answer is read once)."""
    gates: dict[int, TextGate] = {}
    calls: dict[tuple[int, int], StreamRestorer] = {}
    try:
        async for event in stream:
            if type(event) is TextDelta:
                gate = gates.get(event.index)
                if gate is None:
                    gate = gates[event.index] = TextGate(
                        guardrails, redaction, report, until_end=not streamed
                    )
                text = gate.feed(event.text)
                if text:
                    yield TextDelta(text=text, index=event.index)
                continue
            # Anything else ends the text of its choice so far (usage: of every choice).
            index = getattr(event, "index", None)
            for i in [i for i in gates if index is None or i == index]:
                rest = gates.pop(i).end()
                if rest:
                    yield TextDelta(text=rest, index=i)
            if type(event) is ToolCallDelta:
                if redaction:
                    key = (event.index, event.call_index)
                    restorer = calls.get(key)
                    if restorer is None:
                        restorer = calls[key] = redaction.restorer(json_string=True)
                    event = msgspec.structs.replace(
                        event, arguments=restorer.feed(event.arguments)
                    )
                yield event
                continue
            for key in [k for k in calls if index is None or k[0] == index]:
                rest = calls.pop(key).flush()
                if rest:
                    yield ToolCallDelta(call_index=key[1], arguments=rest, index=key[0])
            yield event
        for i, gate in gates.items():
            rest = gate.end()
            if rest:
                yield TextDelta(text=rest, index=i)
        for (i, call_index), restorer in calls.items():
            rest = restorer.flush()
            if rest:
                yield ToolCallDelta(call_index=call_index, arguments=rest, index=i)
    finally:
        if not stream.ended:
            await stream.aclose()
