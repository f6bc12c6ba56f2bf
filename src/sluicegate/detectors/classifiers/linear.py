"""A logistic-regression model over word unigrams and bigrams, scored over sliding windows.

The weights come from a shipped gzip JSON file written by bench/train_guardrails.py (scikit-learn
at training time only; here it is two dicts). A window's logit is the bias plus the sum of the
weights of the words and word pairs in it, divided by the square root of its word count (the
model was trained on counts scaled that way, so this is exactly its features' dot product; the
scaling keeps a long window from adding up many weak words into a strong score). Sums over every
window come from two running totals, so overlapping windows cost nothing extra: the work per text
is one dict lookup per word and one per pair, all inside ``map`` (C speed), plus a few Python
steps per window start.

Windows keep one planted sentence in a long document from being outweighed by the benign text
around it: the text's score is its best window's.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from dataclasses import dataclass
from itertools import accumulate, pairwise, repeat
from operator import add as _add
from operator import sub as _sub
from pathlib import Path
from typing import Any

from sluicegate.detectors.classifiers.features import Words

FORMAT = "sluicegate-linear-window/1"


class ModelFileError(ValueError):
    """The shipped weights file is missing, of another format, or not what its hash says."""


def content_hash(payload: dict[str, Any]) -> str:
    """The hash a model file records of its own content (everything but the hash itself)."""
    body = {k: v for k, v in payload.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_model_file(path: Path) -> dict[str, Any]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            payload: dict[str, Any] = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    if payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: format {payload.get('format')!r}, expected {FORMAT!r}")
    if payload.get("sha256") != content_hash(payload):
        raise ModelFileError(f"{path}: content does not match its recorded sha256")
    return payload


def sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    z = math.exp(logit)
    return z / (1.0 + z)


@dataclass(frozen=True, slots=True)
class WindowScore:
    logit: float
    first: int  # index of the window's first word
    end: int  # one past its last word


class WindowModel:
    """One linear scorer: ``bias + (Σ unigram + Σ bigram weights) / √words`` over a word window."""

    __slots__ = ("_bigram", "_unigram", "bias", "stride", "window")

    def __init__(
        self, spec: dict[str, Any], window: int | None = None, stride: int | None = None
    ) -> None:
        self.bias = float(spec["bias"])
        self._unigram: dict[str, float] = {k: float(v) for k, v in spec["unigrams"].items()}
        # Tuple keys: pairwise() builds the pairs in C and a tuple hashes from its strings'
        # cached hashes, about twice as fast as joining each pair into a new string.
        self._bigram: dict[tuple[str, str], float] = {}
        for key, weight in spec["bigrams"].items():
            first, _, second = key.partition(" ")
            self._bigram[(first, second)] = float(weight)
        self.window = int(spec["window"] if window is None else window)
        self.stride = int(spec["stride"] if stride is None else stride)

    def best(self, words: Words) -> WindowScore | None:
        tokens = words.tokens
        n = len(tokens)
        if n == 0:
            return None
        uni = [0.0, *accumulate(map(self._unigram.get, tokens, repeat(0.0)))]
        bi = [0.0, 0.0, *accumulate(map(self._bigram.get, pairwise(tokens), repeat(0.0)))]
        # bi[i] sums the pairs ending before word i; a window [j, j+w) holds pairs j..j+w-2.
        w = self.window
        if n <= w:
            return WindowScore(self.bias + (uni[n] + bi[n]) / math.sqrt(n), 0, n)
        # Window sums for starts 0, stride, 2*stride, ... (and the last full window), computed
        # with slices and map (C speed), not a Python loop over starts.
        last = n - w
        ends = slice(w, n + 1, self.stride)
        sums = list(map(_add, map(_sub, uni[ends], uni[0 : last + 1 : self.stride]),
                        map(_sub, bi[ends], bi[1 : last + 2 : self.stride])))
        best_logit = max(sums)
        best_first = sums.index(best_logit) * self.stride
        if last % self.stride:  # the tail is always covered by a full window
            tail = uni[n] - uni[last] + bi[n] - bi[last + 1]
            if tail > best_logit:
                best_logit, best_first = tail, last
        # Every full window has w words, so the best raw sum is the best scaled one.
        return WindowScore(self.bias + best_logit / math.sqrt(w), best_first, best_first + w)

    def logit(self, tokens: list[str]) -> float:
        """The whole word list as one window (for scoring a chosen window with another model)."""
        if not tokens:
            return self.bias
        total = sum(map(self._unigram.get, tokens, repeat(0.0)))
        total += sum(map(self._bigram.get, pairwise(tokens), repeat(0.0)))
        return self.bias + total / math.sqrt(len(tokens))
