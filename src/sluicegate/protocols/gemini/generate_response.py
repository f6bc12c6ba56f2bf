"""Decoding Gemini's ``GenerateContentResponse``, whole or streamed, into canonical events.

Decisions worth knowing:

- Gemini gives whole function calls, usually without ids: ids are made up as
  ``call_<responseId>_<n>`` so they are unique across turns (a conversation may
  later be served by a provider that insists on unique ids), and the arguments
  come complete in one ToolCallDelta.
- A prompt blocked outright (``promptFeedback.blockReason``, no candidates) is
  an answer, not a failure: it ends with ``Finish(content_filter)`` like a
  blocked candidate does, so clients see one moderation signal whatever the
  cause, and the resilience stage does not retry a prompt that will be blocked
  again everywhere.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import orjson

from sluicegate.canonical import ErrorCode
from sluicegate.canonical.errors import ErrorKind, GatewayError
from sluicegate.canonical.events import (
    Event,
    Finish,
    FinishReason,
    Start,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from sluicegate.protocols.gemini.errors import error_from_object

__all__ = ["GenerateStreamDecoder", "decode_generate_response", "usage_of"]

JSON = dict[str, Any]

_FILTERED = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
})
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class GenerateStreamDecoder:
    """Turns ``streamGenerateContent?alt=sse`` payloads into canonical events.

    Feed each SSE ``data`` string; call :meth:`finish` when the stream ends.
    Gemini repeats ``usageMetadata`` cumulatively on every chunk, so usage is
    held back and reported once, by :meth:`finish`, with the last values.
    A stream that ends before every candidate has a ``finishReason`` was cut
    off: :meth:`finish` raises rather than letting it end cleanly.
    """

    __slots__ = ("_calls", "_done", "_model", "_next_call", "_seen", "_stem", "_usage", "id")

    def __init__(self, *, model: str) -> None:
        self._model = model
        self.id: str | None = None  # the response id, once the first chunk is in
        self._stem = ""
        self._usage: JSON | None = None
        self._calls: dict[int, int] = {}  # candidate index -> tool calls so far
        self._next_call = 0  # across candidates, for unique ids
        self._seen: set[int] = set()
        self._done: set[int] = set()

    @property
    def finished(self) -> bool:
        """Every candidate seen so far has ended (or the prompt was blocked)."""
        return bool(self._done) and self._seen <= self._done

    def feed(self, data: str) -> list[Event]:
        """Events for one chunk. Raises GeminiError for an error chunk, ValueError for junk."""
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError(f"expected a GenerateContentResponse, got {type(chunk).__name__}")
        return self.feed_object(chunk)

    def feed_object(self, chunk: JSON) -> list[Event]:
        error = chunk.get("error")
        if isinstance(error, dict):
            raise error_from_object(error, None)
        events: list[Event] = []
        if self.id is None:
            response_id = chunk.get("responseId") or "gemini-" + os.urandom(12).hex()
            self.id = response_id
            self._stem = _ID_UNSAFE.sub("", response_id)
            model = chunk.get("modelVersion") or self._model
            events.append(Start(id=response_id, model=model, created=int(time.time())))
        usage = chunk.get("usageMetadata")
        if usage:
            self._usage = usage
        candidates = chunk.get("candidates")
        if candidates:
            for position, candidate in enumerate(candidates):
                self._candidate(candidate, position, events)
        else:
            feedback = chunk.get("promptFeedback")
            if isinstance(feedback, dict) and feedback.get("blockReason") and 0 not in self._done:
                self._done.add(0)
                events.append(Finish(reason="content_filter"))
        return events

    def _candidate(self, candidate: JSON, position: int, events: list[Event]) -> None:
        index = candidate.get("index", position)
        self._seen.add(index)
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if parts:
            for part in parts:
                text = part.get("text")
                if text is not None:
                    # Thought summaries are not part of the answer.
                    if text and not part.get("thought"):
                        events.append(TextDelta(text=text, index=index))
                    continue
                call = part.get("functionCall")
                if call is not None:
                    n = self._calls.get(index, 0)
                    self._calls[index] = n + 1
                    call_id = call.get("id") or f"call_{self._stem}_{self._next_call}"
                    self._next_call += 1
                    events.append(ToolCallDelta(
                        call_index=n,
                        id=call_id,
                        name=call.get("name") or "",
                        arguments=orjson.dumps(call.get("args") or {}).decode(),
                        index=index,
                    ))
        reason = candidate.get("finishReason")
        if reason and index not in self._done:
            self._done.add(index)
            events.append(Finish(reason=self._reason(reason, index), index=index))

    def _reason(self, reason: str, index: int) -> FinishReason:
        if reason == "MAX_TOKENS":
            return "length"
        if reason in _FILTERED:
            return "content_filter"
        # STOP, and the rest (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL ...):
        # the turn is over; Gemini says STOP even when it called functions.
        return "tool_calls" if self._calls.get(index) else "stop"

    def end_open_candidates(self) -> list[Event]:
        """Finish candidates that came without a ``finishReason`` (a whole body is complete)."""
        events: list[Event] = []
        for index in sorted(self._seen - self._done):
            self._done.add(index)
            events.append(Finish(reason=self._reason("STOP", index), index=index))
        return events

    def finish(self) -> list[Event]:
        """The closing events (the Usage, if Gemini reported any).

        Raises GatewayError ``upstream_stream_cut`` when the stream ended before
        its terminal chunk.
        """
        if not self.finished:
            raise GatewayError(
                ErrorKind.UPSTREAM,
                "the Gemini stream ended before its finishReason",
                code=ErrorCode.UPSTREAM_STREAM_CUT,
                retryable=True,
            )
        return [] if self._usage is None else [usage_of(self._usage)]


def usage_of(meta: JSON) -> Usage:
    """Canonical usage from ``usageMetadata``.

    ``promptTokenCount`` already includes cached tokens; tokens of built-in tool
    results (``toolUsePromptTokenCount``) are billed as input; thinking tokens
    are billed as output but reported apart from ``candidatesTokenCount``.
    """
    thoughts = meta.get("thoughtsTokenCount") or 0
    tool_results = meta.get("toolUsePromptTokenCount") or 0
    return Usage(
        input_tokens=(meta.get("promptTokenCount") or 0) + tool_results,
        output_tokens=(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=meta.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def decode_generate_response(body: bytes, *, model: str) -> list[Event]:
    """Events of a whole ``generateContent`` answer.

    Raises GeminiError for an error body and ValueError for one that is not a
    usable answer (no candidates and no block reason).
    """
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a GenerateContentResponse, got {type(data).__name__}")
    decoder = GenerateStreamDecoder(model=model)
    events = decoder.feed_object(data)
    events.extend(decoder.end_open_candidates())
    if not decoder.finished:
        raise ValueError("the answer has no candidates and no promptFeedback.blockReason")
    events.extend(decoder.finish())
    return events
