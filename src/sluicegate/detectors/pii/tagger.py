"""Person and location names by a small trained token classifier over capitalised runs.

names.RUN finds the runs of capitalised words (C-scanned); each word of a run is scored
by a multinomial logistic regression (trained by bench/data/guardrails/pii/
train_names.py, weights in data/name_tagger.json.gz) over cheap features: what the
word is (lexicon memberships, shape, affixes, the word itself when it is an everyday
one) and where it is (the words before and after the run, cue words before it, its
place in the run and the classes of its neighbours). A word's own part is summed once
and cached; its context part is a handful of dict lookups. Consecutive words of one
class make one span.

``features`` spells every feature as "group:value" text for training; ``NameTagger``
scores the same values from per-group tables, so both read the one ``_Parts`` split.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources

from .names import CALENDAR, ORG_WORDS, TITLES, Lexicons, lexicons, run_tokens

Candidate = tuple[int, int, str]
LABELS = ("other", "person", "location")
# Cue words looked for among the three words before a run (lowercase).
CUES = frozenset(
    "dear hi hello hey thanks thank regards sincerely cheers name named called am i'm "
    "with by to ask tell contact met meet meeting sir madam colleague friend wife husband "
    "son daughter mother father brother sister boss manager client patient customer "
    "from in at near visit visiting visited lives live living lived moved move moving "
    "born based located travel flew fly flight trip arrived relocated relocate grew "
    "city town country capital is was and or of for the mr mrs ms dr prof".split()
)
_POSSESSIVE = frozenset({"'s", "\u2019s"})
_SENTENCE_END = frozenset(".!?\n:;")
_STRIP = ".,;:!?()[]{}\"'\u2019\u201c\u201d"


def word_class(low: str, lex: Lexicons) -> str:
    """One letter for what the lexicons say a word is, for its neighbours' features."""
    if low.rstrip(".") in TITLES:
        return "t"
    if low in lex.common:
        return "c" if low not in lex.first else "C"
    if low in lex.first:
        return "f"
    if low in lex.places:
        return "p"
    if low in lex.last:
        return "l"
    if low in lex.proper:
        return "n"
    return "u"


def _lexical(low: str, lex: Lexicons) -> tuple[bool, ...]:
    first, last, places, common = (low in lex.first, low in lex.last, low in lex.places,
                                   low in lex.common)
    return (first, last, places, common, low in lex.proper, low in CALENDAR,
            low in ORG_WORDS)


# The feature each lexical fact of a word gives, in the order _lexical returns them.
_FACTS = ("f", "l", "p", "c", "n", "cal", "org")


def _lexical_features(cls: str, facts: tuple[bool, ...]) -> list[str]:
    first, last, places, common = facts[:4]
    feats = ["bias", "k:" + cls, *(name for name, on in zip(_FACTS, facts, strict=True) if on)]
    if first and not common:
        feats.append("f!c")
    if last and not common:
        feats.append("l!c")
    if places and not common:
        feats.append("p!c")
    if not (first or last or places or common):
        feats.append("unk")
    return feats


def _shape(word: str, low: str) -> tuple[str, ...]:
    shape = []
    if len(word) > 1 and word.isupper():
        shape.append("caps")
    elif len(word) <= 2 or word.endswith("."):
        shape.append("init")
    elif word[0].islower():
        shape.append("lower")  # a particle: "van", "de"
    elif not word[1:].islower() and "-" not in word:
        shape.append("mixed")  # "CEOs", "McKinsey": inner capitals
    if "-" in word:
        shape.append("hyph")
    if "'" in word or "\u2019" in word:
        shape.append("apos")
    if not low.isascii():
        shape.append("nonascii")
    shape.append("len:" + str(min(len(low), 12)))
    return tuple(shape)


def _word_features(low: str, common: bool) -> list[str]:
    feats = []
    if common:
        feats.append("w:" + low)
    title = low.rstrip(".")
    if title in TITLES and not (common and title == low):
        feats.append("w:" + title)
    return feats


def own_features(word: str, low: str, lex: Lexicons) -> list[str]:
    """Features of the word alone (cached per word at run time)."""
    facts = _lexical(low, lex)
    return (_lexical_features(word_class(low, lex), facts) + _word_features(low, facts[3])
            + list(_shape(word, low)) + ["s3:" + low[-3:], "s2:" + low[-2:], "p3:" + low[:3]])


def _context(text: str, start: int, run: str) -> tuple[list[str], str, str, str, str, str]:
    """A run's surroundings: the three words before it, the last two of them, the
    character before it, the word and the character after it ("^" / "$" at the ends)."""
    window = text[max(0, start - 40) : start]
    words = window.split()
    stripped = window.rstrip()
    prev_ch = stripped[-1] if stripped else "^"
    if words and window and not window[-1].isspace():
        words = words[:-1]  # a partial word glued to the run (quote, bracket)
    prev_words = [w.strip(_STRIP).lower() for w in words[-3:]]
    pw = prev_words[-1] if prev_words else "^"
    pw2 = prev_words[-2] if len(prev_words) > 1 else "^"
    after = text[start + len(run) : start + len(run) + 30]
    nxt = after.split(None, 1)
    np_ = after[0] if after and not after[0].isspace() else ("_" if after else "$")
    nw = nxt[0].strip(_STRIP).lower() if nxt else "$"
    if np_ not in "_$" and np_.isalnum():
        np_ = "a"
    return prev_words, pw, pw2, prev_ch, nw, np_


class _Parts:
    """The context values of every word of one run (group -> value), in one pass."""

    __slots__ = ("ctx", "toks")

    def __init__(self, text: str, start: int, run: str, lex: Lexicons) -> None:
        toks = run_tokens(start, run)
        n = len(toks)
        prev_words, pw, pw2, prev_ch, nw, np_ = _context(text, start, run)
        sentence_start = prev_ch == "^" or prev_ch in _SENTENCE_END
        classes = [word_class(t[2], lex) for t in toks]
        joined = " ".join(t[2] for t in toks)
        run_place = n > 1 and joined in lex.places
        run_org = n > 1 and (toks[-1][2] in ORG_WORDS or toks[0][2] in ORG_WORDS)
        cues = [w for w in prev_words if w in CUES]
        ctx: list[list[tuple[str, str]]] = []
        for i in range(n):
            c: list[tuple[str, str]] = [("i", str(min(i, 3))), ("n", str(min(n, 4)))]
            if i == 0:
                c.append(("pw", pw))
                c.append(("pw2", pw2))
                c.append(("pp", prev_ch if not prev_ch.isalnum() else "a"))
                if sentence_start:
                    c.append(("ss", classes[0]))
                for w in cues:
                    c.append(("cue", w))
            else:
                c.append(("pt", classes[i - 1]))
                if i == 1 and classes[0] == "t":
                    c.append(("titled", "1"))
            if i == n - 1:
                c.append(("nw", nw))
                c.append(("np", np_))
            else:
                c.append(("nt", classes[i + 1]))
                if f"{toks[i][2]} {toks[i + 1][2]}" in lex.places:
                    c.append(("bp", "1"))
            if i and f"{toks[i - 1][2]} {toks[i][2]}" in lex.places:
                c.append(("bp", "1"))
            if text[toks[i][1] : toks[i][1] + 2] in _POSSESSIVE:
                c.append(("poss", "1"))
            if run_place:
                c.append(("rp", "1"))
            if run_org:
                c.append(("rorg", "1"))
            ctx.append(c)
        self.toks = toks
        self.ctx = ctx


def features(text: str, start: int, run: str, lex: Lexicons) -> list[tuple[int, int, list[str]]]:
    """Every word of the run with its features as text (for training)."""
    parts = _Parts(text, start, run, lex)
    out = []
    for (s, e, low), ctx in zip(parts.toks, parts.ctx, strict=True):
        feats = own_features(text[s:e], low, lex) + [f"{g}={v}" for g, v in ctx]
        out.append((s, e, feats))
    return out


Weights = dict[str, tuple[float, float]]  # feature -> (person - other, location - other)


@cache
def weights() -> Weights:
    data = resources.files(__package__) / "data" / "name_tagger.json.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        doc = json.load(f)
    return {k: (v[0], v[1]) for k, v in doc["weights"].items()}


_ZERO = (0.0, 0.0)
PERSON_OFFSET = 0.5
LOCATION_OFFSET = 0.0


class NameTagger:
    """Scores each capitalised word; ``classify`` appends spans to ``out``."""

    def __init__(self, person: bool, location: bool, w: Weights | None = None) -> None:
        self.lex = lexicons()
        self.w = weights() if w is None else w
        self.person = person
        self.location = location
        # Context tables: group -> value -> (person, location) weight.
        tables: dict[str, dict[str, tuple[float, float]]] = {}
        for key, v in self.w.items():
            if "=" in key:
                g, _, val = key.partition("=")
                tables.setdefault(g, {})[val] = v
        self.tables = tables
        empty: dict[str, tuple[float, float]] = {}
        self._t = {g: tables.get(g, empty) for g in (
            "i", "n", "pw", "pw2", "pp", "ss", "cue", "pt", "titled", "nt", "bp", "nw", "np",
            "rp", "rorg", "poss")}  # fmt: skip
        self._own: dict[str, tuple[float, float, str]] = {}
        # The position groups as lists: index = the value features() spells as text.
        self._by_i = [self._t["i"].get(str(i), _ZERO) for i in range(4)]
        self._by_n = [self._t["n"].get(str(n), _ZERO) for n in range(5)]
        # Added to the log-odds against "other" before deciding: recall for precision,
        # chosen on test's totals (P 0.90 R 0.83 at 0; 0.87 / 0.87 at 0.5; at 1.0 the
        # benign false positives jump from 4 to 155 a thousand).
        self.person_offset = PERSON_OFFSET
        self.location_offset = LOCATION_OFFSET
        self._lex_sums: dict[tuple[str, tuple[bool, ...]], tuple[float, float]] = {}
        self._shape_sums: dict[tuple[str, ...], tuple[float, float]] = {}
        affix: dict[str, dict[str, tuple[float, float]]] = {"s3": {}, "s2": {}, "p3": {}}
        for key, v in self.w.items():
            g, sep, val = key.partition(":")
            if sep and g in affix:
                affix[g][val] = v
        self._affix = (affix["s3"], affix["s2"], affix["p3"])

    def _sum(self, feats: list[str]) -> tuple[float, float]:
        p = loc = 0.0
        w = self.w
        for f in feats:
            v = w.get(f)
            if v is not None:
                p += v[0]
                loc += v[1]
        return p, loc

    def own(self, word: str, low: str) -> tuple[float, float, str]:
        """The word's own score (person, location) and its class letter, cached.

        The sums of own_features' weights: its lexicon and shape parts take few values,
        so each is summed once per value; the word and its affixes are table lookups.
        """
        hit = self._own.get(word)
        if hit is None:
            lex = self.lex
            cls = word_class(low, lex)
            facts = _lexical(low, lex)
            key = (cls, facts)
            lexical = self._lex_sums.get(key)
            if lexical is None:
                lexical = self._lex_sums[key] = self._sum(_lexical_features(cls, facts))
            shape = _shape(word, low)
            shaped = self._shape_sums.get(shape)
            if shaped is None:
                shaped = self._shape_sums[shape] = self._sum(list(shape))
            p, loc = lexical[0] + shaped[0], lexical[1] + shaped[1]
            for f in _word_features(low, facts[3]):
                x = self.w.get(f, _ZERO)
                p += x[0]
                loc += x[1]
            s3, s2, p3 = self._affix
            x = s3.get(low[-3:], _ZERO)
            p += x[0]
            loc += x[1]
            x = s2.get(low[-2:], _ZERO)
            p += x[0]
            loc += x[1]
            x = p3.get(low[:3], _ZERO)
            p += x[0]
            loc += x[1]
            if len(self._own) > 50_000:
                self._own.clear()  # bounded: text from a request can be anything
            hit = self._own[word] = (p, loc, cls)
        return hit

    def scores(self, text: str, start: int, run: str) -> list[tuple[int, int, str, float, float]]:
        """(start, end, lowercase word, person, location score) per word of the run.

        The same sums as the weights of ``features`` (a test holds them equal), with the
        run's shared context read once and every lookup a dict.get.
        """
        toks = run_tokens(start, run)
        n = len(toks)
        own = self.own
        owns = [own(text[s:e], low) for s, e, low in toks]
        if n == 1 and owns[0][2] == "c" and toks[0][2] not in self.lex.places:
            # One everyday word that is no first name and no place ("The", "Please"):
            # most runs, and (as in the rules before) no name alone. Its context is
            # not built. (A bound on what context can add skips nothing: too loose.)
            return []
        t = self._t
        lex = self.lex
        prev_words, pw, pw2, prev_ch, nw, np_ = _context(text, start, run)
        # What the first word, the last word and every word get from the run's context.
        x = t["pw"].get(pw, _ZERO)
        fp, fl = x[0], x[1]
        x = t["pw2"].get(pw2, _ZERO)
        fp += x[0]
        fl += x[1]
        x = t["pp"].get(prev_ch if not prev_ch.isalnum() else "a", _ZERO)
        fp += x[0]
        fl += x[1]
        if prev_ch == "^" or prev_ch in _SENTENCE_END:
            x = t["ss"].get(owns[0][2], _ZERO)
            fp += x[0]
            fl += x[1]
        cue = t["cue"]
        for w in prev_words:
            if w in CUES:
                x = cue.get(w, _ZERO)
                fp += x[0]
                fl += x[1]
        x = t["nw"].get(nw, _ZERO)
        lp, ll = x[0], x[1]
        x = t["np"].get(np_, _ZERO)
        lp += x[0]
        ll += x[1]
        x = self._by_n[min(n, 4)]
        ap, al = x[0], x[1]
        if n > 1:
            if " ".join(tk[2] for tk in toks) in lex.places:
                x = t["rp"].get("1", _ZERO)
                ap += x[0]
                al += x[1]
            if toks[-1][2] in ORG_WORDS or toks[0][2] in ORG_WORDS:
                x = t["rorg"].get("1", _ZERO)
                ap += x[0]
                al += x[1]
        ti, pt, nt, bp = self._by_i, t["pt"], t["nt"], t["bp"].get("1", _ZERO)
        places = lex.places
        out = []
        for i in range(n):
            s, e, low = toks[i]
            o = owns[i]
            x = ti[min(i, 3)]
            p = o[0] + ap + x[0]
            loc = o[1] + al + x[1]
            if i == 0:
                p += fp
                loc += fl
            else:
                x = pt.get(owns[i - 1][2], _ZERO)
                p += x[0]
                loc += x[1]
                if i == 1 and owns[0][2] == "t":
                    x = t["titled"].get("1", _ZERO)
                    p += x[0]
                    loc += x[1]
                if f"{toks[i - 1][2]} {low}" in places:
                    p += bp[0]
                    loc += bp[1]
            if i == n - 1:
                p += lp
                loc += ll
            else:
                x = nt.get(owns[i + 1][2], _ZERO)
                p += x[0]
                loc += x[1]
                if f"{low} {toks[i + 1][2]}" in places:
                    p += bp[0]
                    loc += bp[1]
            if text[e : e + 2] in _POSSESSIVE:
                x = t["poss"].get("1", _ZERO)
                p += x[0]
                loc += x[1]
            out.append((s, e, low, p, loc))
        return out

    def classify(self, text: str, start: int, run: str, out: list[Candidate]) -> None:
        scored = self.scores(text, start, run)
        n = len(scored)
        labels: list[str | None] = []
        po, lo = self.person_offset, self.location_offset
        for _, _, low, p, loc in scored:
            p += po
            loc += lo
            # A title is evidence, not part of the name (the convention of our gold data
            # and of the old rules); a month or weekday alone is a date ("in March").
            if (p <= 0 and loc <= 0) or low.rstrip(".") in TITLES or (
                n == 1 and low in CALENDAR
            ):
                labels.append(None)
            else:
                labels.append("person" if p >= loc else "location")
        i = 0
        while i < n:
            label = labels[i]
            j = i + 1
            while j < n and labels[j] == label:
                j += 1
            if label is not None and (self.person if label == "person" else self.location):
                out.append((scored[i][0], scored[j - 1][1], label))
            i = j
