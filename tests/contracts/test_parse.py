"""Reading an answer's JSON: as it stands, or repaired by syntax only, never guessed."""

from __future__ import annotations

import pytest

from sluicegate.contracts.parse import MAX_REPAIR_CHARS, Parsed, Unreadable, read_json


def value_of(text: str) -> object:
    read = read_json(text)
    assert isinstance(read, Parsed), read
    return read.value


def test_json_as_it_stands_is_not_repaired() -> None:
    assert read_json('  {"a": [1, 2.5, null, true]} \n') == Parsed(
        {"a": [1, 2.5, None, True]}, repaired=False)


def test_text_that_parses_is_taken_even_when_it_is_a_string_holding_json() -> None:
    # A wrong answer, not a broken one: the schema check and a re-ask deal with it.
    assert read_json('"{\\"a\\": 1}"') == Parsed('{"a": 1}', repaired=False)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('Here it is:\n```json\n{"a": 1}\n```\nAnything else?', {"a": 1}),
        ("```\n[1, 2]\n```", [1, 2]),
        ('Sure! {"name": "Bob"} Hope that helps.', {"name": "Bob"}),
        ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
        ("{'a': 'it\\'s', 'b': \"x\"}", {"a": "it's", "b": "x"}),
        ("{'ok': True, 'none': None, 'n': -1.5e-7}", {"ok": True, "none": None, "n": -1.5e-7}),
        ('{"a": 1, // a comment\n "b": 2}', {"a": 1, "b": 2}),
        ("{a: 1}", {"a": 1}),
        ("It's here: {'x': \"it's\"}", {"x": "it's"}),
    ],
)
def test_syntax_is_repaired_and_the_value_is_the_one_written(text: str, value: object) -> None:
    read = read_json(text)
    assert read == Parsed(value, repaired=True)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2',  # cut off: never closed for the model
        '{"a": 1}{"b": 2}',  # two values
        'For example {"a": 1}; the answer is {"a": 2}.',
        '{"a": NaN}',  # not a JSON value
        "{1: 'a'}",  # a key JSON cannot hold
        "{'a': {1, 2}}",  # a set
        "I'm sorry, I can't help with that.",
        "",
        "   \n",
    ],
)
def test_what_cannot_be_read_for_certain_is_not_repaired(text: str) -> None:
    assert isinstance(read_json(text), Unreadable)


def test_the_same_value_twice_is_one_answer() -> None:
    assert value_of('```json\n{"a": 1}\n```\n\n{"a": 1}') == {"a": 1}


def test_without_repair_only_json_as_it_stands_is_read() -> None:
    assert isinstance(read_json("```json\n{}\n```", repair=False), Unreadable)
    assert read_json("{}", repair=False) == Parsed({}, repaired=False)


def test_an_empty_answer_says_so() -> None:
    read = read_json("")
    assert isinstance(read, Unreadable) and "empty" in read.reason


def test_nesting_past_what_the_encoders_write_is_unreadable() -> None:
    deep = "[" * 200 + "]" * 200
    assert isinstance(read_json(deep), Unreadable)
    assert isinstance(read_json(deep + " trailing prose"), Unreadable)


def test_huge_or_hostile_answers_are_bounded() -> None:
    assert isinstance(read_json("{" * 300_000), Unreadable)
    assert isinstance(read_json("x" * (MAX_REPAIR_CHARS + 1) + "{}"), Unreadable)
    assert isinstance(read_json("\x00\xff\ufffd binary"), Unreadable)


def test_big_integers_keep_every_digit_through_repair() -> None:
    assert value_of("{'n': 123456789012345678901234567890}") == {
        "n": 123456789012345678901234567890}
