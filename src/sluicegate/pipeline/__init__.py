"""The request pipeline: a chain of small stages with one interface."""

from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.stage import Events, Next, Pipeline, Stage

__all__ = ["Events", "Next", "Pipeline", "RequestContext", "Stage"]
