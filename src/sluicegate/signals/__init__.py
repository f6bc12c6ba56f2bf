"""Per-request behaviour signals: what an answer says about the model's behaviour
(a refusal, how it ended, which model served it), recorded with the ledger
record so that model cards and drift tests read the same figures on every replica."""

from sluicegate.signals.refusal import is_refusal

__all__ = ["is_refusal"]
