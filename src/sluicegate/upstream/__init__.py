"""Calling the upstream deployments chosen by routing."""
