"""How deep JSON may nest, bounded where it enters so that every encoder can write it out.

orjson reads up to 1,024 levels of nesting but writes at most 254, and the
upstream encoders put a client's values a few levels further down than they
came in (an OpenAI tool's ``parameters`` sit under ``tools[0].function``,
Gemini's under ``tools[0].functionDeclarations[0]``). A body nested deeper
than :data:`MAX_DEPTH` is therefore refused at ingress, as the client's
mistake, and JSON text that an upstream encoder parses out of a string (tool
call arguments, tool results) is treated as unparseable past the same depth.
Real requests nest a dozen levels at most; 128 leaves room for any schema and
stays far from the encoders' limit.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 128


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` levels deep.

    A container is one level, a container inside it two. Iterative, because
    Python's own recursion limit is lower than the depth orjson accepts.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            continue
        if depth > limit:
            return True
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
    return False


def may_be_too_deep(text: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """False when ``text`` has too few brackets to nest past ``limit``: the cheap
    test that lets nearly every body skip walking the parsed value."""
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{") > limit
    return text.count("[") + text.count("{") > limit


def too_deep_field(body: bytes, data: dict[str, Any]) -> str | None:
    """The top-level field of a parsed request ``body`` that nests past
    :data:`MAX_DEPTH` (the body object itself being the first level), or None."""
    if not may_be_too_deep(body):
        return None
    for key, value in data.items():
        if too_deep(value, MAX_DEPTH - 1):
            return key
    return None


def parsed_within_depth(value: Any, text: str) -> bool:
    """Whether ``value``, parsed from ``text``, can be written out by an encoder."""
    return not may_be_too_deep(text) or not too_deep(value)
