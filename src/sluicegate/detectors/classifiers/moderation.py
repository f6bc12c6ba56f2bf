"""Harmful-content scoring for request and response text, the local half of a cascade.

Two linear models over word unigrams and bigrams, scored over windows of words (linear.py):
one says harmful or not (its best window's probability is the verdict's score); the other names
the category, and runs only on that best window and only when the score is not plainly benign.

The gateway decides on the score in three bands, chosen on dev data at training time and shipped
in the model file: at or above ``flag_threshold`` the local model is confident and flags; below
``uncertain_from`` it passes; between the two is ``uncertain()``, where the gateway asks an LLM
judge instead.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sluicegate.detectors.classifiers.features import widen, words
from sluicegate.detectors.classifiers.linear import WindowModel, read_model_file, sigmoid
from sluicegate.detectors.classifiers.verdict import Verdict

MODEL_FILE = Path(__file__).with_name("data") / "moderation.json.gz"

CATEGORIES = ("violence", "self_harm", "sexual", "hate", "harassment", "illicit")


class ModerationClassifier:
    __slots__ = ("_categories", "_harmful", "flag_threshold", "uncertain_from", "version")

    def __init__(
        self,
        harmful: WindowModel,
        categories: dict[str, WindowModel],
        flag_threshold: float,
        uncertain_from: float,
        version: str,
    ) -> None:
        self._harmful = harmful
        self._categories = categories
        self.flag_threshold = flag_threshold
        self.uncertain_from = uncertain_from
        self.version = version

    @classmethod
    def load(cls) -> ModerationClassifier:
        """The shipped model, read once per process."""
        return _load_shipped()

    @classmethod
    def from_file(cls, path: Path) -> ModerationClassifier:
        payload = read_model_file(path)
        harmful = WindowModel(payload["harmful"])
        categories = {name: WindowModel(spec) for name, spec in payload["categories"].items()}
        return cls(
            harmful,
            categories,
            float(payload["flag_threshold"]),
            float(payload["uncertain_from"]),
            str(payload["sha256"]),
        )

    def score(self, text: str) -> Verdict:
        scanned = words(text)
        best = self._harmful.best(scanned)
        if best is None:
            return Verdict(flagged=False, score=0.0, span=None)
        score = sigmoid(best.logit)
        category = None
        if score >= self.uncertain_from and self._categories:
            window = scanned.tokens[best.first : best.end]
            category = max(self._categories, key=lambda name: self._categories[name].logit(window))
        span = widen(text, *scanned.char_span(best.first, best.end))
        flagged = score >= self.flag_threshold
        return Verdict(flagged=flagged, score=score, span=span, category=category)

    def uncertain(self, verdict: Verdict) -> bool:
        """Not confident either way: the band an LLM judge should decide."""
        return self.uncertain_from <= verdict.score < self.flag_threshold


@cache
def _load_shipped() -> ModerationClassifier:
    return ModerationClassifier.from_file(MODEL_FILE)
