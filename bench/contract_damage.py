"""How models get structured output wrong: damage functions, and the one mix the bench draws.

    from contract_damage import draw, MIX
    answer = draw(case, attempt=0, seed=1)   # Answer(kind, text, finish_reason)

Each damage function takes the correct object, its schema and an rng and
returns ``(answer_text, finish_reason)`` as a model would produce it. Two
families:

- syntactic: the value is all there, only its writing is off (prose around
  the JSON, markdown code fences, trailing commas, single quotes, a Python
  ``repr``). A repair that is purely syntactic gets the exact object back.
- semantic: the value itself is wrong or absent (cut off at max_tokens, a
  number written as a string, a required field missing, a key the schema
  does not allow, a refusal). Nothing may be repaired here without changing
  or inventing a value; the right outcome is a re-ask.

``MIX`` is the documented mix, fixed before the gateway was measured and never
tuned to its result: 80% clean, 12% syntactic, 8% semantic. A re-ask draws
from the same mix independently: a re-asked model is assumed as likely to fail
as on its first try (the neutral assumption; real models usually do better
with the validator's errors in front of them). Every draw is deterministic in
(seed, case id, attempt).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from contract_corpus import Case

Damage = Callable[[Any, dict[str, Any], random.Random], tuple[str, str]]

# --------------------------------------------------------------------------- rendering


def render(value: Any, *, indent: int | None = None, quote: str = '"', ascii_only: bool = False,
           trailing: Callable[[], bool] = lambda: False, _depth: int = 0) -> str:
    """JSON text of ``value``, or the near-JSON a model writes: ``quote`` for strings (``'``
    gives JS-style single quotes), and a trailing comma after a container's last
    member wherever ``trailing()`` says so."""
    def again(v: Any) -> str:
        return render(v, indent=indent, quote=quote, ascii_only=ascii_only, trailing=trailing,
                      _depth=_depth + 1)

    if isinstance(value, str):
        return _quoted(value, quote, ascii_only)
    if not isinstance(value, dict | list):
        return json.dumps(value)
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    if not value:
        return opening + closing
    comma = "," if trailing() else ""  # asked before the members: outermost first
    if isinstance(value, dict):
        items = [f"{_quoted(k, quote, ascii_only)}: {again(v)}" for k, v in value.items()]
    else:
        items = [again(v) for v in value]
    if indent is None:
        return opening + ", ".join(items) + comma + closing
    inner = " " * (indent * (_depth + 1))
    outer = " " * (indent * _depth)
    return (opening + "\n" + inner + (",\n" + inner).join(items) + comma + "\n" + outer
            + closing)


def _quoted(text: str, quote: str, ascii_only: bool) -> str:
    out = [quote]
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + quote)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or (ascii_only and ord(ch) > 0x7E):
            out.append(json.dumps(ch)[1:-1])  # \u escapes, surrogate pairs included
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


def _plain(value: Any, rng: random.Random) -> str:
    """What a model writes when it gets the JSON right: compact or pretty, either escaping."""
    return render(value, indent=rng.choice([None, None, 2, 4]), ascii_only=rng.random() < 0.3)


# --------------------------------------------------------------------------- syntactic

PREFACES = [
    "Here is the extracted data:\n\n", "Sure! Here's the JSON you asked for:\n",
    "Based on the document, the result is: ", "Certainly.\n\n", "Output:\n",
    "I've extracted the fields below.\n\n",
]
CODAS = [
    "", "\n\nLet me know if you need anything else.",
    "\n\nNote: some values were inferred from context.", "\nI hope this helps!",
    "\n\nAll amounts are as stated in the source.",
]


def clean(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """Valid JSON, nothing else: ``json.dumps`` compact or pretty-printed."""
    return _plain(obj, rng), "stop"


def prose(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """The JSON with a sentence before it, and often one after."""
    return rng.choice(PREFACES) + _plain(obj, rng) + rng.choice(CODAS), "stop"


def fence(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """A markdown code block, ```json or bare ```, with prose around it about half the time."""
    body = render(obj, indent=rng.choice([None, 2, 2]), ascii_only=rng.random() < 0.3)
    block = f"```{rng.choice(['json', 'json', '', 'JSON'])}\n{body}\n```"
    if rng.random() < 0.5:
        return block, "stop"
    return rng.choice(PREFACES) + block + rng.choice(CODAS), "stop"


def trailing_comma(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """Trailing commas after the last member of some containers (the outermost always)."""
    chosen = [True]  # the first container rendered is the outermost

    def trailing() -> bool:
        if chosen:
            return chosen.pop()
        return rng.random() < 0.3
    return render(obj, indent=rng.choice([None, 2]), trailing=trailing), "stop"


def single_quotes(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """JS-style: every key and string in single quotes (inner ``'`` escaped as ``\\'``),
    JSON's true/false/null kept."""
    return render(obj, indent=rng.choice([None, 2]), quote="'"), "stop"


def python_literals(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """``repr`` of the dict: True/False/None, Python's choice of quotes per string."""
    return repr(obj), "stop"


# --------------------------------------------------------------------------- semantic


def truncation(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """Cut off at max_tokens: 30-95% of the text, ``finish_reason: length``."""
    text = render(obj, indent=rng.choice([None, 2]))
    cut = max(1, min(len(text) - 1, int(len(text) * rng.uniform(0.3, 0.95))))
    return text[:cut], "length"


def strings_for_numbers(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """One number written as a string (``"42"``), or all of them a third of the time."""
    paths = [p for p, v in _leaves(obj) if isinstance(v, int | float) and not isinstance(v, bool)]
    if not paths:
        raise ValueError("strings_for_numbers needs a numeric leaf")
    every = rng.random() < 1 / 3
    out = json.loads(json.dumps(obj))
    for path in paths if every else [rng.choice(paths)]:
        _set(out, path, json.dumps(_get(obj, path)))
    return _plain(out, rng), "stop"


def missing_required(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """One required property left out (at the top level or in a nested object)."""
    spots = [(path, key) for path, value, sub in _objects(obj, schema)
             for key in sub.get("required", []) if key in value]
    path, key = rng.choice(spots)
    out = json.loads(json.dumps(obj))
    del _get(out, path)[key]
    return _plain(out, rng), "stop"


EXTRA = [("confidence", 0.92), ("notes", "Extracted from the attached document."),
         ("explanation", "The total includes tax."), ("source", "email"), ("id", 1),
         ("_comment", "fields inferred"), ("reasoning", "The text says so."), ("extra", None)]


def extra_keys(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """A key the schema does not have (``additionalProperties: false`` forbids it), in the
    top-level object or a nested one."""
    path, _, sub = rng.choice(list(_objects(obj, schema)))
    key, value = rng.choice([e for e in EXTRA if e[0] not in sub.get("properties", {})])
    out = json.loads(json.dumps(obj))
    _get(out, path)[key] = value
    return _plain(out, rng), "stop"


REFUSALS = ["I'm sorry, I can't help with that.", "I'm sorry, I can't help with that.",
            "I'm sorry, but I can't assist with that request."]


def refusal(obj: Any, schema: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """No JSON at all: a refusal."""
    return rng.choice(REFUSALS), "stop"


# --------------------------------------------------------------------------- the mix

DAMAGES: dict[str, Damage] = {
    "clean": clean, "prose": prose, "fence": fence, "trailing_comma": trailing_comma,
    "single_quotes": single_quotes, "python_literals": python_literals,
    "truncation": truncation, "strings_for_numbers": strings_for_numbers,
    "missing_required": missing_required, "extra_keys": extra_keys, "refusal": refusal,
}
# Fixed before measuring; probabilities of a draw, summing to 1.
MIX: dict[str, float] = {
    "clean": 0.80,
    # syntactic, 12% in all
    "prose": 0.03, "fence": 0.03, "trailing_comma": 0.02, "single_quotes": 0.02,
    "python_literals": 0.02,
    # semantic, 8% in all
    "truncation": 0.02, "strings_for_numbers": 0.02, "missing_required": 0.015,
    "extra_keys": 0.015, "refusal": 0.01,
}
SYNTACTIC = ("prose", "fence", "trailing_comma", "single_quotes", "python_literals")
SEMANTIC = ("truncation", "strings_for_numbers", "missing_required", "extra_keys", "refusal")
DEFAULT_SEED = 1


@dataclass(frozen=True)
class Answer:
    kind: str
    text: str
    finish_reason: str


def draw(case: Case, attempt: int, seed: int = DEFAULT_SEED) -> Answer:
    """The answer to attempt ``attempt`` (0: the first) for ``case``: a kind from MIX, then it."""
    rng = random.Random(f"damage:{seed}:{case.id}:{attempt}")
    kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    text, finish = DAMAGES[kind](case.obj, case.schema, rng)
    return Answer(kind, text, finish)


def mix_lines() -> list[str]:
    """The mix as printed by the benchmark."""
    syn = sum(MIX[k] for k in SYNTACTIC)
    sem = sum(MIX[k] for k in SEMANTIC)
    return [f"damage mix (per attempt, re-asks drawn independently): clean {MIX['clean']:.0%}, "
            f"syntactic {syn:.0%}, semantic {sem:.0%}",
            "  syntactic: " + ", ".join(f"{k} {MIX[k]:.1%}" for k in SYNTACTIC),
            "  semantic:  " + ", ".join(f"{k} {MIX[k]:.1%}" for k in SEMANTIC)]


# --------------------------------------------------------------------------- paths

Path = tuple[str | int, ...]


def _leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _objects(value: Any, schema: dict[str, Any],
             path: Path = ()) -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """Every object in ``value`` with its path and its schema."""
    if isinstance(value, dict):
        yield path, value, schema
        for k, v in value.items():
            yield from _objects(v, schema["properties"][k], (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _objects(v, schema["items"], (*path, i))


def _get(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: Path, new: Any) -> None:
    _get(value, path[:-1])[path[-1]] = new
