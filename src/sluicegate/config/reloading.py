"""Which settings a reload applies, and which wait for the next restart.

Most of the configuration is read per request from the running snapshot
(providers, models, tenants, limits, breakers, cache modes, the admin key), so
``SIGHUP`` or ``POST /admin/reload`` applies it at once. A few settings shape
what the process built at start: its sockets, its storage, its stores and
budgets. Those are marked in the schema with :data:`RESTART` (on a field, or
on a block to mark all of it); a reload that changes one applies everything
else and says which of them it could not apply.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# json_schema_extra of a field that takes effect at the next restart only.
RESTART: dict[str, Any] = {"restart": True}


def restart_only(field_extra: object) -> bool:
    return isinstance(field_extra, dict) and field_extra.get("restart") is True


def restart_only_changes(old: BaseModel, new: BaseModel, prefix: str = "") -> list[str]:
    """The dotted paths of restart-only settings that differ between ``old`` and ``new``."""
    changed: list[str] = []
    for name, info in type(old).model_fields.items():
        before, after = getattr(old, name), getattr(new, name)
        path = f"{prefix}{name}"
        if restart_only(info.json_schema_extra):
            if before != after:
                changed.append(path)
        elif isinstance(before, BaseModel) and isinstance(after, BaseModel):
            changed += restart_only_changes(before, after, path + ".")
    return changed
