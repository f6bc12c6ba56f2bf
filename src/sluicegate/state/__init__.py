"""Durable and shared state behind small interfaces: tenants and keys, the usage ledger."""
