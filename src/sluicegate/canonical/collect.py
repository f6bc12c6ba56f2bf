"""Collect a stream of events into a complete answer (for non-streamed clients)."""

from __future__ import annotations

from sluicegate.canonical.chat import ChatResponse, Choice, ContentPart, Message, TextPart, ToolCall
from sluicegate.canonical.events import (
    EmbeddingsResult,
    Event,
    Finish,
    Start,
    TextDelta,
    ToolCallDelta,
    Usage,
)


class _ChoiceBuilder:
    __slots__ = ("calls", "finish_reason", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, list[str]] = {}  # call_index -> [id, name, arguments...]
        self.finish_reason: str | None = None

    def message(self) -> Message:
        content: list[ContentPart] = [TextPart(text="".join(self.text))] if self.text else []
        calls = [
            ToolCall(id=parts[0], name=parts[1], arguments="".join(parts[2:]))
            for _, parts in sorted(self.calls.items())
        ]
        return Message(role="assistant", content=content, tool_calls=calls)


class ResponseCollector:
    """Accumulates events; ``response()`` builds the ChatResponse they describe."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = 0
        self.usage: Usage | None = None
        self.embeddings: EmbeddingsResult | None = None
        self._choices: dict[int, _ChoiceBuilder] = {}

    def _choice(self, index: int) -> _ChoiceBuilder:
        builder = self._choices.get(index)
        if builder is None:
            builder = self._choices[index] = _ChoiceBuilder()
        return builder

    def add(self, event: Event) -> None:
        kind = type(event)  # exact types: a chain of isinstance calls per event is measurable
        if kind is TextDelta:
            self._choice(event.index).text.append(event.text)  # type: ignore[union-attr]
        elif kind is ToolCallDelta:
            self._add_call(event)  # type: ignore[arg-type]
        elif kind is Finish:
            self._choice(event.index).finish_reason = event.reason  # type: ignore[union-attr]
        elif kind is Usage:
            self.usage = event  # type: ignore[assignment]
        elif kind is Start:
            self.id, self.model, self.created = event.id, event.model, event.created  # type: ignore[union-attr, assignment]
        elif kind is EmbeddingsResult:
            self.embeddings = event  # type: ignore[assignment]

    def _add_call(self, event: ToolCallDelta) -> None:
        calls = self._choice(event.index).calls
        parts = calls.get(event.call_index)
        if parts is None:
            parts = calls[event.call_index] = [event.id or "", event.name or ""]
        else:
            if event.id:
                parts[0] = event.id
            if event.name:
                parts[1] = event.name
        if event.arguments:
            parts.append(event.arguments)

    def response(self) -> ChatResponse:
        if not self._choices:
            self._choice(0)
        choices = [
            Choice(index=i, message=b.message(), finish_reason=b.finish_reason)
            for i, b in sorted(self._choices.items())
        ]
        return ChatResponse(
            id=self.id, model=self.model, created=self.created, choices=choices, usage=self.usage
        )


def events_of(response: ChatResponse) -> list[Event]:
    """The events that describe a complete answer (the inverse of ResponseCollector)."""
    events: list[Event] = [Start(id=response.id, model=response.model, created=response.created)]
    for choice in response.choices:
        text = choice.message.text()
        if text:
            events.append(TextDelta(text=text, index=choice.index))
        for i, call in enumerate(choice.message.tool_calls):
            events.append(
                ToolCallDelta(
                    call_index=i,
                    id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                    index=choice.index,
                )
            )
        if choice.finish_reason is not None:
            events.append(Finish(reason=choice.finish_reason, index=choice.index))  # type: ignore[arg-type]
    if response.usage is not None:
        events.append(response.usage)
    return events
