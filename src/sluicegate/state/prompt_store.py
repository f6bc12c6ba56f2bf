"""Where prompts are kept: the interface of the SQLite and PostgreSQL stores.

Versions are immutable and content-addressed within a prompt; labels move,
and every move is kept. Each store bumps one counter on any change (a trigger
does it, so a change made by another replica or by hand counts too); the
registry polls that counter and reloads when it moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class PromptStoreError(Exception):
    """A change the store refused; ``status`` is the HTTP status it answers with."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param


@dataclass(frozen=True, slots=True)
class PromptRow:
    name: str
    tenant_id: str | None
    tenant: str | None  # the owner's name when the prompt was made (names can be reused)
    created_at: float


@dataclass(frozen=True, slots=True)
class VersionRow:
    """A version as the index lists it; its document is read only when it is new to the
    process (versions never change), so a reload after a label move reads no documents."""

    name: str
    version: int
    hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class LabelMove:
    label: str
    from_version: int | None  # None: the label was new
    to_version: int
    at: float


@dataclass(frozen=True, slots=True)
class StoredVersion:
    version: int
    hash: str
    created_at: float
    created: bool  # False: the same content was already this version


@dataclass(frozen=True, slots=True)
class RegistryRows:
    prompts: list[PromptRow]
    versions: list[VersionRow]
    labels: list[tuple[str, str, int]]  # (name, label, version)


class PromptStore(Protocol):
    async def version(self) -> int:
        """A number that changes whenever anything in the registry changes."""

    async def load(self) -> RegistryRows:
        """Every prompt, version (without its document) and label, as one snapshot."""

    async def documents(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """The documents (JSON) of the versions ``(name, version)``."""

    async def add_version(
        self,
        *,
        name: str,
        tenant_id: str | None,
        tenant: str | None,
        hash: str,
        document: bytes,
        now: float,
    ) -> StoredVersion:
        """The version with this content: the existing one, or the next number. A prompt
        made by another owner is refused (409): a prompt's owner never changes."""

    async def move_label(
        self, *, name: str, label: str, version: int, expected: int | None, now: float
    ) -> LabelMove:
        """Point ``label`` at ``version`` and record the move, atomically. With
        ``expected``, refused (409) unless the label points at that version now (0: unless
        the label does not exist yet). A version the prompt does not have is refused (400)."""

    async def label_history(self, name: str) -> list[LabelMove]: ...


# The refusals both stores make, worded once.
def owner_conflict(name: str) -> PromptStoreError:
    return PromptStoreError(
        f"a prompt named {name!r} already exists with another owner; a prompt's tenant "
        "never changes (pick another name)",
        status=409,
        param="tenant",
    )


def no_such_prompt(name: str) -> PromptStoreError:
    return PromptStoreError(f"no prompt named {name!r}", status=404)


def no_such_version(name: str, version: int) -> PromptStoreError:
    return PromptStoreError(
        f"prompt {name!r} has no version {version}", status=400, param="version"
    )


def check_expected(name: str, label: str, current: int | None, expected: int | None) -> None:
    if expected is None or expected == (current or 0):
        return
    now = "does not exist" if current is None else f"points at version {current}"
    raise PromptStoreError(
        f"label {label!r} of prompt {name!r} {now}, not {expected or 'nothing'}: it was moved "
        "meanwhile; read it again and retry",
        status=409,
        param="expected_version",
    )
