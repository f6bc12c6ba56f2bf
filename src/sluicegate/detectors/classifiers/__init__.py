"""Local, cheap detectors for the injection and moderation guardrails (stdlib only at run time).

    verdict.py     Verdict (flagged, score, span, category) and Source
    features.py    text -> lowercase words (ASCII fast path; NFKC and invisible-char strip else)
    linear.py      a logistic regression over word unigrams+bigrams, scored over word windows
    injection.py   InjectionDetector: per-source thresholds (user, document, tool)
    moderation.py  ModerationClassifier: flag / uncertain (ask an LLM judge) / pass bands
    data/          the shipped weights, written by bench/train_guardrails.py (see data/README.md)

Both detectors load their weights once per process (``load()`` is cached) and never raise on any
``str``. Measured by bench/guardrail_injection.py and bench/guardrail_moderation.py.
"""

from sluicegate.detectors.classifiers.injection import InjectionDetector
from sluicegate.detectors.classifiers.linear import ModelFileError
from sluicegate.detectors.classifiers.moderation import CATEGORIES, ModerationClassifier
from sluicegate.detectors.classifiers.verdict import Source, Verdict

__all__ = [
    "CATEGORIES",
    "InjectionDetector",
    "ModelFileError",
    "ModerationClassifier",
    "Source",
    "Verdict",
]
