"""storage.bodies: what is kept of a request and its answer, by the official SDKs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bodies.helpers import ACME_KEY, body_of, gateway_of, rows
from fakes.stack import anthropic_client, gateway_url, openai_client
from sluicegate.bodies import MAX_BYTES, redact_bodies
from sluicegate.state.ledger.record import Bodies

Start = Callable[..., Awaitable[Any]]
PROMPT = "Hi, I am John Smith, write to john.smith@example.com about the invoice."


@pytest.mark.parametrize("stream", [False, True])
async def test_full_keeps_the_conversation_and_the_answer_as_chat_messages(
    start: Start, stream: bool
) -> None:
    client = await start("full")
    oai = openai_client(gateway_url(client), ACME_KEY)
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": PROMPT},
    ]
    if stream:
        chunks = await oai.chat.completions.create(
            model="echo", messages=messages, stream=True, extra_headers={"x-request-id": "r1"}
        )
        said = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    else:
        done = await oai.chat.completions.create(
            model="echo", messages=messages, extra_headers={"x-request-id": "r1"}
        )
        said = done.choices[0].message.content or ""
    kept = await body_of(client, "r1")
    assert kept["mode"] == "full"
    assert kept["request"] == {"messages": messages}
    assert kept["answer"] == {"role": "assistant", "content": said}
    assert "john.smith@example.com" in said  # the echo provider says it back


@pytest.mark.parametrize("stream", [False, True])
async def test_redacted_stores_no_email_and_no_name(start: Start, stream: bool) -> None:
    client = await start("redacted")
    claude = anthropic_client(gateway_url(client), ACME_KEY)
    asked = [{"role": "user", "content": PROMPT}]
    if stream:
        async with claude.messages.stream(
            model="echo", max_tokens=100, messages=asked,  # type: ignore[arg-type]
            extra_headers={"x-request-id": "r2"},
        ) as answer:
            said = await answer.get_final_text()
    else:
        message = await claude.messages.create(
            model="echo", max_tokens=100, messages=asked,  # type: ignore[arg-type]
            extra_headers={"x-request-id": "r2"},
        )
        said = message.content[0].text  # type: ignore[union-attr]
    assert "John Smith" in said  # the client gets its answer as it was
    kept = await body_of(client, "r2")
    stored = str(kept)
    assert kept["mode"] == "redacted"
    assert "john.smith@example.com" not in stored and "John Smith" not in stored
    text = kept["request"]["messages"][0]["content"]
    assert text == "Hi, I am [PERSON_1], write to [EMAIL_1] about the invoice."
    assert kept["answer"]["content"] == text  # the same placeholders in the answer


async def test_bodies_never_reach_ledger_rows_or_usage(start: Start) -> None:
    client = await start("full")
    oai = openai_client(gateway_url(client), ACME_KEY)
    await oai.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"x-request-id": "r3"},
    )
    ledger = await rows(client, "SELECT * FROM ledger WHERE request_id = {}", "r3")
    assert PROMPT not in str(ledger)
    usage = await client.get("/admin/usage", headers={"Authorization": "Bearer admin-secret"})
    assert PROMPT not in await usage.text()


async def test_off_keeps_nothing_and_leaves_the_stage_out(start: Start) -> None:
    client = await start("off")
    oai = openai_client(gateway_url(client), ACME_KEY)
    await oai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}])
    assert await rows(client, "SELECT COUNT(*) FROM bodies") == [(0,)]
    assert "Capture" not in gateway_of(client).pipeline.describe()


async def test_embeddings_are_not_kept(start: Start) -> None:
    client = await start("full")
    oai = openai_client(gateway_url(client), ACME_KEY)
    await oai.embeddings.create(model="embed", input="john.smith@example.com")
    assert await rows(client, "SELECT COUNT(*) FROM bodies") == [(0,)]


async def test_a_request_over_the_bound_is_kept_as_a_marker(start: Start) -> None:
    client = await start("full")
    oai = openai_client(gateway_url(client), ACME_KEY)
    await oai.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "x" * (MAX_BYTES // 2 + 10)}],
        extra_headers={"x-request-id": "big"},
    )
    kept = await body_of(client, "big")
    assert kept["request"]["truncated"] is True and kept["request"]["bytes"] > MAX_BYTES // 2
    assert kept["answer"]["truncated"] is True


def test_redaction_reads_text_parts_and_tool_call_arguments() -> None:
    bodies = Bodies(
        mode="redacted",
        request={"messages": [
            {"role": "user", "content": [{"type": "text", "text": "mail ann@example.org"}]},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "c1", "type": "function",
                "function": {"name": "send", "arguments": '{"to": "ann@example.org"}'},
            }]},
            {"role": "tool", "tool_call_id": "c1", "content": "sent to ann@example.org"},
        ]},
        answer={"role": "assistant", "content": "Done, ann@example.org has it."},
    )  # fmt: skip
    redacted = redact_bodies(bodies)
    assert "ann@example.org" not in str(redacted)
    messages = redacted.request["messages"]
    assert messages[1]["tool_calls"][0]["function"]["arguments"] == '{"to": "[EMAIL_1]"}'
    assert redacted.answer == {"role": "assistant", "content": "Done, [EMAIL_1] has it."}
