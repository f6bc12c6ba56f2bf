"""Rendering a prompt into a request: the one composition the stage and the admin
preview (``POST /admin/prompts/{name}/render``) share, so the preview shows
exactly what an upstream receives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import orjson

from sluicegate.canonical import ChatRequest, Message, PromptRef, TextPart
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
    tenant_name: str | None,
    messages: list[dict[str, Any]],
) -> dict[str, Any]:
    """``{"prompt", "model", "messages", "params"}``: the OpenAI-format body an upstream
    gets for ``ref`` as the tenant sees it, after the request's own ``messages``."""
    version = registry.resolve(
        ref.name, tenant_id=tenant_id, label=ref.label, version=ref.version,
        max_staleness_s=float("inf"),
    )
    own = decode_chat_request(orjson.dumps({"model": "-", "messages": messages, "prompt": {
        "name": ref.name}})).messages
    rendered = version.render(ref.variables)
    alias = version.document.model
    body = with_prompt(
        ChatRequest(model=alias or "", messages=own), alias or "",
        layers.texts(tenant_name), rendered,
    )
    wire = orjson.loads(encode_chat_request(body, alias or ""))
    wire.pop("model", None)
    out_messages = wire.pop("messages")
    wire.pop("stream", None)
    return {"prompt": version.ref, "model": alias, "messages": out_messages, "params": wire}


def with_prompt(
    body: ChatRequest, alias: str, texts: tuple[str, ...], rendered: RenderedPrompt
) -> ChatRequest:
    params = rendered.version.params
    return msgspec.structs.replace(
        body,
        model=alias,
        prompt=None,
        messages=compose((*texts, *rendered.system), rendered.messages, body.messages),
        temperature=body.temperature if body.temperature is not None else params.temperature,
        top_p=body.top_p if body.top_p is not None else params.top_p,
        top_k=body.top_k if body.top_k is not None else params.top_k,
        max_tokens=body.max_tokens if body.max_tokens is not None else params.max_tokens,
        stop=body.stop or list(params.stop or ()),
        seed=body.seed if body.seed is not None else params.seed,
        response_format=body.response_format
        if body.response_format is not None
        else rendered.version.document.response_format,
    )


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
    while lead < len(messages) and messages[lead].role == "system":
        lead += 1
    own = [part for m in messages[:lead] for part in m.content]
    parts: list[TextPart] = []
    if any(isinstance(p, TextPart) and p.cache_control is not None for p in own):
        parts.append(TextPart(text=SEPARATOR.join(texts)))
        parts += [p for p in own if isinstance(p, TextPart)]
    else:
        own_texts = [p.text for p in own if isinstance(p, TextPart)]
        parts.append(TextPart(text=SEPARATOR.join([*texts, *own_texts])))
    out = [Message(role="system", content=list(parts))] if parts[0].text or len(parts) > 1 else []
    if turns:
        out += turns
    out += messages[lead:]
    return out
