"""Checks that span more than one field of the config: names and references.

The schema validates each field on its own; what it cannot see is whether a
name is unique, whether a name used in one block is defined in another, or
whether two tenants were given the same key. These checks run on a validated
:class:`Config` and return *where* each problem is (a field path) rather than
raising, so that the loader can turn the path into a line of the YAML file and
report every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sluicegate.config.schema import Config

FieldPath = tuple[str | int, ...]
"""Where a value is in the config: ``("providers", 0, "type")``."""

Issue = tuple[FieldPath, str]
"""A problem at a path, with a message meant for a human."""

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_path(path: FieldPath) -> str:
    """``("providers", 0, "type")`` -> ``providers[0].type``, as an operator would write it."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            # Keys such as header names may hold dots or spaces; quote them so
            # the path stays unambiguous.
            out.append(f"[{part!r}]")
    return "".join(out)


def check_references(config: Config) -> list[Issue]:
    """Every cross-field problem in ``config``, each at the path of its offending value."""
    issues: list[Issue] = []
    issues += _unique_names("providers", [p.name for p in config.providers])
    issues += _unique_names("models", [m.name for m in config.models])
    issues += _unique_names("tenants", [t.name for t in config.tenants])

    providers = {p.name for p in config.providers}
    aliases = {m.name for m in config.models}
    for i, model in enumerate(config.models):
        for j, target in enumerate(model.targets):
            if target.provider not in providers:
                issues.append(
                    (
                        ("models", i, "targets", j, "provider"),
                        f"unknown provider {target.provider!r} ({_known(providers)})",
                    )
                )
        for j, fallback in enumerate(model.fallbacks):
            where: FieldPath = ("models", i, "fallbacks", j)
            if fallback == model.name:
                issues.append((where, "an alias cannot fall back to itself"))
            elif fallback not in aliases:
                issues.append((where, f"unknown fallback alias {fallback!r} ({_known(aliases)})"))
        for field in ("context_window_fallback", "content_policy_fallback", "degraded"):
            other = getattr(model, field)
            if other is None:
                continue
            if other == model.name:
                issues.append((("models", i, field), "an alias cannot stand in for itself"))
            elif other not in aliases:
                issues.append(
                    (("models", i, field), f"unknown model alias {other!r} ({_known(aliases)})")
                )
    issues += _fallback_cycles(config)

    for i, tenant in enumerate(config.tenants):
        for j, alias in enumerate(tenant.models or []):
            if alias not in aliases:
                message = f"unknown model alias {alias!r} ({_known(aliases)})"
                issues.append((("tenants", i, "models", j), message))
        issues += _unique_names(("tenants", i, "keys"), [k.name for k in tenant.keys])
        for alias in tenant.limits.models:
            if alias not in aliases:
                message = f"unknown model alias {alias!r} ({_known(aliases)})"
                issues.append((("tenants", i, "limits", "models", alias), message))
    issues += _unique_keys(config)
    issues += _one_capacity_per_deployment(config)
    issues += _guardrails(config, aliases)
    embeddings = config.cache.embeddings
    if embeddings != "local":
        if embeddings not in aliases:
            issues.append(
                (("cache", "embeddings"), f"'local' or a model alias ({_known(aliases)})")
            )
        if config.cache.embeddings_dimensions is None:
            issues.append(
                (("cache", "embeddings_dimensions"), "needed when embeddings is an alias")
            )
    return issues


def _guardrails(config: Config, aliases: set[str]) -> list[Issue]:
    issues = _unique_names("guardrails", [g.name for g in config.guardrails])
    for i, guardrail in enumerate(config.guardrails):
        if guardrail.judge is not None and guardrail.judge not in aliases:
            message = f"unknown model alias {guardrail.judge!r} ({_known(aliases)})"
            issues.append((("guardrails", i, "judge"), message))
    names = {g.name for g in config.guardrails}
    for i, tenant in enumerate(config.tenants):
        for j, name in enumerate(tenant.guardrails or []):
            if name not in names:
                message = f"unknown guardrail {name!r} ({_known(names)})"
                issues.append((("tenants", i, "guardrails", j), message))
    return issues


def _one_capacity_per_deployment(config: Config) -> list[Issue]:
    """A deployment (provider and model) used by several aliases is one upstream
    with one quota: its capacity may be set in one place, or identically."""
    issues: list[Issue] = []
    first: dict[tuple[str, str], tuple[FieldPath, tuple[int | None, ...]]] = {}
    for i, model in enumerate(config.models):
        for j, target in enumerate(model.targets):
            capacity = (target.max_concurrency, target.rpm, target.tpm)
            where: FieldPath = ("models", i, "targets", j)
            seen = first.get((target.provider, target.model))
            if seen is None or seen[1] == (None, None, None):
                first[(target.provider, target.model)] = (where, capacity)
            elif capacity != (None, None, None) and capacity != seen[1]:
                issues.append(
                    (
                        where,
                        f"deployment {target.provider}/{target.model} has a different capacity "
                        f"at {format_path(seen[0])} (max_concurrency, rpm, tpm must agree)",
                    )
                )
    return issues


def _known(names: Iterable[str]) -> str:
    listed = ", ".join(sorted(names))
    return f"known: {listed}" if listed else "none are defined"


def _unique_names(block: str | FieldPath, names: Sequence[str]) -> list[Issue]:
    """A name used twice in one list is reported at its second use, naming the first."""
    base: FieldPath = (block,) if isinstance(block, str) else block
    first: dict[str, int] = {}
    issues: list[Issue] = []
    for i, name in enumerate(names):
        if name in first:
            earlier = format_path((*base, first[name]))
            message = f"duplicate name {name!r} (already used by {earlier})"
            issues.append(((*base, i, "name"), message))
        else:
            first[name] = i
    return issues


def _unique_keys(config: Config) -> list[Issue]:
    """One key must identify one tenant; the admin key must identify no tenant.

    Compared after ``env:`` substitution, so two variables holding the same
    secret are caught too. Messages never include the key itself.
    """
    issues: list[Issue] = []
    first: dict[str, FieldPath] = {}
    admin_key = config.server.admin_key
    for i, tenant in enumerate(config.tenants):
        for j, key in enumerate(tenant.keys):
            where: FieldPath = ("tenants", i, "keys", j, "key")
            if admin_key is not None and key.key == admin_key:
                message = "this key is also server.admin_key (a tenant key must not be it)"
                issues.append((where, message))
            elif key.key in first:
                issues.append(
                    (
                        where,
                        f"this key is already used by {format_path(first[key.key])}"
                        " (a key must identify one tenant)",
                    )
                )
            else:
                first[key.key] = where
    return issues


def _fallback_cycles(config: Config) -> list[Issue]:
    """Aliases whose fallbacks lead back to themselves, reported at the edge that closes the loop.

    A self-fallback and an unknown alias are reported by the caller; both are
    skipped here so each mistake is reported once.
    """
    index: dict[str, int] = {}
    for i, model in enumerate(config.models):
        index.setdefault(model.name, i)
    issues: list[Issue] = []
    done: set[str] = set()

    for start in index:
        if start in done:
            continue
        # Iterative depth-first search: `trail` is the current path of
        # aliases, `stack` the next fallback position to look at for each.
        trail: list[str] = [start]
        on_trail = {start}
        stack: list[int] = [0]
        while stack:
            alias = trail[-1]
            fallbacks = config.models[index[alias]].fallbacks
            j = stack[-1]
            if j == len(fallbacks):
                stack.pop()
                on_trail.discard(trail.pop())
                done.add(alias)
                continue
            stack[-1] += 1
            nxt = fallbacks[j]
            if nxt == alias or nxt not in index or nxt in done:
                continue
            if nxt in on_trail:
                loop = [*trail[trail.index(nxt) :], nxt]
                issues.append(
                    (
                        ("models", index[alias], "fallbacks", j),
                        f"fallbacks form a cycle: {' -> '.join(loop)}",
                    )
                )
                continue
            trail.append(nxt)
            on_trail.add(nxt)
            stack.append(0)
    return issues
