"""The request pipeline: a chain of small stages with one interface."""

from sluicegate.pipeline.outcome import Attempt, Outcome, StateKey
from sluicegate.pipeline.request import CanonicalRequest, Operation, Request
from sluicegate.pipeline.stage import AccessLog, Events, Next, Pipeline, Stage
from sluicegate.pipeline.stream import Observer, Stream

__all__ = [
    "AccessLog",
    "Attempt",
    "CanonicalRequest",
    "Events",
    "Next",
    "Observer",
    "Operation",
    "Outcome",
    "Pipeline",
    "Request",
    "Stage",
    "StateKey",
    "Stream",
]
