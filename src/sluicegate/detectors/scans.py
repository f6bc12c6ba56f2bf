"""Every detector behind one interface: text in, the hits found in it out.

Detectors are pure, local and built once per process (their lexicons and
weights are loaded at first use and shared by every configuration snapshot);
a detector that raises is a detector failure, which the guardrail's
``fail_open`` decides.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal, Protocol

import regex

if TYPE_CHECKING:
    from sluicegate.detectors.classifiers import InjectionDetector, ModerationClassifier
    from sluicegate.detectors.pii import PiiDetector

# Where a text comes from: it decides which detectors look at it and how.
Source = Literal["system", "user", "document", "tool", "assistant", "answer"]

# A regular expression gets this long on one text before it counts as failing.
REGEX_TIMEOUT_S = 0.05
# Texts whose findings a guardrail keeps (see Remembered): a few MB at most.
REMEMBERED = 16_384


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    label: str  # the PII entity, the moderation category, "injection", or the pattern
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class Uncertain:
    """The local classifier could not decide (moderation's band for a judge)."""

    score: float
    label: str | None


class Detector(Protocol):
    def scan(self, text: str, source: Source) -> Sequence[Hit] | Uncertain: ...


class PiiScan:
    def __init__(self, entities: Sequence[str]) -> None:
        self._detector = _pii(tuple(entities))

    def scan(self, text: str, source: Source) -> Sequence[Hit]:
        return [Hit(s.start, s.end, s.entity) for s in self._detector.find(text)]


# What the injection detector is told a text is; an answer is read like a document.
_INJECTION_SOURCES: dict[str, Literal["user", "document", "tool"]] = {
    "user": "user", "document": "document", "tool": "tool", "answer": "document",
}


class InjectionScan:
    """Instructions planted in what the model reads: user turns, documents, tool results."""

    def __init__(self) -> None:
        self._detector = _injection()

    def scan(self, text: str, source: Source) -> Sequence[Hit]:
        where = _INJECTION_SOURCES.get(source)
        if where is None:
            return ()  # the operator's own text, and the model's earlier turns
        verdict = self._detector.detect(text, where)
        if not verdict.flagged:
            return ()
        start, end = verdict.span or (0, len(text))
        return [Hit(start, end, "injection", verdict.score)]


class ModerationScan:
    def __init__(self) -> None:
        self._classifier = _moderation()

    def scan(self, text: str, source: Source) -> Sequence[Hit] | Uncertain:
        if source == "system":
            return ()
        verdict = self._classifier.score(text)
        if self._classifier.uncertain(verdict):
            return Uncertain(verdict.score, verdict.category)
        if not verdict.flagged:
            return ()
        start, end = verdict.span or (0, len(text))
        return [Hit(start, end, verdict.category or "harmful", verdict.score)]


class RegexScan:
    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns = [regex.compile(p) for p in patterns]

    def scan(self, text: str, source: Source) -> Sequence[Hit]:
        hits: list[Hit] = []
        for pattern in self._patterns:
            # TimeoutError on a pattern that backtracks without end: a detector failure.
            for match in pattern.finditer(text, timeout=REGEX_TIMEOUT_S):
                hits.append(Hit(match.start(), match.end(), pattern.pattern))
        return hits


class Remembered:
    """A detector's findings kept for texts it has read: a conversation sends its whole
    history again with every turn (an agent its tool results too), so without this
    each turn pays to read every earlier one again. Keyed by a digest of the text
    (not the text: a document may be megabytes) and its source; least recently used
    out first; safe from the threads large requests are read in."""

    def __init__(self, detector: Detector, size: int = REMEMBERED) -> None:
        self.detector = detector
        self._size = size
        self._found: OrderedDict[tuple[bytes, str], Sequence[Hit] | Uncertain] = OrderedDict()
        self._lock = threading.Lock()

    def scan(self, text: str, source: Source) -> Sequence[Hit] | Uncertain:
        key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest(),
               source)
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
                return found
        found = self.detector.scan(text, source)  # a failure raises and is not kept
        if not isinstance(found, Uncertain):
            found = tuple(found)
        with self._lock:
            self._found[key] = found
            if len(self._found) > self._size:
                self._found.popitem(last=False)
        return found


@cache
def _pii(entities: tuple[str, ...]) -> PiiDetector:
    from sluicegate.detectors.pii import PiiDetector

    return PiiDetector(entities)


@cache
def _injection() -> InjectionDetector:
    from sluicegate.detectors.classifiers import InjectionDetector

    return InjectionDetector.load()


@cache
def _moderation() -> ModerationClassifier:
    from sluicegate.detectors.classifiers import ModerationClassifier

    return ModerationClassifier.load()
