"""The response cache: exact answers kept and served again, per tenant by default.

    policy.py     which requests are looked up / stored (alias mode, Cache-Control)
    key.py        the exact key from the canonical request
    entry.py      a cached answer (canonical events) and its bytes
    store.py      the store interface and the in-process LRU
    redis_store.py  the store shared by replicas
    stage.py      the pipeline stage
    report.py     hit rates and provider prompt-cache economics, from the ledger
"""

from sluicegate.cache.entry import CachedAnswer
from sluicegate.cache.key import SHARED_SCOPE, cache_key, tenant_scope
from sluicegate.cache.policy import Decision, decide, parse_cache_control
from sluicegate.cache.redis_store import RedisCache
from sluicegate.cache.stage import Cache, SemanticIndex
from sluicegate.cache.store import CacheStore, MemoryCache, Selector

__all__ = [
    "SHARED_SCOPE",
    "Cache",
    "CacheStore",
    "CachedAnswer",
    "Decision",
    "MemoryCache",
    "RedisCache",
    "Selector",
    "SemanticIndex",
    "cache_key",
    "decide",
    "parse_cache_control",
    "tenant_scope",
]
