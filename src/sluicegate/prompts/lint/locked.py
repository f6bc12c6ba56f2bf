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
    r"restrictions?|layers?|guardrails?)"
    r"|\b(?:no\ longer|not)\ (?:be\ )?(?:bound|restricted|limited|constrained)\ by"
    r"|\b(?:platform|system|previous|prior|above|earlier|general|default|global|standard)"
    r"[\w'\ -]{0,20}?\b(?:rules?|instructions?|restrictions?|guidelines?|polic(?:y|ies)|"
    r"guidance|requirements?)\b[^.\n]{0,20}?\b(?:no\ longer\ appl\w*|(?:do|does)\ not\ apply|"
    r"don't\ apply|doesn't\ apply|(?:is|are)\ (?:suspended|lifted|waived))"
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
    r"|\bignora\b.{0,40}\b(?:instrucciones|reglas|istruzioni|regole)"
    r"|\bignor[ea]\b.{0,40}\b(?:instruções|regras)"
    r"|\b(?:consignes|règles|instructions)\b[^.\n]{0,40}\bne\ s'appliquen?t?\ pas"
    r"|\b(?:anweisungen|regeln|vorgaben)\b[^.\n]{0,40}\bgelten\ (?:hier\ )?nicht"
    r"|\b(?:instrucciones|reglas)\b[^.\n]{0,40}\bno\ (?:se\ )?aplican"
    r"|\b(?:istruzioni|regole)\b[^.\n]{0,40}\bnon\ (?:si\ )?applicano"
    r"|(?:指示|ルール|命令|制約)[^。\n]{0,15}無視|無視[^。\n]{0,10}(?:指示|ルール|命令)"
)

_LANGUAGES = {
    # English names, and the names a layer written in German, French or Spanish uses.
    "english": "english", "englisch": "english", "anglais": "english", "inglés": "english",
    "ingles": "english",
    "french": "french", "français": "french", "francais": "french", "französisch": "french",
    "francés": "french", "frances": "french",
    "german": "german", "deutsch": "german", "allemand": "german", "alemán": "german",
    "aleman": "german",
    "spanish": "spanish", "español": "spanish", "espanol": "spanish", "spanisch": "spanish",
    "espagnol": "spanish", "castellano": "spanish",
    "italian": "italian", "italiano": "italian", "italienisch": "italian", "italien": "italian",
    "portuguese": "portuguese", "português": "portuguese", "dutch": "dutch",
    "nederlands": "dutch", "niederländisch": "dutch", "néerlandais": "dutch",
    "japanese": "japanese", "日本語": "japanese", "japanisch": "japanese", "japonais": "japanese",
    "chinese": "chinese", "mandarin": "chinese", "korean": "korean", "russian": "russian",
    "arabic": "arabic", "hindi": "hindi", "polish": "polish", "swedish": "swedish",
    "turkish": "turkish", "greek": "greek", "danish": "danish", "norwegian": "norwegian",
    "finnish": "finnish", "czech": "czech", "hebrew": "hebrew", "vietnamese": "vietnamese",
    "thai": "thai", "indonesian": "indonesian",
}  # fmt: skip
_LANGUAGE_WORD = "|".join(sorted(map(re.escape, _LANGUAGES), key=len, reverse=True))
_ANSWER_VERB = (
    r"(?:answer|respond|reply|write|speak|communicate|talk|output|converse|produce|"
    r"répond|réponds|écri|parle|antwort|schreib|sprich|beantwort|contest|escrib|habl)"
)
_LANGUAGE_RULE = re.compile(
    rf"(?i)\b{_ANSWER_VERB}\w*\b[^.\n]{{0,40}}?\b(?:in|en|auf)\s+(?:the\s+)?"
    rf"({_LANGUAGE_WORD})\b"
    rf"|\b({_LANGUAGE_WORD})\s+only\b|\bonly\s+(?:in\s+)?({_LANGUAGE_WORD})\b"
)
_USER_LANGUAGE = re.compile(
    r"(?i)\b(?:in|use)\s+(?:the\s+)?(?:same\s+language\s+as\s+the\s+(?:user|customer)|"
    r"(?:user|customer)'s\s+(?:own\s+)?language|language\s+(?:of\s+the\s+(?:user|customer)|"
    r"the\s+(?:user|customer)\s+(?:writes|uses|speaks)))"
    r"|\b(?:whatever|any)\s+language\b"
)
_NEGATION = re.compile(
    r"(?i)\b(?:never|not|no|don't|do\s+not|doesn't|cannot|can't|won't|must\s+not|mustn't|"
    r"avoid|refrain|refuse|decline|without|nor|neither|instead\s+of|rather\s+than|unable|"
    r"under\s+no\s+circumstances|forbidden|prohibited|skip|omit|leave\s+out|"
    r"only\s+(?:when|if|after|once)|until)\b"
)
_PROHIBITION = re.compile(
    r"(?i)\b(?:never|do\s+not|don't|must\s+not|mustn't|must\s+never|may\s+not|should\s+not|"
    r"shouldn't|under\s+no\s+circumstances|are\s+not\s+allowed\s+to|is\s+forbidden\s+to|"
    r"refuse\s+to)\b\s*(.*)"
)
# A sentence that only describes (who the assistant is, what the product does) requires
# nothing; any other sentence of a locked layer is a rule it fixes.
_DESCRIPTION = re.compile(
    r"(?i)^\s*(?:you\s+are|you're|this\s+(?:assistant|bot|service|tool)|the\s+\w+\s+(?:is|are)|"
    r"our\s+|we\s+|it\s+is|there\s+(?:is|are))"
)
# Words are cut to this many letters: diagnose, diagnoses and diagnosis meet.
_STEM = 5
# Who a rule is about is not what it is about (stems, as _stems makes them).
_PEOPLE = frozenset(
    "custo passe patie anyon someo clien stude child membe buyer emplo trave guest "
    "visit appli human user peopl perso".split()
)
_THAT = re.compile(r"(?i)\b(?:that|whether)\b")
_PREPOSITION = re.compile(
    r"(?i)\b(?:to|for|in|on|at|with|without|about|beyond|unless|until|before|after|from|"
    r"by|of|under|during|instead)\b"
)
# Words that mean the same action here (as the stems _stems makes): each is counted as
# its group's first member.
_SAME_ACTION = (
    ("discl", "revea", "share", "expos", "leak", "divul", "give", "tell", "show", "provi",
     "state"),
    ("recom", "sugge", "advis", "advic", "presc"),
    ("offer", "grant", "promi"),
    ("claim", "prete", "pose"),
    ("human", "perso", "peopl", "real"),
    ("send", "refer", "direc", "redir"),
)
_CANONICAL = {word: group[0] for group in _SAME_ACTION for word in group}
# Endings of words that qualify a thing rather than name it (legal advice, medical
# diagnoses, call immediately): a rule is about the thing.
_MODIFIER = re.compile(r"(?:ly|al|ive|ous|ful|ic|ical|able|ible|less)$")
_STOPWORDS = frozenset(
    "a an the and or of to in on for with at by from as is are be been being it its this that "
    "these those you your yours user users their them they he she his her we our us any all "
    "every each some such only also just very more most other than then so if when where "
    "which who whom what how why about into over under up out do does did can could would "
    "should will shall may might must never not no dont don't always ever please one "
    "there here per via own same like even still once first has have had was were been "
    "get gets got make makes let lets say says another".split()
)  # fmt: skip
# Sentences end at . ! ? ; or a blank line or a list item; a wrapped line does not end one.
_SENTENCE = re.compile(r"(?:[^.!?;\n]|\n(?!\s*\n|\s*(?:[-*•]|\d+[.)])\s))+")
# "If the user ..., " or "When ..., ": the condition of a rule, not what it requires.
_ONLY = re.compile(r"(?i)\bonly\b")
_REASON = re.compile(r"[:;(\u2014\u2013]|\s-\s|(?i:\b(?:because|since|as\s+they|so\s+that)\b)")
# Quoted text is what to say, not an instruction: its words do not negate or ask.
_QUOTED = re.compile(
    r'"[^"\n]*"|\u201c[^\u201d\n]*\u201d|\u00ab[^\u00bb\n]*\u00bb|\u300c[^\u300d\n]*\u300d'
)
_CLAUSE = re.compile(r"[,:()\u2014\u2013]| - ")
_CONDITION = re.compile(r"(?i)^\s*(?:if|when|whenever|where|unless|in\s+case|for)\b[^,]*,")
# How far a "not" reaches: four content words, and not past a conjunction.
_NEGATION_REACH = 4
_SCOPE_END = re.compile(r"(?i),\s*(?:and|or)\b|\b(?:but|that|which|so|because|while|then)\b")
# "Do not X and never Y": two rules in one sentence.
_SECOND_RULE = re.compile(r"(?i)(?:,|\band\b|\bor\b)\s+(?=(?:do\s+not|don't|never|not)\b)")
# A word in this many sentences of the text is its topic, not something it asks for.
_TOPICAL = 3
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class Rule:
    action: str  # the stem of what it is about doing (its first content word)
    things: frozenset[str]  # the stems of the things it is about (not qualifiers, not people)
    # What the action acts on directly: the first list of things after it (none when
    # what follows is a "that" clause, whose first noun is only its subject).
    heads: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LockedRules:
    """What a locked layer fixes, read once from its text."""

    language: str | None  # "english", or None when it fixes no language
    prohibitions: tuple[Rule, ...]
    obligations: tuple[Rule, ...]

    @classmethod
    def of(cls, text: str) -> LockedRules:
        language = None
        prohibitions: list[Rule] = []
        obligations: list[Rule] = []
        for sentence in _SENTENCE.findall(_plain(text)):
            found = _language_of(sentence)
            if found is not None and not _NEGATION.search(sentence):
                language = language or found
            forbidden = _PROHIBITION.search(sentence)
            if forbidden is not None:
                for part in _SECOND_RULE.split(sentence[forbidden.start() :]):
                    match = _PROHIBITION.search(part)
                    rule = _rule(match.group(1)) if match is not None else None
                    if rule is not None:
                        prohibitions.append(rule)
            elif not _DESCRIPTION.match(sentence):
                required = _CONDITION.sub("", sentence)
                # "Give no advice" forbids; "answer only from the feed" narrows: neither
                # requires an act that later text could forbid.
                if _NEGATION.search(required) or _ONLY.search(required):
                    continue
                rule = _rule(required)
                if rule is not None:
                    obligations.append(rule)
        return cls(language, tuple(prohibitions), tuple(obligations))


def locked_findings(text: str, path: str, locked: LockedRules | None) -> Iterator[Finding]:
    text = _plain(text)
    override = _OVERRIDE.search(text)
    if override is not None:
        yield _finding(
            text, path, override.start(), "it asks the model to set aside earlier instructions"
        )
        return
    if locked is None:
        return
    sentences = list(_SENTENCE.finditer(text))
    counts: dict[str, int] = {}
    for match in sentences:
        for stem in _stems(match.group(0)):
            counts[stem] = counts.get(stem, 0) + 1
    topics = frozenset(s for s, n in counts.items() if n >= _TOPICAL)
    for match in sentences:
        problem = _contradiction(_CONDITION.sub("", match.group(0)), locked, topics)
        if problem is not None:
            yield _finding(text, path, match.start(), problem)
            return


def _contradiction(sentence: str, locked: LockedRules, topics: frozenset[str]) -> str | None:
    for clause in _CLAUSE.split(_QUOTED.sub(" ", sentence)):
        negated = _NEGATION.search(clause) is not None
        if locked.language is not None and not negated:
            other = _language_of(clause)
            if other is not None and other != locked.language:
                return (
                    f"it asks for answers in {other.title()}, and the locked layer fixes "
                    f"{locked.language.title()}"
                )
            if _USER_LANGUAGE.search(clause):
                return (
                    f"it asks for the user's language, and the locked layer fixes "
                    f"{locked.language.title()}"
                )
        if negated:
            near = _negated_stems(clause)
            for rule in locked.obligations:
                things = near & rule.things
                if (things and rule.action in near) or len(things) >= 2 or (
                    things and len(things) * 2 >= len(rule.things)
                ):
                    return "it forbids what the locked layer requires"
        else:
            stems = set(_stems(clause))
            order = _stems(clause)
            for rule in locked.prohibitions:
                things = (stems & rule.things) - topics
                acted = rule.action in stems and (
                    len(things) >= 2
                    or any(s in rule.heads for s in order[order.index(rule.action) + 1 :])
                )
                if acted or len(stems & rule.things) >= 3:
                    return "it asks for what the locked layer forbids"
    return None


def _negated_stems(clause: str) -> set[str]:
    """The stems of the few words after a negation: what the clause says not to do."""
    out: set[str] = set()
    for match in _NEGATION.finditer(clause):
        scope = _SCOPE_END.split(clause[match.end() :], maxsplit=1)[0]
        out.update(s for s, _ in _words(scope)[:_NEGATION_REACH])
    return out


def _rule(text: str) -> Rule | None:
    # What a rule is about ends where its reason or example begins ("Do not promise
    # bans: decisions are made by the team").
    text = _REASON.split(text, maxsplit=1)[0]
    words = _words(text)
    if len(words) < 2:
        return None
    action = words[0][0]
    things = frozenset(_things(words[1:], action))
    if not things:
        return None
    heads: frozenset[str] = frozenset()
    if not _THAT.search(text):
        for segment in _PREPOSITION.split(text)[1 if _PREPOSITION.match(text) else 0 :]:
            found = _things(_words(segment), action)
            if found:
                heads = frozenset(found)
                break
    return Rule(action, things, heads)


def _things(words: list[tuple[str, str]], action: str) -> list[str]:
    return [s for s, w in words if not _MODIFIER.search(w) and s != action and s not in _PEOPLE]


def _language_of(sentence: str) -> str | None:
    match = _LANGUAGE_RULE.search(sentence)
    if match is None:
        return None
    word = next(g for g in match.groups() if g is not None)
    return _LANGUAGES[word.lower()]


def _stems(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for s, _ in _words(text)))


def _words(text: str) -> list[tuple[str, str]]:
    """(stem, word) of each content word: cut to a common prefix so that diagnose,
    diagnoses and diagnosis meet, and words for one action made one (a crude stemmer,
    but the same one on both sides)."""
    out: list[tuple[str, str]] = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or len(word) < 3:
            continue
        stem = word[:_STEM] if len(word) > _STEM else word.rstrip("s")
        out.append((_CANONICAL.get(stem, stem), word))
    return out


def _plain(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _finding(text: str, path: str, at: int, why: str) -> Finding:
    return Finding(
        "locked-layer-override",
        "error",
        f"this text would override a locked layer: {why}",
        path,
        text.count("\n", 0, at) + 1,
    )
