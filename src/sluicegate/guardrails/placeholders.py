"""PII redaction that restores: placeholders upstream, the originals back in the answer.

Each request gets its own table: the first e-mail address found becomes
``[EMAIL_1]``, the next different one ``[EMAIL_2]``, and the same address
again is ``[EMAIL_1]`` again, so the model can still tell people apart and
refer back to them. The table lives only with the request (never in the
ledger, the logs or a cache: a cached answer holds placeholders, and each
request that gets it restores its own values).

Models echo placeholders, repeat them, and sometimes change their case
(``[email_1]``); all of those are restored. A placeholder the table does not
know (one the model made up, or mangled past recognition) is left as it is.
In tool-call arguments the original is written JSON-escaped, since it lands
inside a JSON string there.

A stream delivers text in pieces, so a placeholder can arrive split
(``[EMA`` then ``IL_1]``): :class:`StreamRestorer` holds back a tail that
could still become a placeholder and releases it with the next piece.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import orjson

_TAGS = {
    "email": "EMAIL", "phone": "PHONE", "credit_card": "CREDIT_CARD", "iban": "IBAN",
    "ssn": "SSN", "ip_address": "IP_ADDRESS", "person": "PERSON", "location": "LOCATION",
}  # fmt: skip
_PLACEHOLDER = re.compile(r"\[([A-Za-z_]{2,11})_(\d{1,5})\]")
# The longest placeholder: "[IP_ADDRESS_99999]", and so the most a stream holds back.
LONGEST = 2 + max(len(t) for t in _TAGS.values()) + 6
# A tail that may still grow into a placeholder: "[", "[EMA", "[EMAIL_", "[EMAIL_1".
_PARTIAL = re.compile(r"\[[A-Za-z_]{0,11}(?:_\d{0,5})?$")


class Redaction:
    """One request's placeholders."""

    __slots__ = ("_counts", "_originals", "_placeholders")

    def __init__(self) -> None:
        self._placeholders: dict[tuple[str, str], str] = {}  # (entity, value) -> placeholder
        self._originals: dict[str, str] = {}  # PLACEHOLDER (upper case) -> value
        self._counts: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self._originals)

    def redact(self, text: str, spans: Iterable[tuple[int, int, str]]) -> str:
        """``text`` with each ``(start, end, entity)`` span replaced by its placeholder.
        Spans may come in any order and overlap (two PII guardrails may both hit):
        of those that overlap, the first in order is kept."""
        out: list[str] = []
        at = 0
        for start, end, entity in sorted(spans):
            if start < at:
                continue  # overlaps the span just replaced
            out.append(text[at:start])
            out.append(self._placeholder(entity, text[start:end]))
            at = end
        out.append(text[at:])
        return "".join(out)

    def _placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        found = self._placeholders.get(key)
        if found is None:
            tag = _TAGS.get(entity, entity.upper())
            n = self._counts.get(tag, 0) + 1
            self._counts[tag] = n
            found = self._placeholders[key] = f"[{tag}_{n}]"
            self._originals[found] = value
        return found

    def restore(self, text: str, *, json_string: bool = False) -> str:
        """``text`` with every known placeholder replaced by its original value;
        ``json_string``: the text is JSON (tool-call arguments), write it escaped."""
        if "[" not in text:
            return text
        originals = self._originals

        def original(match: re.Match[str]) -> str:
            value = originals.get(match.group(0).upper())
            if value is None:
                return match.group(0)
            return orjson.dumps(value).decode()[1:-1] if json_string else value

        return _PLACEHOLDER.sub(original, text)

    def restorer(self, *, json_string: bool = False) -> StreamRestorer:
        return StreamRestorer(self, json_string=json_string)


class StreamRestorer:
    """Restores placeholders in text that arrives in pieces."""

    __slots__ = ("_held", "_json", "_redaction")

    def __init__(self, redaction: Redaction, *, json_string: bool = False) -> None:
        self._redaction = redaction
        self._json = json_string
        self._held = ""

    def feed(self, piece: str) -> str:
        """What can be released of the text so far; a possible placeholder's start waits."""
        text = self._held + piece
        partial = _PARTIAL.search(text, max(0, len(text) - LONGEST))
        if partial is None:
            self._held = ""
        else:
            self._held = text[partial.start():]
            text = text[:partial.start()]
        return self._redaction.restore(text, json_string=self._json)

    def flush(self) -> str:
        """The end of the text: whatever was held back, as it is."""
        held, self._held = self._held, ""
        return self._redaction.restore(held, json_string=self._json)
