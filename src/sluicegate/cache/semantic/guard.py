"""A lexical check that a close embedding neighbour asks the same question.

Sentence embeddings place "How do I delete my account?" and "How do I create
my account?" close together, and "Convert 5 miles to km" almost on top of
"Convert 5 km to miles" (cosine 0.98 with all-MiniLM-L6-v2): they encode
topic, not the details that change the answer. A semantic cache that answers
one with the other is wrong, and no similarity threshold separates them
without also refusing most real paraphrases (on the labelled set's dev split,
no threshold keeps false hits under 9% with the embedding alone).

So a hit needs the embedding to say "same topic" AND this guard to find no
detail that differs. Each check is a class of error measured on the labelled
set (tests/cache/data/paraphrase_pairs.tsv):

- numbers: the same numbers (digits or number words), as a multiset;
- negation: both negated or neither ("not", "n't", "without", "no", ...);
- opposites: no pair of words from opposite sides of a known contrast
  (delete/create, enable/disable, before/after, ascending/descending, ...);
- names: every proper name, acronym, quoted phrase, unit, format or
  relative date ("next weekend") in one text appears in the other, in the
  same order ("Python slower than Java" vs "Java slower than Python");
- direction: the word after "from", "to", "into", "than" is the same
  when both texts use that word ("from the server to my laptop").

The checks only ever refuse: a refusal costs a cache miss (one upstream
call); a wrong hit returns someone else's answer. They are deliberately
conservative and cheap (a few microseconds; no model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(
    r"\"[^\"]+\"|\u201c[^\u201d]+\u201d|(?<!\w)'[^']+'(?!\w)"  # quoted phrases
    r"|[A-Za-z][\w.+#'\u2019-]*[\w+#]|[A-Za-z]"  # words, Node.js, C++, C#, don't
    r"|\d[\d,.]*%?|[$€£¥%]"  # numbers, currency signs
)
# Two-word verbs that the contrast lists need as one word.
_PHRASES = [
    (re.compile(r"\b(log|sign)\s+(in|out)\b", re.I), r"\1\2"),
    (re.compile(r"\b(turn|switch)\s+on\b", re.I), "enable"),
    (re.compile(r"\b(turn|switch)\s+off\b", re.I), "disable"),
]

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000, "billion": 1_000_000_000, "dozen": 12, "half": 0.5,
    "twice": 2, "double": 2, "triple": 3,
}

_NEGATIONS = {
    "not", "no", "never", "without", "cannot", "none", "nobody", "nothing", "neither",
    "nor", "nowhere", "isnt", "arent", "wasnt", "werent", "dont", "doesnt", "didnt",
    "cant", "couldnt", "wont", "wouldnt", "shouldnt", "hasnt", "havent", "hadnt",
}

# Contrasts: each line is a group of clusters separated by "|"; the words of a
# cluster mean the same, words from different clusters of one group contradict
# each other. Inflections are matched by _stem, so list base forms.
_CONTRAST_GROUPS = """
delete remove erase deactivate close | create add make open register signup
enable activate allow unblock show unhide unmute | disable deactivate block hide mute prevent
upload push send export give | download pull receive import get
encrypt encode compress zip serialize lock pack
  | decrypt decode decompress unzip deserialize unlock unpack
install setup | uninstall remove
start begin launch resume run open | stop end finish pause kill close quit
subscribe follow join | unsubscribe unfollow leave
login signin | logout signout
increase raise grow gain upgrade up higher more maximum max increment
  | decrease lower reduce shrink lose downgrade down less fewer minimum min decrement
ascending asc | descending desc
before prior | after
yesterday | today tonight | tomorrow
buy purchase | sell
accept approve merge | reject decline deny close
merge combine join | split separate
public | private
advantage benefit pro upside | disadvantage risk con downside drawback
fast fastest faster quick quickest | slow slowest slower
cheap cheapest cheaper inexpensive | expensive costly pricey
large largest larger big biggest bigger highest tallest longest
  | small smallest smaller little lowest shortest tiny
best better good | worst worse bad
hot warm heat | cold cool freeze freezing
input read | output write
first | last final
next upcoming coming | last previous past
old older oldest | new newer newest latest
win won winner | lose lost loser
positive | negative
true | false
success succeed | failure fail
"""
_CONTRASTS: list[list[set[str]]] = [
    [set(cluster.split()) for cluster in line.split("|")]
    for line in _CONTRAST_GROUPS.strip().replace("\n  |", " |").splitlines()
]

# Units, currencies and formats: named quantities whose identity and order
# matter as much as a proper name's, though people write them in lower case.
_UNITS: dict[str, str] = {}
for _canonical, _spellings in {
    "km": "km kilometer kilometre kilometers kilometres",
    "mile": "mi mile miles",
    "m": "meter metre meters metres",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "mm": "millimeter millimeters millimetre millimetres",
    "ft": "ft foot feet",
    "in": "inch inches",
    "yd": "yard yards",
    "kg": "kg kgs kilogram kilograms kilo kilos",
    "g": "gram grams",
    "lb": "lb lbs pound pounds",
    "oz": "oz ounce ounces",
    "l": "liter liters litre litres",
    "ml": "ml milliliter milliliters millilitre millilitres",
    "gal": "gallon gallons",
    "cup": "cup cups",
    "tbsp": "tablespoon tablespoons tbsp",
    "tsp": "teaspoon teaspoons tsp",
    "c": "celsius centigrade °c",
    "f": "fahrenheit °f",
    "kelvin": "kelvin",
    "kb": "kb kilobyte kilobytes",
    "mb": "mb megabyte megabytes",
    "gb": "gb gigabyte gigabytes",
    "tb": "tb terabyte terabytes",
    "second": "second seconds sec secs",
    "minute": "minute minutes min mins",
    "hour": "hour hours hr hrs",
    "day": "day days",
    "week": "week weeks",
    "month": "month months",
    "year": "year years",
    "usd": "$ usd dollar dollars",
    "eur": "€ eur euro euros",
    "gbp": "£ gbp sterling",
    "jpy": "¥ jpy yen",
    "%": "% percent percentage",
    "json": "json",
    "yaml": "yaml yml",
    "csv": "csv",
    "xml": "xml",
    "pdf": "pdf",
    "word": "docx",
    "html": "html",
    "markdown": "markdown md",
}.items():
    for _spelling in _spellings.split():
        _UNITS[_spelling] = _canonical

# Unit spellings that are ordinary words too: units only right after a number.
_AMBIGUOUS_UNITS = {
    "in", "m", "g", "l", "c", "f", "min", "mi", "md", "sec", "word", "cup",
    "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days",
    "week", "weeks", "month", "months", "year", "years",
}
_RELATIVE_DATE_HEADS = {"this", "next", "last", "previous", "coming"}
_DATE_NOUNS = {"weekend", "week", "month", "year", "morning", "evening", "night", "quarter"}
_DIRECTION_WORDS = ("from", "to", "into", "than")
_SKIP_AFTER_DIRECTION = {
    "a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "this", "that",
}
_NOT_NAMES = {"i", "im", "ive", "id", "ill", "ok", "okay"}

_CLUSTER_OF: dict[str, list[tuple[int, int]]] = {}
for _g, _group in enumerate(_CONTRASTS):
    for _c, _cluster in enumerate(_group):
        for _w in _cluster:
            _CLUSTER_OF.setdefault(_w, []).append((_g, _c))


def _stem(word: str) -> str:
    """The form the contrast lists use: a few inflections removed, nothing clever."""
    if word in _CLUSTER_OF:
        return word
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                         ("es", ""), ("s", ""), ("d", "")):
        if word.endswith(suffix) and word[: len(word) - len(suffix)] + repl in _CLUSTER_OF:
            return word[: len(word) - len(suffix)] + repl
    return word


@dataclass(frozen=True, slots=True)
class Signature:
    """What the guard compares, computed once per text (stored with an entry)."""

    words: tuple[str, ...]  # lower case, in order, apostrophes removed
    numbers: tuple[float, ...]  # sorted
    negated: bool
    contrasts: frozenset[tuple[int, int]]  # (group, cluster) of contrast words
    names: tuple[str, ...]  # proper names, units, quoted phrases, relative dates, in order
    directions: tuple[tuple[str, str], ...]  # (direction word, the word after it)


def _number(token: str) -> float | None:
    text = token.rstrip("%").replace(",", "").rstrip(".")
    try:
        return float(text)
    except ValueError:
        return None


def signature(text: str) -> Signature:
    """Compute the comparison signature of one text."""
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    words: list[str] = []
    numbers: list[float] = []
    names: list[str] = []
    negated = False
    after_number = False
    for match in _WORD.finditer(text):
        token = match.group()
        if token[0] in "\"'\u201c":
            quoted = " ".join(w.lower() for w in re.findall(r"\w+", token))
            if quoted:
                names.append(f'"{quoted}"')
                words.extend(quoted.split())
            after_number = False
            continue
        value = _number(token) if token[0].isdigit() else None
        if value is not None:
            numbers.append(value)
            if token.endswith("%"):
                names.append("%")
            after_number = True
            continue
        possessive = token.endswith(("'s", "\u2019s"))
        lower = token.lower()
        lower = lower[:-2] if possessive else lower
        lower = lower.replace("'", "").replace("\u2019", "").rstrip(".")
        words.append(lower)
        if lower in _NUMBER_WORDS:
            numbers.append(float(_NUMBER_WORDS[lower]))
        if lower in _NEGATIONS:
            negated = True
        unit = _UNITS.get(lower)
        if unit is not None and (after_number or lower not in _AMBIGUOUS_UNITS):
            names.append(unit)
        elif lower not in _NOT_NAMES and _is_name(token, text, match.start()):
            names.append(lower)
        after_number = False
    for i in range(len(words) - 1):
        if words[i] in _RELATIVE_DATE_HEADS and words[i + 1] in _DATE_NOUNS:
            names.append(f"{words[i]} {words[i + 1]}")
    directions: list[tuple[str, str]] = []
    for d in _DIRECTION_WORDS:
        if d not in words:
            continue
        at = words.index(d) + 1
        rest = [w for w in words[at:] if w not in _SKIP_AFTER_DIRECTION]
        if not rest:
            continue
        target = _UNITS.get(rest[0], rest[0])
        # "to"/"into" before a verb is an infinitive ("how to check"), not a
        # direction: count it only before a determiner or a name.
        if d in ("to", "into") and words[at] not in _SKIP_AFTER_DIRECTION and target not in names:
            continue
        directions.append((d, target))
    contrasts = frozenset(pair for w in words for pair in _CLUSTER_OF.get(_stem(w), ()))
    return Signature(
        words=tuple(words),
        numbers=tuple(sorted(numbers)),
        negated=negated,
        contrasts=contrasts,
        names=tuple(names),
        directions=tuple(directions),
    )


def _is_name(token: str, text: str, start: int) -> bool:
    """A proper name, acronym or product: capitalised not at a sentence start,
    or with a capital inside (iPhone, PostgreSQL, JSON)."""
    if any(ch.isupper() for ch in token[1:]):
        return True
    if not token[0].isupper():
        return False
    # A sentence starts here when only spaces separate it from the text's start,
    # a line break or sentence punctuation (looked up backwards: no copy of the text).
    i = start - 1
    while i >= 0 and text[i].isspace():
        if text[i] == "\n":
            return False
        i -= 1
    return i >= 0 and text[i] not in ".!?:;"


def _contradict(a: frozenset[tuple[int, int]], b: frozenset[tuple[int, int]]) -> bool:
    """True when some contrast group has words in both texts but no cluster in common."""
    groups = {g for g, _ in a} & {g for g, _ in b}
    for group in groups:
        ca = {c for g, c in a if g == group}
        cb = {c for g, c in b if g == group}
        if not ca & cb:
            return True
    return False


def _names_agree(a: Signature, b: Signature) -> bool:
    words_a, words_b = set(a.words) | set(a.names), set(b.words) | set(b.names)
    if any(n not in words_b and not _in_words(n, words_b) for n in a.names):
        return False
    if any(n not in words_a and not _in_words(n, words_a) for n in b.names):
        return False
    shared = [n for n in a.names if n in b.names]
    return shared == [n for n in b.names if n in a.names]


def _in_words(name: str, words: set[str]) -> bool:
    """A multi-word name ("next weekend") or a name written differently in the other text."""
    return all(part in words for part in name.strip('"').split())


def same_question(a: Signature, b: Signature) -> bool:
    """False when the two texts differ in a detail that changes the answer."""
    if a.numbers != b.numbers or a.negated != b.negated:
        return False
    if _contradict(a.contrasts, b.contrasts):
        return False
    if not _names_agree(a, b):
        return False
    da, db = dict(a.directions), dict(b.directions)
    return all(da[d] == db[d] for d in da.keys() & db.keys())
