"""The exact cache key: one request, however it is spelled, has one key; any change that can
change the answer gives another."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sluicegate.cache.key import (
    SHARED_SCOPE,
    cache_key,
    namespace,
    semantic_scope,
    semantic_text,
    tenant_scope,
)
from sluicegate.canonical import ChatRequest
from sluicegate.protocols import anthropic, openai

TARGETS = ("oai/gpt-4o-2024-08-06",)
BASE: dict[str, Any] = {
    "model": "smart",
    "messages": [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "What is the capital of Italy?"},
    ],
    "temperature": 0,
    "max_tokens": 100,
}


def key(body: bytes | dict[str, Any], *, scope: str = tenant_scope("acme"), alias: str = "smart",
        targets: tuple[str, ...] = TARGETS, prompt_version: str | None = None) -> str:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return cache_key(openai.decode_chat_request(raw), scope=scope, alias=alias, targets=targets,
                     prompt_version=prompt_version)


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(orjson.dumps(dict(reversed(list(BASE.items())))), id="key-order"),
        pytest.param(orjson.dumps(BASE, option=orjson.OPT_INDENT_2), id="whitespace"),
        pytest.param(with_(temperature=0.0), id="0-as-float"),
        pytest.param(with_(n=1, stream=False, stop=[], tools=[], top_p=1, presence_penalty=0,
                           frequency_penalty=0, logprobs=False), id="defaults-spelled-out"),
        pytest.param(with_(stream=True, stream_options={"include_usage": True}), id="streamed"),
        pytest.param(with_(user="user-42", metadata={"trace": "t-1"}, store=True,
                           service_tier="auto"), id="no-effect-fields"),
        pytest.param(with_(messages=[
            {"role": "system", "content": [{"type": "text", "text": "You answer in French."}]},
            {"role": "user",
             "content": [{"type": "text", "text": "What is the capital of Italy?"}]},
        ]), id="content-parts"),
        pytest.param(with_(model="another-alias-name-in-body"), id="model-in-body"),
    ],
)
def test_variants_of_one_request_have_one_key(variant: bytes | dict[str, Any]) -> None:
    assert key(variant) == key(BASE)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(with_(temperature=0.2), id="temperature"),
        pytest.param(with_(max_tokens=101), id="max_tokens"),
        pytest.param(with_(seed=7), id="seed"),
        pytest.param(with_(stop=["\n"]), id="stop"),
        pytest.param(with_(top_p=0.9), id="top_p"),
        pytest.param(with_(presence_penalty=0.5), id="protocol-extra"),
        pytest.param(with_(response_format={"type": "json_object"}), id="response_format"),
        pytest.param(with_(tools=[{"type": "function", "function": {
            "name": "lookup", "parameters": {"type": "object"}}}]), id="tools"),
        pytest.param(with_(messages=[BASE["messages"][1]]), id="no-system-prompt"),
        pytest.param(with_(messages=[BASE["messages"][0], {
            "role": "user", "content": "What is the capital of Spain?"}]), id="question"),
    ],
)
def test_anything_that_can_change_the_answer_changes_the_key(changed: dict[str, Any]) -> None:
    assert key(changed) != key(BASE)


def test_scope_alias_targets_and_prompt_version_are_in_the_key() -> None:
    base = key(BASE)
    assert key(BASE, scope=tenant_scope("globex")) != base
    assert key(BASE, scope=SHARED_SCOPE) != base
    assert key(BASE, alias="other") != base
    assert key(BASE, targets=("oai/gpt-4o-2024-11-20",)) != base, "a re-pinned model version"
    assert key(BASE, targets=(*TARGETS, "azure/gpt-4o")) != base, "another deployment added"
    assert key(BASE, prompt_version="v2") != base


def test_the_key_starts_with_its_scope_and_alias_tags_for_invalidation() -> None:
    assert key(BASE).startswith(namespace(tenant_scope("acme"), "smart") + ":")
    assert key(BASE, scope=SHARED_SCOPE).startswith(namespace(SHARED_SCOPE, "smart") + ":")
    scope_tag, alias_tag, digest = key(BASE).split(":")
    assert len(scope_tag) == len(alias_tag) == 12 and len(digest) == 32


def test_an_anthropic_request_has_the_key_of_the_same_openai_request() -> None:
    claude = anthropic.decode_messages_request(orjson.dumps({
        "model": "smart",
        "system": "You answer in French.",
        "messages": [{"role": "user", "content": "What is the capital of Italy?"}],
        "temperature": 0,
        "max_tokens": 100,
    }))
    same = cache_key(claude, scope=tenant_scope("acme"), alias="smart", targets=TARGETS)
    assert same == key(BASE)


def test_the_semantic_scope_leaves_out_only_the_last_user_turn() -> None:
    def scope(body: dict[str, Any]) -> str:
        request = openai.decode_chat_request(orjson.dumps(body))
        return semantic_scope(request, scope=tenant_scope("acme"), alias="smart", targets=TARGETS)

    paraphrase = with_(messages=[BASE["messages"][0], {
        "role": "user", "content": "Which city is Italy's capital?"}])
    assert scope(paraphrase) == scope(BASE)
    assert scope(with_(temperature=0.5)) != scope(BASE)
    assert scope(with_(messages=[BASE["messages"][1]])) != scope(BASE), "another system prompt"
    assert scope(BASE).split(":")[:2] == key(BASE).split(":")[:2]
    request = openai.decode_chat_request(orjson.dumps(paraphrase))
    assert isinstance(request, ChatRequest)
    assert semantic_text(request) == "Which city is Italy's capital?"
