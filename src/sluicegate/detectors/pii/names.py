"""Person and location names in English text: capitalised runs, lexicons and context cues.

Since the third round each run is handed to tagger.NameTagger (a trained classifier);
the rules below run only with ``NameFinder(..., tagger=False)``, kept to compare with.

One compiled pattern finds runs of capitalised words (with initials, hyphens and name
particles such as "van" or "de"); only those runs are looked at, with set lookups, so
the cost follows the number of capitalised runs, not of words. A run is a person when
it starts with a known first name (or a title) and goes on with name-like words, or
when a cue such as "my name is" or "Dear" comes before it; it is a location when the
gazetteer has it and nothing says person, or when a cue such as "lives in" comes before
an unknown capitalised word. Words frequent in English ("Will", "May", "Apple", "The")
need more evidence than the lexicons alone. Lowercase names are not found.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tagger import NameTagger

Candidate = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Lexicons:
    first: frozenset[str]
    last: frozenset[str]
    places: frozenset[str]
    common: frozenset[str]
    proper: frozenset[str]  # written capitalised in English: weak name evidence


def _read(name: str) -> frozenset[str]:
    data = resources.files(__package__) / "data" / name
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return frozenset(line for line in f.read().split("\n") if line)


@cache
def lexicons() -> Lexicons:
    """Loaded once per process (about 1 MB of gzip, see data/README.md)."""
    return Lexicons(
        first=_read("first_names.txt.gz"),
        last=_read("last_names.txt.gz"),
        places=_read("locations.txt.gz"),
        common=_read("common_words.txt.gz"),
        proper=_read("proper_nouns.txt.gz"),
    )


def _class(pred: str) -> str:
    # Latin, Greek, Cyrillic and Latin Extended Additional: the scripts of names written
    # in English text. re has no \p{Lu}, so the class is spelled out once at import.
    chars = [chr(c) for r in ((0, 0x530), (0x1E00, 0x2000)) for c in range(*r)]
    return "".join(re.escape(c) for c in chars if getattr(c, pred)())


UPPER = _class("isupper")
TITLES = frozenset(
    "mr mrs ms miss mx dr prof sir madam dame lord lady mme mlle herr frau sr jr rev".split()
)
# Sentence openers with an apostrophe (the common-word list has letters only).
CONTRACTIONS = frozenset(
    "i i'm i\u2019m i'll i'd i've it's that's what's let's there's here's he's she's we're "
    "you're they're don't can't won't isn't".split()
)
CAPS_PLACES = frozenset({"UK", "USA", "UAE", "EU", "NYC", "LA"})
# Months and weekdays: capitalised, and some are towns ("March") or names ("June" is kept
# in the name rules, "May" is common), but alone they are dates.
CALENDAR = frozenset(
    "january february march april may june july august september october november "
    "december monday tuesday wednesday thursday friday saturday sunday".split()
)
PARTICLES = "van|von|der|den|de|da|das|dos|di|du|del|della|la|le|bin|ibn|al|el|ter|ten|y"
# Letters only: "DE89" or "A4" are codes, not names.
# A dot continues a run only after a title or an initial ("Dr.", "J."), not at the end
# of a sentence ("... from Barcelona. Email me"); \b keeps "DE" out of "DE89".
TOKEN = (
    rf"(?:[{UPPER}][^\W\d_]{{0,3}}\.(?= [{UPPER}])"
    rf"|[{UPPER}](?:[^\W\d_]|['\u2019])*(?:-(?:[^\W\d_]|['\u2019])+)*\b)"
)
RUN_BODY = rf"{TOKEN}(?:(?: | (?:{PARTICLES}) ){TOKEN})*"
# No lookbehind: a pattern that starts with a character set is scanned in C; whether
# the run starts a word is checked on the (few) matches instead.
RUN = re.compile(RUN_BODY)
# A run must start a word: "iPhone" and "e.On" are not runs.
NOT_BEFORE_RUN = frozenset("@.#/-_'\u2019")

# Endings of surnames from the languages English text quotes most ("Kowalski", "Ivanova").
SURNAME_ENDS = (
    "ić", "ski", "ska", "sky", "cki", "cka", "sson", "ssen", "sen", "ov", "ova", "ev", "eva",
    "enko", "escu", "ez", "poulos", "ini", "elli", "etti", "ides", "oglu", "yan", "ian",
    "dóttir", "dottir", "son", "berg", "stein", "mann", "ová", "ek", "uk", "chuk", "shvili",
    "idze", "ashvili", "ura", "oto", "ata", "awa", "ito", "ez", "az", "is", "as", "ou",
)
# A run ending in one of these is an organisation, not a person or a place.
ORG_WORDS = frozenset(
    "inc inc. ltd ltd. llc plc corp corp. corporation company co co. group limited gmbh ag "
    "sa nv bv spa srl oy ab as asa kg holdings services technologies bank fund trust "
    "partners associates university college institute foundation council agency "
    "ministry department".split()
)
# Words right before a run that say what follows (lowercase, last one or two words).
PERSON_CUES = frozenset(
    "dear hi hello hey thanks thank regards sincerely cheers name named called am i'm "
    "with by to ask tell contact met meet meeting sir madam mr mrs ms dr professor "
    "colleague friend wife husband son daughter mother father brother sister boss "
    "manager client patient customer".split()
)
STRONG_PERSON_BEFORE = ("name is", "name's", "i am", "i'm", "this is", "dear", "named",
                        "called", "signed", "regards,", "thanks,", "cc", "attn")
PLACE_CUES = frozenset(
    "in from to at near visit visiting visited via across around toward towards "
    "outside inside".split()
)
STRONG_PLACE_BEFORE = ("live in", "lives in", "living in", "lived in", "moved to",
                       "move to", "moving to", "born in", "based in", "located in",
                       "travel to", "travelling to", "traveling to", "flew to",
                       "fly to", "flight to", "originally from", "i'm from", "am from",
                       "city of", "town of", "trip to", "arrived at", "arrived in",
                       "relocate to", "relocating to", "from", "in")

# Cues strong enough to make a word in capitals a place even when no gazetteer has it.
CAPS_PLACE_BEFORE = tuple(c for c in STRONG_PLACE_BEFORE if c not in ("from", "in"))


def _before(text: str, start: int) -> str:
    window = text[max(0, start - 24) : start].lower()
    return " ".join(window.split()[-2:])


class NameFinder:
    def __init__(self, person: bool, location: bool, tagger: bool = True) -> None:
        self.lex = lexicons()
        self.person = person
        self.location = location
        self.tagger: NameTagger | None = None
        if tagger:
            from .tagger import NameTagger

            self.tagger = NameTagger(person, location)

    def find(self, text: str) -> list[Candidate]:
        out: list[Candidate] = []
        for m in RUN.finditer(text):
            self.classify(text, m.start(), m.group(), out)
        return out

    def classify(self, text: str, start: int, run: str, out: list[Candidate]) -> None:
        """Append the person or location (if any) in the capitalised run at ``start``."""
        if start:
            ch = text[start - 1]
            if ch.isalnum() or ch in NOT_BEFORE_RUN:
                return
        if self.tagger is not None:
            self.tagger.classify(text, start, run, out)
            return
        if run.isupper() and run not in CAPS_PLACES:
            # An acronym or a code ("IBAN", "ATM", "SKU"), unless a place cue says it is
            # a town written in capitals as addresses are ("flew to HELSINKI").
            if self.location and len(run) > 2:
                before = _before(text, start)
                if before.endswith(CAPS_PLACE_BEFORE) or (
                    run.lower() in self.lex.places
                    and before.rsplit(" ", 1)[-1] in PLACE_CUES
                ):
                    out.append((start, start + len(run), "location"))
            return
        if " " not in run:
            # Most runs are one word: a sentence start or a capitalised common word.
            low = run.lower()
            if low in self.lex.common and low not in self.lex.first and low not in self.lex.places:
                return
        self._run(text, start, run, out)

    def _run(self, text: str, start: int, run: str, out: list[Candidate]) -> None:
        lex = self.lex
        first, last, common, places = lex.first, lex.last, lex.common, lex.places
        toks = run_tokens(start, run)
        n = len(toks)
        if n == 1:
            low = toks[0][2]
            if low in common and low not in first and low not in places:
                return
        titled = False
        k = 0
        # Drop leading sentence words ("Yesterday John Smith"), keep a title as evidence.
        while k < n - 1:  # the last word is judged on its own below
            low = toks[k][2].rstrip(".")
            if low in TITLES:
                titled = True
                k += 1
                continue
            if (low in common or low in CONTRACTIONS) and not (
                (low in first and k + 1 < n and toks[k + 1][2] in last)
                or (k + 1 < n and f"{low} {toks[k + 1][2]}" in places)
            ):
                k += 1
                continue
            break
        if k >= n:
            return
        toks = toks[k:]
        n = len(toks)
        lows = [t[2] for t in toks]
        s, e = toks[0][0], toks[-1][1]
        before = _before(text, toks[0][0]) if (k == 0 or titled) else lows[0]
        prev = before.rsplit(" ", 1)[-1] if before else ""
        joined = " ".join(lows)
        if titled:
            if self.person:
                out.append((s, e, "person"))
            return
        place_cue = prev in PLACE_CUES
        if n >= 2:
            if lows[-1] in ORG_WORDS or lows[0] in ORG_WORDS:
                return  # "Kandi Technologies Group Inc", "Menon Bearings Ltd"
            if joined in places and (place_cue or lows[0] not in first or lows[-1] not in last):
                if self.location:
                    out.append((s, e, "location"))
                return
            if lows[0] in first and (lows[0] not in common or lows[1] not in common):
                if self.person:
                    out.append((s, e, "person"))
                return
            if (
                lows[0] not in common and lows[-1] not in common
                and not any(w in places for w in lows)
                and all(len(w) > 1 for w in (lows[0], lows[-1]))
                # The last word must look like a surname: two unknown capitalised words
                # are as often a product ("Kindle Paperwhite") as a foreign name.
                and (lows[-1] in last or not lows[-1].isascii() or lows[-1].endswith(SURNAME_ENDS))
            ):
                # "Sven Eriksson", "Jadranka Filipović": not in the (US Census) first-name
                # list, but neither common words nor places, and surname-like at the end.
                if self.person:
                    out.append((s, e, "person"))
                return
            if self.person and (
                before.endswith(STRONG_PERSON_BEFORE)
                or any(w in first and w not in common for w in lows)
                or all(w in last and w not in common for w in lows)
            ):
                out.append((s, e, "person"))
                return
            if self.location and place_cue and not any(w in common for w in lows):
                out.append((s, e, "location"))
            return
        low = lows[0]
        if low in CALENDAR:
            return
        word = text[s:e]
        if len(word) > 1 and word.isupper() and word not in CAPS_PLACES:
            return  # a code after a sentence word ("Order ORD-4411"), as for whole runs
        is_common = low in common
        if low in places and (place_cue or (low not in first and not is_common)):
            if self.location:
                out.append((s, e, "location"))
            return
        if low in first and not is_common:
            if self.person:
                out.append((s, e, "person"))
            return
        if is_common:
            return
        if self.person and before.endswith(STRONG_PERSON_BEFORE) and len(low) > 1:
            out.append((s, e, "person"))
            return
        if self.location and low in places:
            out.append((s, e, "location"))
            return
        if self.location and before.endswith(STRONG_PLACE_BEFORE) and len(low) > 2:
            out.append((s, e, "location"))
            return
        if self.person and (low in last or low in lex.proper or not low.isascii()) and (
            prev.rstrip(".,:") in PERSON_CUES
        ):
            out.append((s, e, "person"))


def run_tokens(start: int, run: str) -> list[tuple[int, int, str]]:
    """(start, end, lowercase word) per word; a trailing dot or possessive is left out."""
    out: list[tuple[int, int, str]] = []
    pos = start
    for raw in run.split(" "):
        word = raw
        if word.endswith(".") and len(word) > 2:
            word = word[:-1]
        if word.endswith(("'s", "\u2019s")):
            word = word[:-2]
        elif word.endswith(("'", "\u2019")):
            word = word[:-1]
        word = word or raw
        out.append((pos, pos + len(word), word.lower()))
        pos += len(raw) + 1
    return out
