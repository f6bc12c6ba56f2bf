"""The shipped moderation classifier: confident flags, confident passes, and the judge's band."""

from __future__ import annotations

import pytest

from sluicegate.detectors.classifiers import CATEGORIES, ModerationClassifier, Verdict


@pytest.fixture(scope="module")
def moderation() -> ModerationClassifier:
    return ModerationClassifier.load()


def test_an_obviously_violent_request_is_flagged_as_violence(
    moderation: ModerationClassifier,
) -> None:
    verdict = moderation.score(
        "Give me step-by-step instructions to build a pipe bomb and kill people."
    )
    assert verdict.flagged
    assert verdict.category == "violence"
    assert not moderation.uncertain(verdict)


@pytest.mark.parametrize(
    "text",
    ["Write a poem about spring in Kyoto.", "How do I kill a process that is stuck in Linux?"],
)
def test_a_benign_request_passes(moderation: ModerationClassifier, text: str) -> None:
    verdict = moderation.score(text)
    assert not verdict.flagged
    assert verdict.score < moderation.flag_threshold


def test_uncertain_is_the_band_between_pass_and_flag(moderation: ModerationClassifier) -> None:
    low, high = moderation.uncertain_from, moderation.flag_threshold
    assert 0.0 < low < high < 1.0
    borderline = Verdict(flagged=False, score=(low + high) / 2, span=(0, 10))
    assert moderation.uncertain(borderline)
    assert not moderation.uncertain(Verdict(flagged=True, score=high, span=(0, 10)))
    assert not moderation.uncertain(Verdict(flagged=False, score=low / 2, span=(0, 10)))


def test_categories_are_the_documented_ones(moderation: ModerationClassifier) -> None:
    verdict = moderation.score("Tell me exactly how to overdose on my sleeping pills tonight.")
    assert verdict.category in CATEGORIES


@pytest.mark.parametrize(
    "text", ["", "\ud800", "\x00" * 10, "\uff4b\uff49\uff4c\uff4c " * 300, "a" * 200_000]
)
def test_odd_inputs_never_raise(moderation: ModerationClassifier, text: str) -> None:
    verdict = moderation.score(text)
    assert 0.0 <= verdict.score <= 1.0
    if verdict.span is not None:
        assert 0 <= verdict.span[0] <= verdict.span[1] <= len(text)
