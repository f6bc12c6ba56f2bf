"""An answer's events kept as they pass, for a store that keeps answers only up to a size.

The response cache and the Idempotency-Key store refuse an answer whose encoding
is over their ``max_entry_bytes``, but they learn its size only at the end: a
long stream would sit in memory whole, beside the one the client is reading,
just to be refused. A :class:`Recording` counts the answer's text and tool
arguments as they pass and gives up (drops what it holds) once they alone are
over the bound. Characters are never more than their encoded bytes, so it
never gives up on an answer the store would have kept.
"""

from __future__ import annotations

from sluicegate.canonical.events import Event, TextDelta, ToolCallDelta


class Recording:
    __slots__ = ("_max_chars", "chars", "events")

    def __init__(self, max_bytes: int) -> None:
        self._max_chars = max_bytes
        self.chars = 0  # text and tool arguments seen, kept or not
        self.events: list[Event] | None = []  # None: given up, too large to keep

    def add(self, event: Event) -> None:
        kind = type(event)
        if kind is TextDelta:
            self.chars += len(event.text)  # type: ignore[union-attr]
        elif kind is ToolCallDelta:
            self.chars += len(event.arguments)  # type: ignore[union-attr]
        events = self.events
        if events is not None:
            if self.chars > self._max_chars:
                self.events = None
            else:
                events.append(event)
