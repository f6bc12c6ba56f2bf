"""The detectors' one interface, and a detector that remembers what it found."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sluicegate.detectors.scans import Hit, PiiScan, RegexScan, Remembered, Source, Uncertain


class Counting:
    def __init__(self, *, fail: bool = False) -> None:
        self.read: list[str] = []
        self.fail = fail

    def scan(self, text: str, source: Source) -> Sequence[Hit] | Uncertain:
        self.read.append(text)
        if self.fail:
            raise RuntimeError("broken")
        return [Hit(0, 1, "x")] if "x" in text else []


def test_a_text_read_before_is_not_read_again() -> None:
    inner = Counting()
    remembered = Remembered(inner)
    assert remembered.scan("x marks", "user") == (Hit(0, 1, "x"),)
    assert remembered.scan("x marks", "user") == (Hit(0, 1, "x"),)
    assert remembered.scan("nothing", "user") == ()
    assert inner.read == ["x marks", "nothing"]


def test_the_same_text_from_another_source_is_read_again() -> None:
    inner = Counting()
    remembered = Remembered(inner)
    remembered.scan("x", "user")
    remembered.scan("x", "tool")
    assert inner.read == ["x", "x"]


def test_a_failure_is_not_remembered() -> None:
    inner = Counting(fail=True)
    remembered = Remembered(inner)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            remembered.scan("x", "user")
    assert len(inner.read) == 2


def test_the_least_recently_used_text_is_forgotten_first() -> None:
    inner = Counting()
    remembered = Remembered(inner, size=2)
    for text in ("a", "b", "a", "c", "a", "b"):
        remembered.scan(text, "user")
    assert inner.read == ["a", "b", "c", "b"]  # "b" went when "c" came; "a" stayed in use


def test_pii_and_regex_scans_give_spans_of_the_text() -> None:
    text = "Write to ada@example.com about ACME-123456."
    assert [(h.label, text[h.start:h.end]) for h in PiiScan(["email"]).scan(text, "user")] == [
        ("email", "ada@example.com")]
    assert [text[h.start:h.end] for h in RegexScan(["ACME-[0-9]{6}"]).scan(text, "answer")] == [
        "ACME-123456"]
