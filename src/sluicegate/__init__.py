"""Sluicegate: a self-hosted LLM gateway."""
