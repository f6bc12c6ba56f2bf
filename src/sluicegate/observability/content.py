"""Message content in the GenAI conventions' shape, for spans that capture it.

Only with ``observability.capture_content: true``. ``gen_ai.input.messages``
and ``gen_ai.output.messages`` are JSON text (span attributes hold no nested
objects) of ``[{"role", "parts": [{"type": "text", "content"}, {"type":
"tool_call", "id", "name", "arguments"}, {"type": "tool_call_response", "id",
"response"}, ...]}]``, output messages with their ``finish_reason``. Content
is bounded: text past ``MAX_CONTENT_CHARS`` in all is cut and marked, and
inline image data is never copied (an image is named by its URL or its media
type), so that one large prompt cannot make every span of a trace too large to
export.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical.chat import ImagePart, Message, TextPart

MAX_CONTENT_CHARS = 16_384  # per attribute
TRUNCATED = "…[truncated]"


class _Budget:
    __slots__ = ("left",)

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, text: str) -> str:
        if len(text) <= self.left:
            self.left -= len(text)
            return text
        kept, self.left = text[: self.left], 0
        return kept + TRUNCATED


def input_messages(messages: list[Message], limit: int = MAX_CONTENT_CHARS) -> str:
    """``gen_ai.input.messages`` for a chat request's messages."""
    budget = _Budget(limit)
    return orjson.dumps([_message(m, budget) for m in messages]).decode()


def output_messages(
    text: str, tool_calls: list[dict[str, str]], finish_reason: str | None,
    limit: int = MAX_CONTENT_CHARS,
) -> str:
    """``gen_ai.output.messages`` for one answer: its text and tool calls."""
    budget = _Budget(limit)
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "text", "content": budget.take(text)})
    for call in tool_calls:
        parts.append({
            "type": "tool_call", "id": call.get("id"), "name": call.get("name"),
            "arguments": budget.take(call.get("arguments", "")),
        })
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    message["finish_reason"] = finish_reason or "error"
    return orjson.dumps([message]).decode()


def _message(message: Message, budget: _Budget) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    role = message.role
    for part in message.content:
        if isinstance(part, TextPart):
            text = budget.take(part.text)
            if role == "tool":
                parts.append({"type": "tool_call_response", "id": message.tool_call_id,
                              "response": text})
            else:
                parts.append({"type": "text", "content": text})
        elif isinstance(part, ImagePart):
            if part.url is not None and not part.url.startswith("data:"):
                parts.append({"type": "uri", "modality": "image", "uri": part.url})
            else:
                parts.append({"type": "blob", "modality": "image",
                              "mime_type": part.media_type, "content": TRUNCATED})
    for call in message.tool_calls:
        parts.append({"type": "tool_call", "id": call.id, "name": call.name,
                      "arguments": budget.take(call.arguments)})
    return {"role": role, "parts": parts}
