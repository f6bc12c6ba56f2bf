"""Encoding canonical events as Anthropic's streamed event sequence."""

from __future__ import annotations

import os
from typing import Any

import orjson

from sluicegate.canonical import Event, Finish, GatewayError, Start, TextDelta, Usage
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.protocols.anthropic.errors import encode_error
from sluicegate.protocols.anthropic.messages_response import (
    new_message_id,
    stop_reason_of,
    usage_body,
)
from sluicegate.protocols.sse import frame

__all__ = ["MessagesStreamEncoder"]

_PING = frame(b'{"type":"ping"}', "ping")
_MESSAGE_STOP = frame(b'{"type":"message_stop"}', "message_stop")
_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_TEXT_DELTA_MID = b',"delta":{"type":"text_delta","text":'
_JSON_DELTA_MID = b',"delta":{"type":"input_json_delta","partial_json":'
_DELTA_TAIL = b"}}\n\n"


class MessagesStreamEncoder:
    """Turns canonical events into Anthropic's streamed event sequence, as they arrive.

    ``message_start``, then per content block ``content_block_start`` /
    ``content_block_delta``... / ``content_block_stop`` (text and each tool call
    are separate blocks with increasing indexes), then ``message_delta`` and
    ``message_stop`` from :meth:`end`, because the stop reason and the final
    usage only come with the last events. Only choice 0 is rendered: Anthropic
    has no ``n``.
    """

    __slots__ = (
        "_block",
        "_block_kind",
        "_call_blocks",
        "_closed",
        "_finish",
        "_id",
        "_input_tokens",
        "_model",
        "_next_block",
        "_open_call",
        "_started",
        "_stop_sequence",
        "_usage",
    )

    def __init__(self, *, id: str, model: str, input_tokens: int = 0) -> None:
        self._id = id
        self._model = model
        # An estimate the pipeline may already have for message_start.
        self._input_tokens = input_tokens
        self._started = False
        self._closed = False
        self._block = -1  # index of the open content block, -1 when none
        self._block_kind = ""  # "text" | "tool_use"
        self._open_call = -1  # call_index of the open tool_use block
        self._next_block = 0
        self._call_blocks: dict[int, int] = {}  # call_index -> block index
        self._finish: str | None = None
        self._stop_sequence: str | None = None
        self._usage: Usage | None = None

    def encode(self, event: Event) -> bytes:
        """Frames for one event (``b""`` when it produces none yet)."""
        if self._closed:
            return b""
        if isinstance(event, TextDelta):
            if event.index != 0 or not event.text:
                return b""
            out = b"" if self._started else self._message_start()
            if self._block_kind != "text":
                out += self._open_block("text", {"type": "text", "text": ""})
            return (
                out + _DELTA_HEAD + str(self._block).encode() + _TEXT_DELTA_MID
                + orjson.dumps(event.text) + _DELTA_TAIL
            )
        if isinstance(event, ToolCallDelta):
            if event.index != 0:
                return b""
            return self._tool_call(event)
        if isinstance(event, Start):
            if not self._id:
                self._id = event.id
            if not self._model:
                self._model = event.model
            return b"" if self._started else self._message_start()
        if isinstance(event, Finish):
            if event.index != 0:
                return b""
            self._finish = event.reason
            self._stop_sequence = event.stop_sequence
            out = b"" if self._started else self._message_start()
            return out + self._close_block()
        if isinstance(event, Usage):
            self._usage = event
        return b""

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        out = b"" if self._started else self._message_start()
        if self._block_kind == "tool_use" and self._open_call == event.call_index:
            block = self._block
        elif event.call_index in self._call_blocks:
            # Arguments for a call whose block is already closed (an upstream that
            # interleaves parallel calls): Anthropic cannot reopen a block, but the
            # SDKs accumulate deltas by index, so address the old block.
            block = self._call_blocks[event.call_index]
        else:
            out += self._open_block(
                "tool_use",
                {
                    "type": "tool_use",
                    "id": event.id or "toolu_" + os.urandom(12).hex(),
                    "name": event.name or "",
                    "input": {},
                },
            )
            block = self._block
            self._open_call = event.call_index
            self._call_blocks[event.call_index] = block
        if event.arguments:
            out += (
                _DELTA_HEAD + str(block).encode() + _JSON_DELTA_MID
                + orjson.dumps(event.arguments) + _DELTA_TAIL
            )
        return out

    def _message_start(self) -> bytes:
        self._started = True
        if not self._id:
            self._id = new_message_id()
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        return frame(orjson.dumps({"type": "message_start", "message": message}), "message_start")

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close_block()
        self._block = self._next_block
        self._next_block += 1
        self._block_kind = kind
        start = {"type": "content_block_start", "index": self._block, "content_block": block}
        return out + frame(orjson.dumps(start), "content_block_start")

    def _close_block(self) -> bytes:
        if self._block < 0:
            return b""
        out = frame(
            b'{"type":"content_block_stop","index":' + str(self._block).encode() + b"}",
            "content_block_stop",
        )
        self._block = -1
        self._block_kind = ""
        self._open_call = -1
        return out

    def ping(self) -> bytes:
        """A keep-alive frame, for a pipeline that waits long between events."""
        return b"" if self._closed else _PING

    def end(self) -> bytes:
        """``message_delta`` (stop reason, final usage) and ``message_stop``."""
        if self._closed:
            return b""
        self._closed = True
        out = b"" if self._started else self._message_start()
        out += self._close_block()
        stop_reason = stop_reason_of(self._finish, bool(self._call_blocks))
        if self._stop_sequence is not None and self._finish == "stop":
            stop_reason = "stop_sequence"
        usage: dict[str, int]
        if self._usage is None:
            usage = {"output_tokens": 0}
        else:
            usage = usage_body(self._usage)
            # Output first, as Anthropic orders it; the counts are cumulative.
            usage = {"output_tokens": usage.pop("output_tokens"), **usage}
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": self._stop_sequence},
            "usage": usage,
        }
        return out + frame(orjson.dumps(delta), "message_delta") + _MESSAGE_STOP

    def error(self, err: GatewayError) -> bytes:
        """An ``error`` event ending the stream; no ``message_stop`` follows (the SDKs raise)."""
        if self._closed:
            return b""
        self._closed = True
        return frame(encode_error(err), "error")
