"""The workers of one ``sluicegate serve --workers N``, acting as one gateway.

A supervisor process forks the workers, which share the listening socket, and
joins each of them by two socket pairs: the limiter channel (without Redis,
every admission is answered by the supervisor's one in-process limiter:
``sluicegate.group.limiter``) and the control channel (readiness,
``/metrics`` for the whole group, reloads that reach every worker). See
``supervisor`` for the process side and ``member`` for the worker side.
"""
