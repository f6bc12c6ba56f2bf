"""The exact cache key: what makes two requests the same question.

A key is computed from the canonical request (after Decode), never from the
client's bytes, so JSON key order, whitespace, ``"content": "hi"`` versus a
one-part content array, and parameters sent at their default value do not
change it. It covers everything that can change the answer: the scope (whose
answer it is), the alias and the deployments behind it (provider and pinned
upstream model), the prompt version (once prompts exist), messages, tools and
every generation parameter. Changing an alias's targets therefore starts a new
set of entries by itself: nothing needs invalidating.

The key is ``{scope tag}:{alias tag}:{digest}``: the two short tags let a store
find every entry of one tenant or one alias (invalidation) without reading them;
the digest (BLAKE2b, 128 bits) covers the scope and the alias as well, so a
collision of the short tags can only widen an invalidation, never serve another
tenant's answer.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import msgspec

from sluicegate.canonical import ChatRequest, ContentPart, EmbeddingRequest, Message, TextPart

# Bump when the key's composition changes: old entries then simply stop matching.
# 2: a tenant's scope is its id (before, its name, which a later tenant could have).
KEY_VERSION = b"sluicegate-cache-key-2\n"
SHARED_SCOPE = "shared"

# Sorted dict keys (tool schemas, response_format, extra); struct fields always
# encode in their declared order.
_encoder = msgspec.json.Encoder(order="deterministic")

# Request fields with no effect on the answer (routing, billing and retention hints).
_NO_EFFECT = frozenset(
    {
        "metadata",
        "store",
        "service_tier",
        "user",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
    }
)
# Protocol fields whose documented default, sent explicitly, means the same as
# leaving them out.
_DEFAULTS: dict[str, Any] = {
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logprobs": False,
    "logit_bias": {},
    "parallel_tool_calls": True,
}


def tenant_scope(tenant_id: str) -> str:
    """The scope of one tenant's entries, by its immutable id (``Tenant.id``), never its
    name: a tenant created under a deleted one's name finds none of its answers."""
    return f"tenant:{tenant_id}"


# Tenants and aliases are few and asked about on every cacheable request: hash each once.
@functools.lru_cache(maxsize=4096)
def tag(value: str) -> str:
    """The short, fixed-alphabet tag a store keys and matches on for ``value``."""
    return hashlib.blake2b(value.encode(), digest_size=6).hexdigest()


def namespace(scope: str, alias: str) -> str:
    """The key prefix shared by every entry of ``alias`` in ``scope`` (no trailing colon)."""
    return f"{tag(scope)}:{tag(alias)}"


def cache_key(
    request: ChatRequest | EmbeddingRequest,
    *,
    scope: str,
    alias: str,
    targets: tuple[str, ...],
    prompt_version: str | None = None,
) -> str:
    """The exact key of ``request`` under ``alias`` (served by ``targets``, the
    ``provider/model`` labels in configured order) in ``scope``."""
    return f"{namespace(scope, alias)}:{_digest(request, scope, alias, targets, prompt_version)}"


def semantic_scope(
    request: ChatRequest,
    *,
    scope: str,
    alias: str,
    targets: tuple[str, ...],
    prompt_version: str | None = None,
) -> str:
    """Where a semantic index may look for ``request``: its exact key with the last user
    turn's text left out, so that only paraphrases of that turn can meet. Shares the
    exact key's prefix, so invalidating a tenant or alias reaches both."""
    rest = _without_last_user_text(request)
    digest = _digest(rest, scope, alias, targets, prompt_version)
    return f"{namespace(scope, alias)}:{digest}"


def semantic_text(request: ChatRequest) -> str | None:
    """The text a semantic index compares: the last user turn's (None: no such turn)."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text() or None
    return None


def normalized(request: ChatRequest | EmbeddingRequest) -> ChatRequest | EmbeddingRequest:
    """``request`` without what cannot change its answer, and with defaults spelled one way."""
    if isinstance(request, EmbeddingRequest):
        return msgspec.structs.replace(request, model="", user=None, extra=_extra(request.extra))
    tool_choice = request.tool_choice
    if (
        tool_choice is not None
        and tool_choice.mode == "auto"
        and tool_choice.name is None
        and tool_choice.parallel in (None, True)
    ):
        tool_choice = None  # "auto" is what a request with tools gets anyway
    return msgspec.structs.replace(
        request,
        # The alias is keyed separately; how the answer is delivered is not the question.
        model="",
        stream=False,
        include_usage=False,
        user=None,
        # 1 is the default of every provider; numbers always as floats (0 == 0.0).
        temperature=_number(request.temperature, default=1.0),
        top_p=_number(request.top_p, default=1.0),
        tool_choice=tool_choice,
        extra=_extra(request.extra),
    )


def _number(value: float | None, *, default: float) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value == default else value


def _extra(extra: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if not extra:
        return extra
    cleaned: dict[str, dict[str, Any]] = {}
    for protocol, fields in extra.items():
        kept = {
            k: v
            for k, v in fields.items()
            if k not in _NO_EFFECT and not (k in _DEFAULTS and v == _DEFAULTS[k])
        }
        if kept:
            cleaned[protocol] = kept
    return cleaned


def _digest(
    request: ChatRequest | EmbeddingRequest,
    scope: str,
    alias: str,
    targets: tuple[str, ...],
    prompt_version: str | None,
) -> str:
    operation = "chat" if isinstance(request, ChatRequest) else "embeddings"
    head = _head(scope, alias, targets, prompt_version, operation)
    digest = hashlib.blake2b(head, digest_size=16)
    digest.update(_encoder.encode(normalized(request)))
    return digest.hexdigest()


@functools.lru_cache(maxsize=4096)
def _head(
    scope: str, alias: str, targets: tuple[str, ...], prompt_version: str | None, operation: str
) -> bytes:
    """What the digest covers besides the request, encoded once per combination."""
    return KEY_VERSION + _encoder.encode([scope, alias, list(targets), prompt_version, operation])


def _without_last_user_text(request: ChatRequest) -> ChatRequest:
    messages = list(request.messages)
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if message.role == "user":
            others: list[ContentPart] = [
                p for p in message.content if not isinstance(p, TextPart)
            ]
            messages[i] = Message(role="user", content=others, name=message.name)
            break
    return msgspec.structs.replace(request, messages=messages)
