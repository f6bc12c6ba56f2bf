"""The semantic cache through the gateway: a paraphrase is answered from the cache,
a different question that shares most of its words is not."""

from __future__ import annotations

from typing import Any

import aiohttp

from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, gateway_url


def semantic_config(url: str, **cache: Any) -> dict[str, Any]:
    target = [{"provider": "oai", "model": "gpt-4o-2024-08-06"}]
    return {
        "providers": [{"name": "oai", "type": "openai", "base_url": url, "api_key": "k"}],
        "models": [
            {"name": "faq", "targets": target,
             "cache": {"mode": "always", "semantic": {}}},
            {"name": "embed", "targets": [{"provider": "oai", "model": "text-embedding-3-small"}]},
        ],
        "tenants": [{"name": "acme", "keys": [{"name": "e2e", "key": KEY}]}],
        "cache": cache,
    }


async def ask(http: aiohttp.ClientSession, url: str, question: str) -> tuple[str, str]:
    async with http.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "faq", "messages": [{"role": "user", "content": question}]},
    ) as r:
        body = await r.json()
        assert r.status == 200, body
        return r.headers["x-sluicegate-cache"], body["choices"][0]["message"]["content"]


async def test_a_paraphrase_is_a_hit_and_a_near_miss_is_not(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.reply_with("Use the 'Forgot password' link on the sign-in page.")
        gw = await start_gateway(semantic_config(up.url))
        async with aiohttp.ClientSession() as http:
            first = await ask(http, gateway_url(gw), "How do I reset my password?")
            paraphrase = await ask(http, gateway_url(gw), "How can I reset my password?")
            up.reply_with("Open Settings, then Security.")
            other = await ask(http, gateway_url(gw), "How do I change my password?")
    assert first[0] == "miss"
    assert paraphrase == ("hit", first[1])
    assert other == ("miss", "Open Settings, then Security.")
    assert len(up.requests) == 2


async def test_embeddings_can_come_from_an_alias_of_the_gateway(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        gw = await start_gateway(
            semantic_config(up.url, embeddings="embed", embeddings_dimensions=3)
        )
        async with aiohttp.ClientSession() as http:
            first = await ask(http, gateway_url(gw), "How do I reset my password?")
            again = await ask(http, gateway_url(gw), "How can I reset my password?")
    assert (first[0], again[0]) == ("miss", "hit")
    embedded = [r for r in up.requests if r.path.endswith("/embeddings")]
    assert embedded and embedded[0].json["model"] == "text-embedding-3-small"


async def test_without_the_semantic_extra_the_gateway_says_what_to_install(
    tmp_path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    import sys

    import pytest

    import sluicegate.cache
    from sluicegate.config.loader import validate_config
    from sluicegate.gateway import Gateway

    # As if the extra were not installed: the import finds nothing.
    monkeypatch.delattr(sluicegate.cache, "semantic", raising=False)
    monkeypatch.setitem(sys.modules, "sluicegate.cache.semantic", None)
    config = semantic_config("http://127.0.0.1:9/v1")
    config["storage"] = {"url": f"sqlite:///{tmp_path}/gw.db"}
    gateway = Gateway(validate_config(config))
    with pytest.raises(RuntimeError, match=r"pip install 'sluicegate\[semantic\]'"):
        await gateway.start()
    await gateway.http.close()
