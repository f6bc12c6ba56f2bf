"""The window scorer's running totals give the same best window as scoring each window by hand."""

from __future__ import annotations

import math
import random
from itertools import pairwise

from sluicegate.detectors.classifiers.features import words
from sluicegate.detectors.classifiers.linear import WindowModel

VOCAB = [f"w{i}" for i in range(30)]


def _spec(rng: random.Random) -> dict[str, object]:
    return {
        "bias": 0.1,
        "unigrams": {v: rng.uniform(-1, 1) for v in VOCAB},
        "bigrams": {
            f"{a} {b}": rng.uniform(-1, 1) for a in VOCAB for b in VOCAB if rng.random() < 0.2
        },
    }


def _by_hand(spec: dict[str, dict[str, float]], tokens: list[str]) -> float:
    total = sum(spec["unigrams"].get(t, 0.0) for t in tokens)
    total += sum(spec["bigrams"].get(f"{a} {b}", 0.0) for a, b in pairwise(tokens))
    return total / math.sqrt(len(tokens))


def test_best_window_matches_scoring_every_window_by_hand() -> None:
    rng = random.Random(0)
    spec = _spec(rng)
    for _ in range(300):
        window, stride = rng.choice([4, 8, 16]), rng.choice([1, 2, 3, 5])
        model = WindowModel(spec, window, stride)
        tokens = [rng.choice(VOCAB) for _ in range(rng.randint(1, 80))]
        best = model.best(words(" ".join(tokens)))
        assert best is not None
        n = len(tokens)
        if n <= window:
            expected = _by_hand(spec, tokens)  # type: ignore[arg-type]
        else:
            starts = list(range(0, n - window + 1, stride))
            if starts[-1] != n - window:
                starts.append(n - window)
            expected = max(_by_hand(spec, tokens[j : j + window]) for j in starts)  # type: ignore[arg-type]
            assert best.first in starts
        assert math.isclose(best.logit, 0.1 + expected, abs_tol=1e-9)


def test_no_words_no_window() -> None:
    model = WindowModel({"bias": 0.0, "unigrams": {}, "bigrams": {}}, 8, 1)
    assert model.best(words(" ... !!! ")) is None
