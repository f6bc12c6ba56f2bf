"""The lexical guard: near neighbours that ask something else are refused."""

from __future__ import annotations

import pytest

from sluicegate.cache.semantic.guard import same_question, signature


@pytest.mark.parametrize(
    "a, b",
    [
        ("How do I delete my account?", "How can I remove my account?"),
        ("What is 15% of 200?", "What's 15 percent of 200?"),
        ("Convert 100 Fahrenheit to Celsius", "What is 100 degrees Fahrenheit in Celsius?"),
        ("What is the capital of France?", "what is the capital city of france"),
        ("Why isn't my code working?", "Why is my code not working?"),
        ("How do I turn on dark mode?", "How do I enable dark mode?"),
        ("Write a haiku about autumn", "Can you write a haiku about autumn?"),
        ("How do I reverse a list in Python?", "What's the way to reverse a Python list?"),
    ],
)
def test_paraphrases_pass(a: str, b: str) -> None:
    assert same_question(signature(a), signature(b))
    assert same_question(signature(b), signature(a))


@pytest.mark.parametrize(
    "a, b, why",
    [
        ("Convert 5 miles to km", "Convert 50 miles to km", "numbers"),
        ("Give me five ideas", "Give me 10 ideas", "number words"),
        ("Why is my code working?", "Why is my code not working?", "negation"),
        ("Can I take it with food?", "Can't I take it with food?", "negation, contracted"),
        ("Pasta with eggs", "Pasta without eggs", "negation, without"),
        ("How do I delete my account?", "How do I create my account?", "opposites"),
        ("How do I log in?", "How do I log out?", "opposites, two words"),
        ("Sort in ascending order", "Sort in descending order", "opposites"),
        ("What is the capital of France?", "What is the capital of Germany?", "names"),
        ("Is Paris bigger than London?", "Is London bigger than Paris?", "order of names"),
        ("Convert JSON to YAML", "Convert YAML to JSON", "order of formats"),
        ("Convert 5 miles to kilometers", "Convert 5 kilometers to miles", "order of units"),
        ("Translate 'good morning' into Spanish", "Translate 'good night' into Spanish", "quotes"),
        ("Events this weekend in Berlin", "Events next weekend in Berlin", "relative dates"),
        ("Copy files from my laptop to the server", "Copy files from the server to my laptop",
         "direction"),
    ],
)
def test_details_that_change_the_answer_are_refused(a: str, b: str, why: str) -> None:
    assert not same_question(signature(a), signature(b)), why
    assert not same_question(signature(b), signature(a)), why


def test_an_infinitive_is_not_a_direction() -> None:
    assert same_question(
        signature("Write a function to check if a number is prime"),
        signature("Write a function to test if a number is prime"),
    )
