"""The request pipeline: a chain of small stages with one interface."""

from sluicegate.pipeline.outcome import Attempt, Outcome, StateKey
from sluicegate.pipeline.request import CanonicalRequest, Operation, Request
from sluicegate.pipeline.stage import Events, Next, Pipeline, Stage

__all__ = [
    "Attempt",
    "CanonicalRequest",
    "Events",
    "Next",
    "Operation",
    "Outcome",
    "Pipeline",
    "Request",
    "Stage",
    "StateKey",
]
