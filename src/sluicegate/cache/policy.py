"""Whether a request is looked up in the response cache, and whether its answer is kept.

Per alias, ``cache.mode`` (default: the top-level ``cache.mode``, ``auto``):

- ``off``: never, whatever the request says;
- ``auto``: requests that ask for it, with ``Cache-Control: max-age=N`` (take a
  stored answer at most N seconds old) or ``Cache-Control: no-cache`` (do not take
  a stored answer; store the fresh one), and requests whose answer is meant to be
  repeatable anyway: temperature 0, and embeddings;
- ``always``: every request.

In every mode but ``off`` the request's ``Cache-Control`` is honoured:
``no-cache`` skips the lookup and refreshes the entry, ``no-store`` keeps the
answer out of the cache (a stored one may still serve, as in HTTP), ``max-age=N``
bounds the age of an answer that may serve. The alias's ``ttl_s`` (default the
top-level ``cache.ttl_s``) bounds how long an answer is kept at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.cache.key import SHARED_SCOPE, tenant_scope
from sluicegate.canonical import ChatRequest
from sluicegate.pipeline import Request

HEADER = "Cache-Control"


@dataclass(frozen=True, slots=True)
class CacheControl:
    """The request directives the cache honours (RFC 9111 names)."""

    no_cache: bool = False
    no_store: bool = False
    max_age_s: int | None = None

    @property
    def asks(self) -> bool:
        """The client opted this request into caching."""
        return self.no_cache or self.max_age_s is not None


NO_DIRECTIVES = CacheControl()


def parse_cache_control(value: str | None) -> CacheControl:
    """The directives of a ``Cache-Control`` header; unknown and malformed ones are
    ignored, as HTTP caches do."""
    if not value:
        return NO_DIRECTIVES
    no_cache = no_store = False
    max_age: int | None = None
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        name = name.strip().lower()
        if name == "no-cache":
            no_cache = True
        elif name == "no-store":
            no_store = True
        elif name == "max-age":
            try:
                seconds = int(arg.strip().strip('"'))
            except ValueError:
                continue
            if seconds >= 0:
                max_age = seconds if max_age is None else min(max_age, seconds)
    return CacheControl(no_cache=no_cache, no_store=no_store, max_age_s=max_age)


@dataclass(slots=True)  # not frozen: built on every cacheable request, and frozen inits are slow
class Decision:
    lookup: bool  # a stored answer may serve
    store: bool  # a fresh answer is kept
    max_age_s: float | None  # the oldest stored answer that may serve (None: any)
    ttl_s: float  # how long a fresh answer is kept
    scope: str  # whose entries: tenant_scope(tenant id) or SHARED_SCOPE


def decide(request: Request) -> Decision | None:
    """What the cache does for this request; None: it is not consulted at all."""
    alias = request.alias
    if alias is None:
        return None
    own = alias.config.cache
    defaults = request.runtime.config.cache
    mode = own.mode or defaults.mode
    if mode == "off":
        return None
    control = parse_cache_control(request.headers.get(HEADER))
    if mode == "auto" and not (control.asks or _repeatable(request)):
        return None
    lookup = not control.no_cache
    store = not control.no_store
    if not (lookup or store):
        return None
    if own.scope == "shared":
        scope = SHARED_SCOPE
    else:
        scope = tenant_scope(request.tenant.id if request.tenant is not None else "")
    return Decision(
        lookup=lookup,
        store=store,
        max_age_s=control.max_age_s,
        ttl_s=own.ttl_s or defaults.ttl_s,
        scope=scope,
    )


def _repeatable(request: Request) -> bool:
    """Answers that are meant to come out the same every time."""
    body = request.decoded
    if isinstance(body, ChatRequest):
        return body.temperature is not None and body.temperature == 0
    return True  # embeddings
