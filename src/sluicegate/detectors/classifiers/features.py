"""Text to the words a linear model reads, and back from a run of words to text offsets.

The common case, ASCII text, never runs a Python loop per character or per word: the text is
lowercased and its punctuation blanked in one ``bytes.translate`` (C speed, a 256-byte table), then
split on spaces. That is the same tokenisation as ``re.findall(r"\\w+", text.lower())`` would give
on ASCII, at about a third of the cost (~10 µs a KB against ~35 µs on this machine's cores).

Other text is first folded with NFKC (full-width letters, ligatures, mathematical alphabets become
plain letters, so a full-width "ignore" reads as "ignore") and stripped of zero-width and
soft-hyphen characters (an old trick to split a keyword a reader can't see), then tokenised with
``\\w+``, which keeps words of every script. Lone surrogates and other odd code points are fine:
nothing here encodes non-ASCII text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# ASCII byte -> lowercase letter, digit or underscore kept; everything else a space.
_ASCII_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c) if chr(c).isalnum() or c == 95 else 32 for c in range(128)
) + bytes(range(128, 256))
_WORD = re.compile(r"\w+")
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad")
)


@dataclass(frozen=True, slots=True)
class Words:
    """The text's words, and what it takes to find a run of them in the original text."""

    tokens: list[str]
    scanned: str  # the string the tokens were cut from (same length as the text when ascii)
    ascii: bool
    length: int  # of the original text

    def char_span(self, first: int, end: int) -> tuple[int, int]:
        """Offsets in the original text of words ``first`` to ``end`` (exclusive)."""
        if not self.tokens:
            return (0, self.length)
        end = min(end, len(self.tokens))
        start_pos = _word_start(self.scanned, first, self.ascii)
        stop_pos = _word_end(self.scanned, start_pos, end - first, self.ascii)
        if len(self.scanned) != self.length and self.scanned:
            # NFKC or the invisible-character strip changed the length: scale (approximate).
            ratio = self.length / len(self.scanned)
            start_pos, stop_pos = int(start_pos * ratio), min(self.length, round(stop_pos * ratio))
        return (start_pos, stop_pos)


def words(text: str) -> Words:
    if text.isascii():
        scanned = text.encode("ascii").translate(_ASCII_TABLE).decode("ascii")
        return Words(scanned.split(), scanned, True, len(text))
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).lower()
    return Words(_WORD.findall(folded), folded, False, len(text))


# Finding word n without a Python loop over the words before it: one regex that skips n words,
# compiled once per n (window starts are multiples of the stride, so few distinct n occur).
@lru_cache(maxsize=512)
def _skip(count: int, ascii: bool) -> re.Pattern[str]:
    if ascii:
        return re.compile(rf"(?: *[^ ]+){{{count}}} *")
    return re.compile(rf"(?:\W*\w+){{{count}}}\W*")


@lru_cache(maxsize=8)
def _take(count: int, ascii: bool) -> re.Pattern[str]:
    if ascii:
        return re.compile(rf"[^ ]+(?: +[^ ]+){{0,{max(count - 1, 0)}}}")
    return re.compile(rf"\w+(?:\W+\w+){{0,{max(count - 1, 0)}}}")


def _word_start(scanned: str, first: int, ascii: bool) -> int:
    if first <= 0:
        match = (re.compile(r" *") if ascii else re.compile(r"\W*")).match(scanned)
    else:
        match = _skip(first, ascii).match(scanned)
    return match.end() if match else 0


def _word_end(scanned: str, start: int, count: int, ascii: bool) -> int:
    match = _take(count, ascii).match(scanned, start)
    return match.end() if match else start
