"""Feedback on answers (``POST /v1/feedback``): tied to the request that earned it,
so that ratings reach the model card, the drift tests, sessions and datasets."""

from sluicegate.feedback.handler import post_feedback

__all__ = ["post_feedback"]
