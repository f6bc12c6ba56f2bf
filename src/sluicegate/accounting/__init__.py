"""Settling a request: actual tokens, cost, the ledger record and metrics."""
