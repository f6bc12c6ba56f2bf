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


# Finding word n without a Python loop over the words before it: regexes that skip k words
# (k < 64, compiled at import) and one that skips 64, applied n // 64 + 1 times. All in C; no
# pattern is compiled per call.
_STEP = 64
_WORD_ASCII, _WORD_OTHER = r" *+[^ ]++", r"\W*+\w++"  # possessive: a word is never split
_SKIP = {
    ascii: [re.compile(f"(?:{word}){{{k}}}") for k in range(_STEP + 1)]
    for ascii, word in ((True, _WORD_ASCII), (False, _WORD_OTHER))
}
_GAP = {True: re.compile(r" *"), False: re.compile(r"\W*")}


def _word_start(scanned: str, first: int, ascii: bool) -> int:
    skips = _SKIP[ascii]
    pos = 0
    whole, rest = divmod(max(first, 0), _STEP)
    for skip in (*([skips[_STEP]] * whole), skips[rest]):
        match = skip.match(scanned, pos)
        if match is None:
            break
        pos = match.end()
    gap = _GAP[ascii].match(scanned, pos)
    return gap.end() if gap else pos


@lru_cache(maxsize=8)
def _take(count: int, ascii: bool) -> re.Pattern[str]:
    if ascii:
        return re.compile(rf"[^ ]+(?: +[^ ]+){{0,{max(count - 1, 0)}}}")
    return re.compile(rf"\w+(?:\W+\w+){{0,{max(count - 1, 0)}}}")


def _word_end(scanned: str, start: int, count: int, ascii: bool) -> int:
    match = _take(count, ascii).match(scanned, start)
    return match.end() if match else start


# What ends a sentence, a line or a JSON string: the span a verdict reports is widened to these.
_BOUNDARIES = (". ", "! ", "? ", "\n", '"')


def widen(text: str, start: int, end: int, limit: int = 300) -> tuple[int, int]:
    """``start:end`` widened to the sentence, line or JSON string around it (at most ``limit``
    more characters each side), so a span shows the whole planted instruction rather than the few
    words the model's window held. A few ``str.rfind``/``find`` calls: cheap, once per verdict."""
    low = max(0, start - limit)
    found = ((text.rfind(mark, low, start), len(mark)) for mark in _BOUNDARIES)
    new_start = max((at + size for at, size in found if at >= 0), default=low)
    high = min(len(text), end + limit)
    stops = [i for i in (text.find(mark, end, high) for mark in _BOUNDARIES) if i >= 0]
    new_end = min(stops) + 1 if stops else high
    while new_start < start and text[new_start].isspace():
        new_start += 1
    return new_start, max(end, min(new_end, len(text)))
