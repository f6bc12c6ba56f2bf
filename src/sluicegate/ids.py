"""Unique ids for requests and ledger records, without a system call per request."""

from __future__ import annotations

import itertools
import os


class IdGenerator:
    """A random prefix chosen per process, then a counter.

    Unique across processes and restarts (the prefix is 64 random bits) and
    within one (the counter); create it after forking so that workers differ.
    """

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._next = itertools.count(1).__next__

    def __call__(self) -> str:
        return f"{self._prefix}{self._next():x}"


# What a request id the gateway makes starts with: the rest is the ledger row's id,
# so that the record is found by its key from it.
GENERATED_REQUEST_ID_PREFIX = "req_"
