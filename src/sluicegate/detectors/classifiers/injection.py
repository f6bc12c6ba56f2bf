"""Prompt-injection detection for user turns, pasted documents and tool results.

Two linear models over word unigrams and bigrams (see linear.py), scored over windows of words
with overlap, and the text's score is its best window's:

- ``user``: trained on whole user prompts (attacks and benign requests); windows of 64 words,
  which a user turn rarely exceeds.
- ``document``: for documents and tool results; windows of about two dozen words, trained on such
  windows of benign prose and JSON with and without an instruction planted in them, so one planted
  sentence in a long page is judged with the few words around it, not diluted by the whole page.

A call runs one of them, chosen by source. The thresholds differ by source too (a benign page
naturally says "ignore", "system", "instructions"); they were chosen on dev data at training time
and ship in the model file with the weights.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sluicegate.detectors.classifiers.features import widen, words
from sluicegate.detectors.classifiers.linear import WindowModel, read_model_file, sigmoid
from sluicegate.detectors.classifiers.verdict import Source, Verdict

MODEL_FILE = Path(__file__).with_name("data") / "injection.json.gz"


class InjectionDetector:
    __slots__ = ("_by_source", "thresholds", "version")

    def __init__(
        self, models: dict[str, WindowModel], thresholds: dict[str, float], version: str
    ) -> None:
        # Every source the thresholds name, to its model; an unknown source reads as a user turn
        # (the strictest threshold) rather than raising.
        self._by_source = {s: models.get(s, models["user"]) for s in (*thresholds, "user")}
        self.thresholds = thresholds
        self.version = version

    @classmethod
    def load(cls) -> InjectionDetector:
        """The shipped model, read once per process."""
        return _load_shipped()

    @classmethod
    def from_file(cls, path: Path) -> InjectionDetector:
        payload = read_model_file(path)
        specs = payload["models"]
        built = {name: WindowModel(spec) for name, spec in specs.items()}
        models = {source: built[name] for source, name in payload["route"].items()}
        thresholds = {k: float(v) for k, v in payload["thresholds"].items()}
        return cls(models, thresholds, str(payload["sha256"]))

    def detect(self, text: str, source: Source) -> Verdict:
        if source not in self._by_source:
            source = "user"
        scanned = words(text)
        best = self._by_source[source].best(scanned)
        if best is None:
            return Verdict(flagged=False, score=0.0, span=None)
        score = sigmoid(best.logit)
        threshold = self.thresholds[source]
        span = widen(text, *scanned.char_span(best.first, best.end))
        return Verdict(flagged=score >= threshold, score=score, span=span)


@cache
def _load_shipped() -> InjectionDetector:
    return InjectionDetector.from_file(MODEL_FILE)
