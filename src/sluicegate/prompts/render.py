"""Rendering a prompt into a request: the one composition the stage and the admin
preview (``POST /admin/prompts/{name}/render``) share, so the preview shows
exactly what an upstream receives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import orjson

from sluicegate.canonical import ChatRequest, ContentPart, Message, PromptRef, TextPart
from sluicegate.config.schema import PromptLayerConfig
from sluicegate.prompts.registry import PromptRegistry
from sluicegate.prompts.version import RenderedPrompt
from sluicegate.protocols.openai import decode_chat_request, encode_chat_request
from sluicegate.runtime.layers import PromptLayers

SEPARATOR = "\n\n"


def preview(
    registry: PromptRegistry,
    layers: PromptLayers,
    ref: PromptRef,
    *,
    tenant_id: str | None,
    tenant_layer: PromptLayerConfig | None,
    messages: list[dict[str, Any]],
) -> dict[str, Any]:
    """``{"prompt", "model", "messages", "params"}``: the OpenAI-format body an upstream
    gets for ``ref`` as the tenant sees it, after the request's own ``messages``."""
    version = registry.resolve(
        ref.name, tenant_id=tenant_id, label=ref.label, version=ref.version,
        max_staleness_s=float("inf"),
    )
    # Decoded as a request naming the prompt would be (so its messages may be empty).
    own = decode_chat_request(
        orjson.dumps({"model": "-", "messages": messages, "prompt": {"name": ref.name}})
    ).messages
    rendered = version.render(ref.variables)
    alias = version.document.model
    body = with_prompt(
        ChatRequest(model=alias or "", messages=own), alias or "",
        layers.texts(tenant_layer), rendered,
    )
    wire = orjson.loads(encode_chat_request(body, alias or ""))
    wire.pop("model", None)
    out_messages = wire.pop("messages")
    wire.pop("stream", None)
    return {"prompt": version.ref, "model": alias, "messages": out_messages, "params": wire}


def with_prompt(
    body: ChatRequest, alias: str, texts: tuple[str, ...], rendered: RenderedPrompt
) -> ChatRequest:
    changes: dict[str, Any] = {
        "model": alias,
        "prompt": None,
        "messages": compose((*texts, *rendered.system), rendered.messages, body.messages),
    }
    # Only what the prompt sets and the request does not: each field passed to replace()
    # costs every request.
    for name, value in rendered.version.defaults_for_request:
        if getattr(body, name) in (None, []):
            changes[name] = value
    return msgspec.structs.replace(body, **changes)


def compose(
    texts: Sequence[str], turns: Sequence[Message] | None, messages: Sequence[Message]
) -> list[Message]:
    """One system message (``texts``, then the request's leading system messages), the
    prompt's ``turns``, then the rest of the request's messages.

    The text is joined into one part, unless the request marked one of its own system
    parts as a prompt-cache breakpoint (Anthropic ``cache_control``): its parts then
    stay as they are, after the composed text.
    """
    lead = 0
    joined = list(texts)
    kept: list[TextPart] = []  # the request's own parts, when one is a cache breakpoint
    for message in messages:
        if message.role != "system":
            break
        lead += 1
        for part in message.content:
            if isinstance(part, TextPart):
                kept.append(part)
    parts: list[ContentPart]
    if kept and any(p.cache_control is not None for p in kept):
        text = SEPARATOR.join(joined)
        parts = [TextPart(text=text), *kept] if text else [*kept]
    else:
        text = SEPARATOR.join([*joined, *[p.text for p in kept]] if kept else joined)
        parts = [TextPart(text=text)] if text else []
    out = [Message(role="system", content=parts)] if parts else []
    if turns:
        out += turns
    out += messages[lead:]
    return out
