"""Operational model cards: per alias, what its requests did over a window beside its
baseline (figures from the ledger, the same on every replica), and the drift tests."""

from sluicegate.cards.card import model_card
from sluicegate.cards.markdown import card_markdown

__all__ = ["card_markdown", "model_card"]
