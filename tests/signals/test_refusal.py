import pytest

from sluicegate.signals import is_refusal


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that.",
        "I\u2019m sorry, but I can\u2019t help with that.",
        "I cannot assist with that request.",
        "Sorry, I can't do that.",
        "I am unable to provide that information.",
        "As an AI language model, I cannot browse the internet.",
        "Unfortunately, I can't share that.",
        "I won't help with that.",
        "I must decline this request.",
        '"I\'m not able to help with this."',
    ],
)
def test_refusal_shaped_openings_are_refusals(answer: str) -> None:
    assert is_refusal("stop", answer)


@pytest.mark.parametrize(
    "answer",
    [
        "Sure! Here is the summary you asked for.",
        "I can help with that. First, ...",
        "I'm sorry for the confusion earlier. The answer is 42.",
        "The phrase 'I cannot' appears twice in the text.",
        "Cannot is a modal verb.",
        "",
    ],
)
def test_answers_that_help_are_not_refusals(answer: str) -> None:
    assert not is_refusal("stop", answer)


def test_the_providers_own_signal_is_a_refusal_whatever_the_text() -> None:
    assert is_refusal("content_filter", "")
    assert is_refusal("content_filter", "Here is")
