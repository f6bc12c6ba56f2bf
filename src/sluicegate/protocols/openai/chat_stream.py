"""Encoding canonical events as OpenAI's ``chat.completion.chunk`` SSE stream."""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical import Event, Finish, GatewayError, Start, TextDelta, Usage

# Not in sluicegate.canonical.__all__, so imported from its module.
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.openai.chat_response import usage_json
from sluicegate.protocols.openai.errors import encode_error

__all__ = ["ChatStreamEncoder"]

_DONE = b"data: [DONE]\n\n"
_NULL_TAIL = b',"logprobs":null,"finish_reason":null}'


class ChatStreamEncoder:
    """Canonical events -> ``chat.completion.chunk`` SSE frames, one call per event.

    Every chunk shares the same ``id``/``object``/``created``/``model`` head, so
    it is encoded once (and again only if a Start event changes it); a text
    delta costs one small ``orjson.dumps`` of the text and a few concatenations.
    """

    __slots__ = ("_created", "_head", "_id", "_include_usage", "_model", "_roled", "_tail",
                 "_usage")

    def __init__(self, *, id: str, model: str, created: int, include_usage: bool) -> None:
        self._include_usage = include_usage
        # With include_usage OpenAI sends "usage": null on every chunk but the last.
        self._tail = b'],"usage":null}\n\n' if include_usage else b"]}\n\n"
        self._id, self._model, self._created = id, model, created
        self._head = b""
        self._set_head()
        self._roled: set[int] = set()  # choices whose first delta (with the role) went out
        self._usage: Usage | None = None

    def _set_head(self) -> None:
        self._head = b"".join((
            b'data: {"id":', orjson.dumps(self._id),
            b',"object":"chat.completion.chunk","created":', str(self._created).encode(),
            b',"model":', orjson.dumps(self._model), b',"choices":[',
        ))

    def _delta_open(self, index: int) -> bytes:
        """The start of a choice up to and including ``"delta":{``, role on the first."""
        if index in self._roled:
            return b'{"index":%d,"delta":{' % index
        self._roled.add(index)
        return b'{"index":%d,"delta":{"role":"assistant",' % index

    def encode(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):  # by far the most frequent: checked first
            if not event.text:
                return b""
            return b"".join((self._head, self._delta_open(event.index), b'"content":',
                             orjson.dumps(event.text), b"}", _NULL_TAIL, self._tail))
        if isinstance(event, ToolCallDelta):
            return self._tool_call(event)
        if isinstance(event, Finish):
            index = event.index
            if index in self._roled:
                delta = b'{"index":%d,"delta":{}' % index
            else:  # an empty answer: the role still has to arrive once
                self._roled.add(index)
                delta = b'{"index":%d,"delta":{"role":"assistant","content":""}' % index
            return b"".join((self._head, delta, b',"logprobs":null,"finish_reason":',
                             orjson.dumps(event.reason), b"}", self._tail))
        if isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, Start):
            # The upstream's own id/model/created win where it gave them.
            self._id = event.id or self._id
            self._model = event.model or self._model
            self._created = event.created or self._created
            self._set_head()
        return b""

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        call: dict[str, Any]
        if event.id is not None or event.name is not None:
            call = {"index": event.call_index, "id": event.id or "", "type": "function",
                    "function": {"name": event.name or "", "arguments": event.arguments}}
        else:
            call = {"index": event.call_index, "function": {"arguments": event.arguments}}
        opening = self._delta_open(event.index)
        if opening.endswith(b'"assistant",'):
            opening += b'"content":null,'
        return b"".join((self._head, opening, b'"tool_calls":[', orjson.dumps(call), b"]}",
                         _NULL_TAIL, self._tail))

    def end(self) -> bytes:
        """The final usage chunk (when asked for and known), then ``[DONE]``."""
        if self._include_usage and self._usage is not None:
            return b"".join((self._head, b'],"usage":', orjson.dumps(usage_json(self._usage)),
                             b"}\n\n", _DONE))
        return _DONE

    def error(self, err: GatewayError) -> bytes:
        """An error after the stream started: an ``{"error": ...}`` chunk and no ``[DONE]``.

        The official SDKs raise ``APIError`` when a chunk carries an ``error``
        key, so the client sees a failure, never a clean but truncated answer.
        """
        return b"data: " + encode_error(err) + b"\n\n"
