"""Metrics (Prometheus) about every request the gateway serves."""
