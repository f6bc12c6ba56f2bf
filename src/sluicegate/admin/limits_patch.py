"""PATCH semantics of a tenant's limits: what is given changes, what is not stays.

``{"limits": {"rpm": 4}}`` must not clear a budget set before. Every field of
the patch that was present in the request body replaces the current value;
``null`` clears a limit (unlimited again). ``keys`` and ``models`` are merged
the same way, entry by entry (a key name, an alias) and field by field inside
an entry; an entry left with every field at its default is removed.

The patch is validated as a :class:`LimitsConfig` (so it has the same schema
as everywhere else); which fields it *gave* is pydantic's ``model_fields_set``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sluicegate.config import LimitsConfig, RateLimits

L = TypeVar("L", bound=RateLimits)

_ENTRIES = ("keys", "models")


def merge_limits(current: LimitsConfig, patch: LimitsConfig) -> LimitsConfig:
    """``current`` with the fields ``patch`` was given replaced (entries merged)."""
    merged: dict[str, Any] = {
        name: getattr(current, name) for name in type(current).model_fields
    }
    for name in patch.model_fields_set:
        if name in _ENTRIES:
            merged[name] = _merge_entries(getattr(current, name), getattr(patch, name))
        else:
            merged[name] = getattr(patch, name)
    return LimitsConfig.model_validate(merged)


def _merge_entries(current: dict[str, L], patch: dict[str, L]) -> dict[str, L]:
    entries = dict(current)
    for name, given in patch.items():
        entry = _merge_fields(entries.get(name), given)
        if entry.model_dump() == type(entry)().model_dump():
            entries.pop(name, None)  # nothing left to say about this key or alias
        else:
            entries[name] = entry
    return entries


def _merge_fields(current: L | None, patch: L) -> L:
    if current is None:
        return patch
    given = {name: getattr(patch, name) for name in patch.model_fields_set}
    return type(current).model_validate({**current.model_dump(), **given})
