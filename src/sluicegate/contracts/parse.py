"""An answer's JSON: read as it is, or pulled out of prose and fences and read
by a more lenient grammar; never guessed.

Repair is syntactic only, and only where the result is certain:

- text that parses as JSON is taken as it is, even when it is not what the
  schema wants (a JSON string holding an object is a wrong answer, not a
  broken one: the validator and a re-ask deal with it);
- otherwise the JSON is looked for in the answer: the whole text, each fenced
  code block, each balanced ``{...}`` / ``[...]`` in prose;
- each candidate is read by JSON, then JSON5 (trailing commas, single quotes,
  comments, unquoted keys: a published grammar, so the value it denotes is
  certain), then as a Python literal (``True``, ``None``, ``repr`` of a dict);
  a value JSON cannot hold (NaN, a set, a non-string key) is no answer;
- an answer whose candidates read as more than one distinct value (an example
  and then the answer, two objects) is ambiguous and is not repaired;
- nothing is closed, completed or dropped: a cut answer stays cut, to be re-asked.

Published repair tools do the opposite (close brackets, drop what does not
parse, coerce) and so hand back valid JSON that is not what the model said.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from typing import Any, NamedTuple

import orjson
import pyjson5

from sluicegate.protocols.nesting import MAX_DEPTH, parsed_within_depth

# Repair reads the text several times; beyond this an answer is only read as JSON.
MAX_REPAIR_CHARS = 256_000
# Opening brackets tried as the start of a balanced span in one answer: each try
# is a scan of the rest of the text, so this bounds the work at a few passes.
MAX_SPAN_STARTS = 8

_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON|javascript|js|python)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_OPENERS = re.compile(r"[\[{]")
_CLOSERS = {"{": "}", "[": "]"}


class Parsed(NamedTuple):
    value: Any
    repaired: bool  # False: the answer was JSON as it stood


class Unreadable(NamedTuple):
    reason: str  # why no JSON could be read: for the re-ask and the error message


def read_json(text: str, *, repair: bool = True) -> Parsed | Unreadable:
    """The JSON value ``text`` holds."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        strict_error = str(exc)
    else:
        if not parsed_within_depth(value, text):
            return Unreadable(f"the answer nests deeper than {MAX_DEPTH} levels")
        return Parsed(value, False)
    if not text.strip():
        return Unreadable("the answer is empty")
    if not repair:
        return Unreadable(f"the answer is not JSON ({strict_error})")
    if len(text) > MAX_REPAIR_CHARS:
        return Unreadable(f"the answer is not JSON and too long to repair ({len(text)} characters)")
    values: list[Any] = []
    for candidate in _candidates(text):
        value = _lenient(candidate)
        if value is not _NOTHING and not any(_same(value, v) for v in values):
            values.append(value)
    if len(values) == 1:
        return Parsed(values[0], True)
    if values:
        return Unreadable("the answer holds more than one JSON value")
    return Unreadable(f"the answer is not JSON ({strict_error})")


_NOTHING: Any = object()


def _candidates(text: str) -> list[str]:
    found = [text.strip()]
    found.extend(m.group(1).strip() for m in _FENCE.finditer(text))
    found.extend(_balanced_spans(text))
    return found


def _balanced_spans(text: str) -> list[str]:
    """Each outermost ``{...}`` or ``[...]``, quotes respected, left to right."""
    spans: list[str] = []
    pos = 0
    for _ in range(MAX_SPAN_STARTS):
        match = _OPENERS.search(text, pos)
        if match is None:
            break
        start = match.start()
        end = _span_end(text, start)
        if end is None:
            pos = start + 1
            continue
        spans.append(text[start:end])
        pos = end
    return spans


def _span_end(text: str, start: int) -> int | None:
    stack = [_CLOSERS[text[start]]]
    quote = ""
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch == '"' or ch == "'":
            quote = ch
        elif ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch == "}" or ch == "]":
            if ch != stack.pop():
                return None
            if not stack:
                return i + 1
        i += 1
    return None


def _lenient(candidate: str) -> Any:
    if not candidate:
        return _NOTHING
    for reader in (orjson.loads, pyjson5.loads, _python_literal):
        try:
            value = reader(candidate)
        except Exception:  # each reader raises its own kinds; any is "not this grammar"
            continue
        # Bounded depth first: _is_json and the encoders recurse.
        ok = parsed_within_depth(value, candidate) and _is_json(value)
        return value if ok else _NOTHING
    return _NOTHING


def _python_literal(candidate: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences in the model's strings
        value = ast.literal_eval(candidate)
    return _tuples_as_lists(value)


def _tuples_as_lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_tuples_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _tuples_as_lists(v) for k, v in value.items()}
    return value


def _is_json(value: Any) -> bool:
    """Only what JSON can hold: a NaN, a set or an int key would change on the way out."""
    if value is None or isinstance(value, bool | str | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python; JSON tells them apart.
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
