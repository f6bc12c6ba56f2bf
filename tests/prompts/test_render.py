"""Composing the system prompt: the layers, the prompt's messages, the request's own."""

from __future__ import annotations

from sluicegate.canonical import Message, TextPart
from sluicegate.prompts.render import compose


def system(*texts: str, cache: bool = False) -> Message:
    parts = [TextPart(text=t, cache_control={"type": "ephemeral"} if cache else None)
             for t in texts]
    return Message(role="system", content=list(parts))


def user(text: str) -> Message:
    return Message(role="user", content=[TextPart(text=text)])


def test_layers_then_the_requests_leading_system_messages_make_one_system_message() -> None:
    out = compose(["platform", "tenant", "prompt"], [user("example")],
                  [system("mine"), system("also mine"), user("hi"), system("later")])
    assert [(m.role, m.text()) for m in out] == [
        ("system", "platform\n\ntenant\n\nprompt\n\nmine\n\nalso mine"),
        ("user", "example"),
        ("user", "hi"),
        ("system", "later"),  # a system message later in the conversation stays there
    ]


def test_a_requests_cache_breakpoint_keeps_its_part_after_the_composed_text() -> None:
    [first, *_] = compose(["platform"], None, [system("cached prefix", cache=True), user("hi")])
    assert [(p.text, p.cache_control) for p in first.content] == [  # type: ignore[union-attr]
        ("platform", None), ("cached prefix", {"type": "ephemeral"})]


def test_nothing_to_compose_adds_no_system_message() -> None:
    assert compose([], None, [user("hi")]) == [user("hi")]
