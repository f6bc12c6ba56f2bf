"""GET /admin/datasets/export: sft and dpo lines, filters, one tenant's rows, bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bodies.helpers import ACME_KEY, ADMIN, GLOBEX_KEY, add_feedback
from fakes.stack import gateway_url, openai_client

Start = Callable[..., Awaitable[Any]]


async def ask(client: Any, key: str, text: str, request_id: str) -> None:
    oai = openai_client(gateway_url(client), key)
    await oai.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": text}],
        extra_headers={"x-request-id": request_id},
    )


async def export(client: Any, **query: str) -> list[dict[str, Any]]:
    response = await client.get("/admin/datasets/export", params=query, headers=ADMIN)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/x-ndjson"
    return [orjson.loads(line) for line in (await response.read()).splitlines()]


async def test_sft_is_one_chat_example_per_answered_request_of_the_tenant(start: Start) -> None:
    client = await start("full")
    await ask(client, ACME_KEY, "acme one", "a1")
    await ask(client, ACME_KEY, "acme two", "a2")
    await ask(client, GLOBEX_KEY, "globex secret", "g1")
    lines = await export(client, tenant="acme", format="sft")
    assert lines == [
        {"messages": [{"role": "user", "content": "acme one"},
                      {"role": "assistant", "content": "acme one"}]},
        {"messages": [{"role": "user", "content": "acme two"},
                      {"role": "assistant", "content": "acme two"}]},
    ]  # fmt: skip
    for line in lines:  # OpenAI's chat fine-tuning format: messages, each a role and content
        assert all(set(m) >= {"role", "content"} for m in line["messages"])
        assert line["messages"][-1]["role"] == "assistant"
    assert "globex" not in str(await export(client, tenant="acme", format="dpo"))


async def test_sft_filters_by_feedback_score_and_since(start: Start) -> None:
    client = await start("full")
    for n in range(3):
        await ask(client, ACME_KEY, f"q{n}", f"a{n}")
    await add_feedback(client, "a0", "thumbs", 1)
    await add_feedback(client, "a1", "thumbs", 0)
    await add_feedback(client, "a2", "stars", 5)
    liked = await export(client, tenant="acme", format="sft", feedback="thumbs", min_value="1")
    assert [line["messages"][0]["content"] for line in liked] == ["q0"]
    rated = await export(client, tenant="acme", format="sft", feedback="thumbs")
    assert [line["messages"][0]["content"] for line in rated] == ["q0", "q1"]
    assert await export(client, tenant="acme", format="sft", since="2999-01-01") == []


async def test_dpo_pairs_answers_to_one_input_and_corrections(start: Start) -> None:
    client = await start("full")
    # The echo provider answers the same input the same way; the pair is its two ratings.
    await ask(client, ACME_KEY, "same question", "good")
    await ask(client, ACME_KEY, "same question", "bad")
    await ask(client, ACME_KEY, "other question", "alone")
    await ask(client, GLOBEX_KEY, "same question", "theirs")
    await add_feedback(client, "good", "thumbs", 1)
    await add_feedback(client, "bad", "thumbs", 0)
    await add_feedback(client, "alone", "thumbs", 1, correction="a better answer")
    await add_feedback(client, "theirs", "thumbs", 0, correction="globex's correction")
    lines = await export(client, tenant="acme", format="dpo", feedback="thumbs")
    assert lines == [
        {
            "input": {"messages": [{"role": "user", "content": "same question"}]},
            "preferred_output": [{"role": "assistant", "content": "same question"}],
            "non_preferred_output": [{"role": "assistant", "content": "same question"}],
        },
        {
            "input": {"messages": [{"role": "user", "content": "other question"}]},
            "preferred_output": [{"role": "assistant", "content": "a better answer"}],
            "non_preferred_output": [{"role": "assistant", "content": "other question"}],
        },
    ]
    for line in lines:  # OpenAI's preference format: one assistant message on each side
        assert set(line) == {"input", "preferred_output", "non_preferred_output"}
        assert len(line["preferred_output"]) == len(line["non_preferred_output"]) == 1
    # A pair's preferred answer must be scored at least min_value.
    only = await export(client, tenant="acme", format="dpo", feedback="thumbs", min_value="2")
    assert [line["preferred_output"][0]["content"] for line in only] == ["a better answer"]


async def test_bad_input_is_refused_clearly(start: Start) -> None:
    client = await start("full")
    for query, status, words in (
        ({"tenant": "acme", "format": "csv"}, 400, "format"),
        ({"tenant": "acme", "format": "sft", "feedback": "t", "min_value": "lots"}, 400,
         "min_value"),
        ({"tenant": "acme", "format": "sft", "min_value": "1"}, 400, "feedback"),
        ({"tenant": "acme", "format": "sft", "since": "yesterday"}, 400, "since"),
        ({"format": "sft"}, 400, "tenant"),
        ({"tenant": "nobody", "format": "sft"}, 404, "nobody"),
    ):  # fmt: skip
        response = await client.get("/admin/datasets/export", params=query, headers=ADMIN)
        assert response.status == status, query
        assert words in (await response.json())["error"]["message"], query
    unauthorised = await client.get("/admin/datasets/export?tenant=acme&format=sft")
    assert unauthorised.status == 401


async def test_with_bodies_off_the_export_says_so(start: Start) -> None:
    client = await start("off")
    response = await client.get(
        "/admin/datasets/export", params={"tenant": "acme", "format": "sft"}, headers=ADMIN
    )
    assert response.status == 409
    assert "storage.bodies is off" in (await response.json())["error"]["message"]


async def test_the_route_is_in_the_openapi_document(start: Start) -> None:
    client = await start("off")
    document = await (await client.get("/admin/openapi.json", headers=ADMIN)).json()
    operation = document["paths"]["/admin/datasets/export"]["get"]
    assert "application/x-ndjson" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"tenant", "format", "feedback"}
