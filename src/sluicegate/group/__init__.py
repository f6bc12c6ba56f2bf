"""The workers of one ``sluicegate serve --workers N``, acting as one gateway.

A supervisor process forks the workers, which share the listening socket, and
joins each of them by socket pairs: without Redis, the limiter channel (every
admission is answered by the supervisor's one in-process limiter:
``sluicegate.group.limiter``) and the idempotency channel (the one
``Idempotency-Key`` store: ``sluicegate.group.idempotency``); always, the
control channel (readiness, ``/metrics`` for the whole group, reloads and
cache invalidations that reach every worker, alerts raised once). See
``supervisor`` for the process side and ``member`` for the worker side.
"""
