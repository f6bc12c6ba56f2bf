"""Placeholders: one per distinct value, restored wherever the model puts them."""

from __future__ import annotations

import json

import pytest

from sluicegate.guardrails.placeholders import Redaction

TEXT = "Mail ada@x.io or bob@y.io; again ada@x.io. Call +44 20 7946 0958."
SPANS = [(5, 13, "email"), (17, 25, "email"), (33, 41, "email"), (48, 64, "phone")]


def redacted() -> tuple[Redaction, str]:
    redaction = Redaction()
    return redaction, redaction.redact(TEXT, SPANS)


def test_each_distinct_value_gets_its_own_numbered_placeholder() -> None:
    _, text = redacted()
    assert text == "Mail [EMAIL_1] or [EMAIL_2]; again [EMAIL_1]. Call [PHONE_1]."


def test_spans_in_any_order_that_overlap_keep_the_first_in_order() -> None:
    # Two guardrails: one found the phone number, the other a part of it.
    spans = [(51, 53, "location"), (48, 64, "phone"), (5, 13, "email")]
    assert Redaction().redact(TEXT, spans) == (
        "Mail [EMAIL_1] or bob@y.io; again ada@x.io. Call [PHONE_1]."
    )


def test_restore_puts_back_every_known_placeholder_whatever_its_case() -> None:
    redaction, text = redacted()
    assert redaction.restore(text) == TEXT
    assert redaction.restore("[email_2], [Phone_1]") == "bob@y.io, +44 20 7946 0958"


def test_unknown_or_mangled_placeholders_stay_as_they_are() -> None:
    redaction, _ = redacted()
    assert redaction.restore("[EMAIL_3] [EMAIL 1] EMAIL_1") == "[EMAIL_3] [EMAIL 1] EMAIL_1"


def test_in_json_arguments_the_original_is_written_escaped() -> None:
    redaction = Redaction()
    redaction.redact('say "hi" \\ bye', [(0, 15, "person")])
    arguments = redaction.restore('{"name": "[PERSON_1]"}', json_string=True)
    assert json.loads(arguments) == {"name": 'say "hi" \\ bye'}


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_a_stream_restores_placeholders_split_across_pieces(size: int) -> None:
    redaction, text = redacted()
    restorer = redaction.restorer()
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    out = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
    assert out == TEXT


def test_a_stream_releases_text_that_cannot_become_a_placeholder_at_once() -> None:
    redaction, _ = redacted()
    restorer = redaction.restorer()
    assert restorer.feed("plain text, [not one] ") == "plain text, [not one] "
    assert restorer.feed("and [EMA") == "and "
    assert restorer.feed("IL_2] done") == "bob@y.io done"
    assert restorer.feed("[") == ""
    assert restorer.flush() == "["
