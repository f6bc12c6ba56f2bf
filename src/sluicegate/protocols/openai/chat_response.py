"""Encoding a whole answer as OpenAI's ``chat.completion`` object."""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical import ChatResponse, Choice, ToolCall, Usage

__all__ = ["encode_chat_response", "usage_json"]


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI's ``usage`` object; ``prompt_tokens`` includes cached tokens, as OpenAI's does."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _tool_calls_json(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls
    ]


def _choice_json(choice: Choice) -> dict[str, Any]:
    message = choice.message
    text = message.text()
    body: dict[str, Any] = {
        "role": "assistant",
        # OpenAI sends null, not "", when the answer is only tool calls.
        "content": text if text or not message.tool_calls else None,
        "refusal": None,
    }
    if message.tool_calls:
        body["tool_calls"] = _tool_calls_json(message.tool_calls)
    return {
        "index": choice.index,
        "message": body,
        "logprobs": None,
        "finish_reason": choice.finish_reason or "stop",
    }


def encode_chat_response(resp: ChatResponse, *, model: str | None = None) -> bytes:
    """A ``chat.completion`` object; ``model`` overrides the one the upstream reported."""
    body: dict[str, Any] = {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created,
        "model": model or resp.model,
        "choices": [_choice_json(c) for c in resp.choices],
    }
    if resp.usage is not None:
        body["usage"] = usage_json(resp.usage)
    return orjson.dumps(body)
