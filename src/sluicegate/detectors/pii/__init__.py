"""The PII detector of the ``pii`` guardrail: pure, in-process, no model download.

    detector = PiiDetector()                 # build once; find() runs on every request
    for span in detector.find(text):
        text[span.start:span.end], span.entity

Structured types (structured.py) are found by pattern plus validity check; person and
location names by a small trained classifier over the words of capitalised runs
(names.py finds the runs, tagger.py scores their words). Where two
candidates overlap, the structured one wins (its check is stronger evidence), then the
longer one. bench/guardrail_pii.py measures precision, recall and cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sluicegate.detectors.entities import PII_ENTITIES as PII_ENTITIES  # the public name

from .names import RUN, NameFinder
from .scan import NUMERIC
from .structured import MIN_DIGITS, PRIORITY, WINDOW_FINDERS, emails_at, ipv6s

NAME_ENTITIES = frozenset({"person", "location"})
# Overlap priority: lower wins.
_RANK = {entity: i for i, entity in enumerate([*PRIORITY, "person", "location"])}
# How far past a numeric candidate its type patterns may look: a phone extension
# ("x1234") and the lookaheads that keep "1234567.5" from being a phone.
_TAIL = 16


@dataclass(frozen=True, slots=True)
class PiiSpan:
    start: int  # text[start:end] is the value (Python str indices)
    end: int
    entity: str  # one of PII_ENTITIES


class PiiDetector:
    def __init__(self, entities: Iterable[str] = PII_ENTITIES) -> None:
        wanted = list(dict.fromkeys(entities))
        unknown = [e for e in wanted if e not in PII_ENTITIES]
        if unknown:
            raise ValueError(
                f"unknown PII entity {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(PII_ENTITIES)}"
            )
        self.entities = frozenset(wanted)
        # (fewest digits, needs a dot, finder): a candidate with too few digits for a
        # type, or an IPv4 candidate without dots, costs no call of that type's finder.
        self._numeric = [(MIN_DIGITS[e], e == "ip_address", WINDOW_FINDERS[e])
                         for e in PRIORITY if e in WINDOW_FINDERS
                         and e in self.entities and e != "iban"]
        self._iban = WINDOW_FINDERS["iban"] if "iban" in self.entities else None
        self._email = "email" in self.entities
        self._ipv6 = "ip_address" in self.entities
        person, location = "person" in self.entities, "location" in self.entities
        self._names = NameFinder(person, location) if person or location else None

    def find(self, text: str) -> list[PiiSpan]:
        """Spans sorted by start, non-overlapping, of the configured entities only."""
        if not isinstance(text, str) or not text:
            return []
        if "\\" in text:
            # Escaped line breaks (JSON or logs pasted into a prompt) end a word like real
            # ones do; the same length keeps every offset valid for the caller's text.
            text = text.replace("\\n", " \n").replace("\\t", " \t").replace("\\r", " \r")
        candidates: list[tuple[int, int, str]] = []
        size = len(text)
        if self._numeric or self._iban is not None:
            iban = self._iban
            for m in NUMERIC.finditer(text):
                start = m.start()
                end = min(size, m.end() + _TAIL)
                run = m.group()
                digits = len(run) - run.count(" ") - run.count("-") - run.count(".") - (
                    run.count("(") + run.count(")") + run.count("/") + run.count("+")
                )
                dotted = "." in run
                for fewest, needs_dot, finder in self._numeric:
                    if digits >= fewest and (dotted or not needs_dot):
                        candidates.extend(finder(text, start, end))
                # An IBAN's digits follow its country code and often letters of its
                # bank code ("GB82WEST1234..."): look back from them for its start.
                # Letters right before the digits, or a 4-character bank code ("WEST ").
                if iban is not None and start >= 2 and (
                    text[start - 1].isalpha()
                    or (text[start - 1] == " " and text[max(0, start - 5) : start - 1].isalnum()
                        and text[start - 2].isalpha())
                ):
                    candidates.extend(iban(text, max(0, start - 12), min(size, start + 48)))
        if self._email and "@" in text:
            at = text.find("@")
            while at >= 0:
                candidates.extend(emails_at(text, at))
                at = text.find("@", at + 1)
        if self._names is not None:
            classify = self._names.classify
            for m in RUN.finditer(text):
                classify(text, m.start(), m.group(), candidates)
        if self._ipv6:
            candidates.extend(ipv6s(text))
        if not candidates:
            return []
        if len(candidates) == 1:
            s, e, entity = candidates[0]
            return [PiiSpan(s, e, entity)]
        candidates.sort()
        for i in range(1, len(candidates)):
            if candidates[i][0] < candidates[i - 1][1]:
                break
        else:
            # The usual case: no two candidates overlap, nothing to arbitrate.
            return [PiiSpan(s, e, entity) for s, e, entity in candidates]
        # Best claim first: type priority, then longer; keep each one that overlaps none kept.
        candidates.sort(key=lambda c: (_RANK[c[2]], c[0] - c[1], c[0]))
        kept: list[tuple[int, int, str]] = []
        for c in candidates:
            if all(c[1] <= k[0] or c[0] >= k[1] for k in kept):
                kept.append(c)
        kept.sort()
        return [PiiSpan(s, e, entity) for s, e, entity in kept]
