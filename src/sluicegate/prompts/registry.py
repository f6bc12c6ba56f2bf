"""The prompt registry the request path reads: every version and label, in memory.

Resolving a prompt is dict lookups; no request reads the database. Changes
reach the index the way they reach the tenant directory: a write goes to the
store and then refreshes this process's index at once, and
:meth:`PromptRegistry.follow` polls the store's change counter (every
``POLL_S``) for changes made by other replicas or processes.

A replica that cannot confirm its index is current (its store unreachable,
its polls stalled) could serve a label that has since moved. So the index
remembers when it was last confirmed, and a request resolved through it
after ``max_staleness_s`` without a confirmation is refused (503) rather
than served a version that may be stale; an operator who prefers serving
through a database outage sets it higher.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.prompts.document import DEFAULT_LABEL, LATEST, PromptDocument
from sluicegate.prompts.version import PromptVersion
from sluicegate.state.following import follow
from sluicegate.state.prompt_store import LabelMove, PromptStore, RegistryRows, StoredVersion

log = logging.getLogger("sluicegate.prompts")

# How often each process asks the store whether anything changed: a label moved
# on one replica is served by every other within this plus one load.
POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    tenant_id: str | None
    tenant: str | None
    created_at: float
    versions: dict[int, PromptVersion]
    labels: dict[str, int]

    @property
    def latest(self) -> int:
        return max(self.versions)

    def labelled(self, label: str) -> int | None:
        """The version ``label`` points at (``latest``: the newest); None without it."""
        return self.latest if label == LATEST else self.labels.get(label)


@dataclass
class PromptRegistry:
    store: PromptStore
    clock: Callable[[], float] = time.monotonic
    _prompts: dict[str, Prompt] = field(default_factory=dict)
    _seen_version: int = -1
    _confirmed_at: float = float("-inf")

    @classmethod
    async def open(cls, store: PromptStore) -> PromptRegistry:
        registry = cls(store)
        await registry.refresh()
        return registry

    # -- the hot path --------------------------------------------------------

    def resolve(
        self,
        name: str,
        *,
        tenant_id: str | None,
        label: str | None = None,
        version: int | None = None,
        max_staleness_s: float = 1.0,
    ) -> PromptVersion:
        """The version a request asks for; 404 ``prompt_not_found`` when the prompt, its
        label or version does not exist or belongs to another tenant (never 403: another
        tenant's prompt is not there for this one)."""
        if self.clock() - self._confirmed_at > max_staleness_s:
            raise GatewayError(
                ErrorKind.UNAVAILABLE,
                "the prompt registry could not be confirmed current; try again shortly",
                code=ErrorCode.PROMPT_REGISTRY_UNAVAILABLE,
                retryable=True,
                retry_after=1.0,
            )
        prompt = self._prompts.get(name)
        if prompt is None or (prompt.tenant_id is not None and prompt.tenant_id != tenant_id):
            raise prompt_not_found(f"no prompt named {name!r}", "prompt.name")
        if version is not None:
            found = prompt.versions.get(version)
            if found is None:
                raise prompt_not_found(
                    f"prompt {name!r} has no version {version} (latest: {prompt.latest})",
                    "prompt.version",
                )
            return found
        label = label or DEFAULT_LABEL
        number = prompt.labelled(label)
        if number is None:
            raise prompt_not_found(
                f"prompt {name!r} has no label {label!r}"
                + (f" (labels: {', '.join(sorted(prompt.labels))})" if prompt.labels else "")
                + "; ask for a version or the label 'latest', or move a label to a version",
                "prompt.label",
            )
        return prompt.versions[number]

    # -- reading (admin) -----------------------------------------------------

    def prompts(self) -> list[Prompt]:
        return [self._prompts[n] for n in sorted(self._prompts)]

    def prompt(self, name: str) -> Prompt | None:
        return self._prompts.get(name)

    async def label_history(self, name: str) -> list[LabelMove]:
        return await self.store.label_history(name)

    # -- changing ------------------------------------------------------------

    async def add_version(
        self, document: PromptDocument, *, tenant_id: str | None
    ) -> StoredVersion:
        """Store ``document`` as a version (checked: it must compile) and serve it here at
        once; other processes serve it after their next poll."""
        hash = document.content_hash()
        # Compiled before it is stored: a version that cannot be served never exists.
        PromptVersion.compile(document, version=0, hash=hash, created_at=0, tenant_id=tenant_id)
        stored = await self.store.add_version(
            name=document.name,
            tenant_id=tenant_id,
            tenant=document.tenant,
            hash=hash,
            document=orjson.dumps(document.model_dump(mode="json")),
            now=time.time(),
        )
        await self.refresh()
        return stored

    async def move_label(
        self, name: str, label: str, version: int, *, expected: int | None = None
    ) -> LabelMove:
        move = await self.store.move_label(
            name=name, label=label, version=version, expected=expected, now=time.time()
        )
        await self.refresh()
        return move

    # -- keeping current -----------------------------------------------------

    async def refresh(self) -> None:
        # Asked before the load: a change landing during the load is seen next time,
        # and the index is confirmed as of when the question was sent.
        asked = self.clock()
        version = await self.store.version()
        if version != self._seen_version:
            self._prompts = await self._index(await self.store.load())
            self._seen_version = version
        self._confirmed_at = asked

    async def follow(self, interval_s: float = POLL_S) -> None:
        """Keep the index in step with changes made elsewhere, until cancelled."""
        await follow(self.refresh, interval_s, "prompt registry", log)

    async def _index(self, rows: RegistryRows) -> dict[str, Prompt]:
        """The new index; versions already compiled are reused (they never change), and
        only new ones' documents are read."""
        old = self._prompts

        kept: dict[tuple[str, int], PromptVersion] = {}
        new: list[tuple[str, int]] = []
        for row in rows.versions:
            prompt = old.get(row.name)
            found = prompt.versions.get(row.version) if prompt is not None else None
            if found is not None and found.hash == row.hash:
                kept[row.name, row.version] = found
            else:
                new.append((row.name, row.version))
        documents = await self.store.documents(new) if new else {}
        versions: dict[str, dict[int, PromptVersion]] = {}
        owners = {p.name: p for p in rows.prompts}
        for row in rows.versions:
            compiled = kept.get((row.name, row.version))
            if compiled is None:
                try:
                    compiled = PromptVersion.compile(
                        PromptDocument.model_validate_json(documents[row.name, row.version]),
                        version=row.version,
                        hash=row.hash,
                        created_at=row.created_at,
                        tenant_id=owners[row.name].tenant_id,
                    )
                except Exception as exc:  # written by hand, or by a newer version
                    log.error("prompt %s@%d cannot be served: %s", row.name, row.version, exc)
                    continue
            versions.setdefault(row.name, {})[row.version] = compiled
        labels: dict[str, dict[str, int]] = {}
        for name, label, number in rows.labels:
            if number in versions.get(name, {}):
                labels.setdefault(name, {})[label] = number
        return {
            p.name: Prompt(
                name=p.name,
                tenant_id=p.tenant_id,
                tenant=p.tenant,
                created_at=p.created_at,
                versions=versions[p.name],
                labels=labels.get(p.name, {}),
            )
            for p in rows.prompts
            if p.name in versions
        }


def prompt_not_found(message: str, param: str) -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, message, code=ErrorCode.PROMPT_NOT_FOUND, param=param)
