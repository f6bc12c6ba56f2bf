"""Whether an answer is a refusal.

The provider's own signal comes first: Anthropic's ``stop_reason: refusal`` and
the content filters of OpenAI, Azure and Gemini all arrive as a
``content_filter`` finish. OpenAI's ``refusal`` field arrives as the answer's
text, and models refuse in plain text more often than through any signal, so
the answer's opening is also matched against the shapes refusals take ("I'm
sorry, but I can't help with that"). Only the opening: an answer that quotes a
refusal, or apologises before helping, says so later or differently, and a
refusal is always its first sentence.
"""

from __future__ import annotations

import re

# An apology or nothing, then a first-person statement of inability or unwillingness.
_REFUSAL = re.compile(
    r"""^\W{0,3}
    (?:(?:i'?m|i\ am)\ (?:very\ |so\ |really\ )?sorry[,.!]?\s*(?:but\s*)?|sorry[,.!]?\s*(?:but\s*)?
       |unfortunately[,]?\s*|as\ an?\ (?:ai|language\ model)[^.,]{0,40}[,]?\s*)?
    (?:i|we)\s*
    (?:can(?:no|')t|cannot|can\ not|won'?t|will\ not
       |am\ (?:not\ able|unable)|'m\ (?:not\ able|unable)
       |am\ not\ going|'m\ not\ going|must\ (?:decline|refuse)|have\ to\ decline|do\ not\ feel
       |don'?t\ feel|(?:would|'d)\ rather\ not|'m\ not\ comfortable|am\ not\ comfortable)
    \b""",
    re.IGNORECASE | re.VERBOSE,
)
# Typographic apostrophes are as common as straight ones in model output.
_CURLY = "\u2019"
# A refusal's first word (after an opening quote or bracket): anything else is not one,
# which spares the pattern nearly every answer.
_OPENINGS = ("i", "sorry", "unfortunately", "as ", "we")
_LEAD = " \t\n\"'*(["
# The most of an answer's opening the pattern reads.
_HEAD = 120


def is_refusal(finish_reason: str | None, answer_head: str) -> bool:
    """``answer_head``: the answer's first characters (a hundred or so suffice)."""
    if finish_reason == "content_filter":
        return True
    if not answer_head[:16].lstrip(_LEAD).lower().startswith(_OPENINGS):
        return False
    head = answer_head[:_HEAD].lstrip(_LEAD).lower()
    if _CURLY in head:
        head = head.replace(_CURLY, "'")
    return _REFUSAL.match(head) is not None
