"""Encoding a whole answer as an Anthropic ``message`` object.

Decisions worth knowing:

- Response ids are passed through as the upstream made them (``chatcmpl-...``
  when an OpenAI upstream served the call): the SDKs treat the id as opaque
  and keeping it lets an operator find the call in the upstream's logs. Only a
  missing id is replaced by a fresh ``msg_...``.
- The canonical usage counts cached reads and cache writes inside
  ``input_tokens``; Anthropic reports them apart, so they are subtracted here.

The stream encoder (:mod:`.messages_stream`) shares the id, the stop reason
and the usage with this module.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from sluicegate.canonical import ChatResponse, TextPart, Usage
from sluicegate.protocols.nesting import parsed_within_depth

__all__ = ["encode_messages_response", "new_message_id", "stop_reason_of", "usage_body"]

# Canonical finish reason -> Anthropic stop_reason.
_STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def new_message_id() -> str:
    """A fresh ``msg_...`` id, for an answer that came without one."""
    return "msg_" + os.urandom(12).hex()


def stop_reason_of(finish: str | None, has_tool_calls: bool) -> str:
    # An Anthropic client loops on stop_reason == "tool_use"; some OpenAI-style
    # upstreams say "stop" while returning tool calls, so trust the calls.
    if has_tool_calls and finish in (None, "stop", "tool_calls"):
        return "tool_use"
    return _STOP_REASONS.get(finish or "stop", "end_turn")


def usage_body(usage: Usage | None) -> dict[str, int]:
    """Anthropic's ``usage``: cache reads and writes apart from ``input_tokens``."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    return {
        "input_tokens": max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }


def tool_input(arguments: str) -> Any:
    """A tool call's arguments as Anthropic's ``input``, which must be an object:
    unparseable arguments (a model cut off mid-call, say), and arguments nested
    deeper than JSON can be written back, become {} rather than failing the answer."""
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(value, dict) or not parsed_within_depth(value, arguments):
        return {}
    return value


def encode_messages_response(resp: ChatResponse) -> bytes:
    """Render a complete answer as an Anthropic ``message`` object (first choice only)."""
    content: list[dict[str, Any]] = []
    finish: str | None = None
    has_calls = False
    if resp.choices:
        choice = resp.choices[0]
        finish = choice.finish_reason
        for part in choice.message.content:
            if isinstance(part, TextPart) and part.text:
                content.append({"type": "text", "text": part.text})
        for call in choice.message.tool_calls:
            has_calls = True
            content.append(
                {"type": "tool_use", "id": call.id, "name": call.name,
                 "input": tool_input(call.arguments)}
            )
    return orjson.dumps(
        {
            "id": resp.id or new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": resp.model,
            "content": content,
            "stop_reason": stop_reason_of(finish, has_calls),
            "stop_sequence": None,
            "usage": usage_body(resp.usage),
        }
    )
