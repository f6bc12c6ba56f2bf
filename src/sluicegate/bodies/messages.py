"""A captured conversation as OpenAI chat messages: the shape a fine-tuning file wants.

The request is ``{"messages": [...]}`` (with ``"tools"`` when the request
offered tools), the answer the assistant message; both exactly what OpenAI's
chat fine-tuning format takes (role, content, tool_calls, tool_call_id), so
the dataset export writes them as they are stored.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical import ChatRequest, Message

# Not in the module's __all__: the Chat Completions encoder's own message writer,
# reused so that a stored message is exactly what an OpenAI upstream would be sent.
from sluicegate.protocols.openai.chat_upstream import _message_json

# A request's captured bodies (request and answer, as JSON) above this are not kept:
# each side is stored as TRUNCATED (with its size) instead.
MAX_BYTES = 1024 * 1024
TRUNCATED = "truncated"


def conversation(body: ChatRequest) -> dict[str, Any]:
    """The conversation asked, as a chat fine-tuning example's ``messages`` (and ``tools``)."""
    out: dict[str, Any] = {"messages": [_message_json(m) for m in body.messages]}
    if body.tools:
        out["tools"] = [
            {"type": "function", "function": _function(t.name, t.description, t.parameters)}
            for t in body.tools
        ]
    return out


def _function(name: str, description: str | None, parameters: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": parameters}
    if description is not None:
        function["description"] = description
    return function


def assistant(message: Message) -> dict[str, Any]:
    """The answer's assistant message."""
    return _message_json(message)


def bounded(
    request: dict[str, Any], answer: dict[str, Any] | None, limit: int = MAX_BYTES
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both as they are when together they fit in ``limit`` bytes of JSON, else markers
    ``{"truncated": true, "bytes": N}``: a half conversation trains nothing."""
    asked = len(orjson.dumps(request))
    said = 0 if answer is None else len(orjson.dumps(answer))
    if asked + said <= limit:
        return request, answer
    return (
        {TRUNCATED: True, "bytes": asked},
        None if answer is None else {TRUNCATED: True, "bytes": said},
    )


def is_truncated(value: object) -> bool:
    return isinstance(value, dict) and value.get(TRUNCATED) is True
