"""Text that tries to override or contradict a locked layer.

Models do not reliably keep a system-over-user priority themselves, so a
locked layer is kept by review: text in a later layer (a tenant's layer, a
prompt version's system messages) is reported when it

- asks the model to set earlier instructions aside ("ignore the platform
  rules", "you are no longer bound by ..."), or
- contradicts one of the locked layer's rules: it permits what a "never" or
  "do not" rule forbids, forbids what an "always" rule requires, or names
  another answer language than the one the locked layer fixes.

These are heuristics on English (and a few common phrasings in German,
French and Spanish); their precision and recall are measured on the corpus
in bench/data/prompt_lint (see the README).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sluicegate.prompts.lint.findings import Finding

_OVERRIDE = re.compile(
    r"(?ix)"
    r"\b(?:ignore|disregard|forget|override|overrule|bypass|skip|set\ aside|drop|abandon|discard)"
    r"\s+(?:all\s+|any\s+|the\s+|every\s+|your\s+|these\s+|those\s+)*"
    r"(?:(?:previous|prior|above|earlier|preceding|platform|platform-level|system|original|"
    r"default|global|upstream|other|existing|outer|base|safety|standard)[\s-]+)+"
    r"(?:instructions?|rules?|guidelines?|directives?|policies|policy|constraints?|prompts?|"
    r"restrictions?|messages?|layers?|guardrails?|settings?)"
    r"|\b(?:no\ longer|not)\ (?:be\ )?(?:bound|restricted|limited|constrained)\ by"
    r"|\b(?:rules|instructions|restrictions|guidelines|policies)\ (?:above|before\ this)?\s*"
    r"(?:no\ longer|do\ not|don't)\ apply"
    r"|\btakes?\ (?:precedence|priority)\ over\ (?:any|all|the)"
    r"|\boverrides?\ (?:any|all|the|every)\ (?:previous|prior|platform|other|system|earlier)"
    r"|\bregardless\ of\ (?:any|the|what)\ (?:previous|prior|platform|other|system|earlier)"
    r"|\binstead\ of\ (?:the\ )?(?:platform|system|previous)\ (?:rules|instructions)"
    r"|\b(?:developer|god|jailbreak|unrestricted)\ mode\b"
    r"|\bwithout\ (?:any\ )?(?:restrictions|limitations|filters|rules)\b"
    r"|\bignoriere?\b.{0,40}\b(?:anweisungen|regeln|vorgaben)"
    r"|\bignore[rz]?\b.{0,40}\b(?:instructions|règles|consignes)\s+"
    r"(?:précédentes|ci-dessus|de\ la\ plateforme)"
    r"|\bignora\b.{0,40}\b(?:instrucciones|reglas)"
)

_LANGUAGES = {
    "english": "english",
    "french": "french",
    "français": "french",
    "francais": "french",
    "german": "german",
    "deutsch": "german",
    "spanish": "spanish",
    "español": "spanish",
    "espanol": "spanish",
    "italian": "italian",
    "italiano": "italian",
    "portuguese": "portuguese",
    "português": "portuguese",
    "dutch": "dutch",
    "japanese": "japanese",
    "日本語": "japanese",
    "chinese": "chinese",
    "mandarin": "chinese",
    "korean": "korean",
    "russian": "russian",
    "arabic": "arabic",
    "hindi": "hindi",
    "polish": "polish",
    "swedish": "swedish",
    "turkish": "turkish",
    "greek": "greek",
    "danish": "danish",
    "norwegian": "norwegian",
    "finnish": "finnish",
    "czech": "czech",
    "hebrew": "hebrew",
    "vietnamese": "vietnamese",
    "thai": "thai",
    "indonesian": "indonesian",
}
_LANGUAGE_WORD = "|".join(sorted(map(re.escape, _LANGUAGES), key=len, reverse=True))
_ANSWER_VERB = r"(?:answer|respond|reply|write|speak|communicate|talk|output|converse|produce)"
_LANGUAGE_RULE = re.compile(
    rf"(?i)\b{_ANSWER_VERB}\w*\b[^.\n]{{0,40}}?\bin\s+(?:the\s+)?({_LANGUAGE_WORD})\b"
    rf"|\b({_LANGUAGE_WORD})\s+only\b|\bonly\s+(?:in\s+)?({_LANGUAGE_WORD})\b"
)
_USER_LANGUAGE = re.compile(
    r"(?i)\b(?:in|use)\s+(?:the\s+)?(?:same\s+language\s+as\s+the\s+user|user's\s+(?:own\s+)?"
    r"language|language\s+(?:of\s+the\s+user|the\s+user\s+(?:writes|uses|speaks)))"
    r"|\b(?:whatever|any)\s+language\b"
)

_NEGATION = re.compile(
    r"(?i)\b(?:never|not|no|don't|do\s+not|doesn't|cannot|can't|won't|must\s+not|mustn't|"
    r"avoid|refrain|refuse|decline|without|nor|neither|instead\s+of|rather\s+than|unable|"
    r"under\s+no\s+circumstances|forbidden|prohibited)\b"
)
_PROHIBITION = re.compile(
    r"(?i)\b(?:never|do\s+not|don't|must\s+not|mustn't|must\s+never|may\s+not|should\s+not|"
    r"shouldn't|under\s+no\s+circumstances|are\s+not\s+allowed\s+to|is\s+forbidden\s+to|"
    r"refuse\s+to)\b\s*(.*)"
)
_OBLIGATION = re.compile(r"(?i)\b(?:always|must|shall|you\s+are\s+required\s+to)\b\s+(.*)")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "as",
        "is",
        "are",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "you",
        "your",
        "yours",
        "user",
        "users",
        "their",
        "them",
        "they",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "us",
        "any",
        "all",
        "every",
        "each",
        "some",
        "such",
        "only",
        "also",
        "just",
        "very",
        "more",
        "most",
        "other",
        "than",
        "then",
        "so",
        "if",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "what",
        "how",
        "why",
        "about",
        "into",
        "over",
        "under",
        "up",
        "out",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "never",
        "not",
        "no",
        "dont",
        "don't",
        "always",
        "ever",
        "please",
        "one",
        "their",
        "there",
        "here",
        "per",
        "via",
        "own",
        "same",
    ]
)
_SENTENCE = re.compile(r"[^.!?;\n]+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class LockedRules:
    """What a locked layer fixes, read once from its text."""

    language: str | None  # "english", or None when it fixes no language
    prohibitions: tuple[frozenset[str], ...]  # stems of what it forbids
    obligations: tuple[frozenset[str], ...]  # stems of what it requires

    @classmethod
    def of(cls, text: str) -> LockedRules:
        language = None
        prohibitions: list[frozenset[str]] = []
        obligations: list[frozenset[str]] = []
        for sentence in _SENTENCE.findall(text):
            found = _language_of(sentence)
            if found is not None and not _NEGATION.search(sentence.split(found)[0][-30:]):
                language = language or found
            forbidden = _PROHIBITION.search(sentence)
            if forbidden is not None:
                stems = _stems(forbidden.group(1))
                if len(stems) >= 2:
                    prohibitions.append(stems)
                continue
            required = _OBLIGATION.search(sentence)
            if required is not None:
                stems = _stems(required.group(1))
                if len(stems) >= 2:
                    obligations.append(stems)
        return cls(language, tuple(prohibitions), tuple(obligations))


def locked_findings(text: str, path: str, locked: LockedRules | None) -> Iterator[Finding]:
    override = _OVERRIDE.search(text)
    if override is not None:
        yield _finding(
            text, path, override.start(), "it asks the model to set aside earlier instructions"
        )
        return
    if locked is None:
        return
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        problem = _contradiction(sentence, locked)
        if problem is not None:
            yield _finding(text, path, match.start(), problem)
            return


def _contradiction(sentence: str, locked: LockedRules) -> str | None:
    negated = _NEGATION.search(sentence) is not None
    if locked.language is not None:
        other = _language_of(sentence)
        if other is not None and other != locked.language and not negated:
            return (
                f"it asks for answers in {other.title()}, and the locked layer fixes "
                f"{locked.language.title()}"
            )
        if _USER_LANGUAGE.search(sentence) and not negated:
            return (
                f"it asks for the user's language, and the locked layer fixes "
                f"{locked.language.title()}"
            )
    stems = _stems(sentence)
    if not negated:
        for forbidden in locked.prohibitions:
            if _covers(stems, forbidden):
                return "it asks for what the locked layer forbids"
    else:
        for required in locked.obligations:
            if _covers(stems, required):
                return "it forbids what the locked layer requires"
    return None


def _covers(stems: frozenset[str], rule: frozenset[str]) -> bool:
    shared = len(stems & rule)
    return shared >= 2 and shared * 3 >= len(rule) * 2


def _language_of(sentence: str) -> str | None:
    match = _LANGUAGE_RULE.search(sentence)
    if match is None:
        return None
    word = next(g for g in match.groups() if g is not None)
    return _LANGUAGES[word.lower()]


def _stems(text: str) -> frozenset[str]:
    """Content words, cut to a common prefix so that diagnose, diagnoses and diagnosis
    meet (a crude stemmer, but the same one on both sides)."""
    out = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or len(word) < 3:
            continue
        out.add(word[:6] if len(word) > 6 else word.rstrip("s"))
    return frozenset(out)


def _finding(text: str, path: str, at: int, why: str) -> Finding:
    return Finding(
        "locked-layer-override",
        "error",
        f"this text would override a locked layer: {why}",
        path,
        text.count("\n", 0, at) + 1,
    )
