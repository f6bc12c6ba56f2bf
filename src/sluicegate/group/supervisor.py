"""The supervisor of ``sluicegate serve --workers N``: forks the workers, which
share the listening socket, and makes them one gateway.

It holds what the workers must share and cannot without Redis, and serves it
over a pair of Unix sockets per worker (made before the fork, so nothing else
can reach them):

- the limiter channel: without ``storage.redis_url``, the one in-process
  limiter, so limits, budgets, concurrency and deployments' capacity are
  exact across workers (``sluicegate.group.limiter``); with Redis
  the workers share Redis and this channel does not exist;
- the idempotency channel, likewise without Redis only: the one in-process
  ``Idempotency-Key`` store, so a retry or a duplicate on any worker meets
  the first request's claim or answer (``sluicegate.group.idempotency``);
- the control channel (``sluicegate.group.rpc``): a worker says when it is
  serving, asks for the whole group's ``/metrics`` (the supervisor collects
  every worker's samples and merges them: ``sluicegate.group.metrics``),
  hands over a validated config for every worker to apply (SIGHUP to the
  supervisor loads the config file once and does the same), has every
  worker's response cache invalidated (``sluicegate.group.cache``), and asks
  whether an alert was raised already, so that the group raises each once.

"Ready" is announced once every worker serves. SIGTERM and SIGINT are passed
to every worker, which drains; the supervisor keeps answering them until the
last has exited.

A worker that dies is restarted: the group's limits and metrics live here,
so a fresh worker carries on where the dead one stopped, while stopping the
group would cut every other worker's requests and streams for one crash.
Its unsettled requests keep their counts and free their concurrency slots,
its counters stay in ``/metrics``. Two cases stop the group (exit code 1)
instead, because restarting cannot fix them: a worker that exits before the
group is first ready (a config or environment problem every worker shares),
and more than ``RESTART_LIMIT`` exits within ``RESTART_WINDOW_S`` (a crash
loop). If the supervisor itself dies, each worker sees its control channel
close, drains and exits: an orphaned worker would enforce nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import Metric

from sluicegate.cache.store import Selector
from sluicegate.config import Config
from sluicegate.group.idempotency import IdempotencyService
from sluicegate.group.limiter import LimiterService
from sluicegate.group.member import Channels, InvalidateOutcome, ReloadOutcome
from sluicegate.group.metrics import GroupMetrics, Samples, exposition
from sluicegate.group.rpc import ChannelClosed, Peer, RemoteError
from sluicegate.idempotency import MemoryIdempotencyStore
from sluicegate.observability.alerts import LocalFirsts
from sluicegate.observability.metrics import counter, gauge

log = logging.getLogger("sluicegate")

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""Blocked in a new worker until it has installed its own handlers."""

RESTART_LIMIT = 5
RESTART_WINDOW_S = 60.0
COLLECT_TIMEOUT_S = 2.0
"""A worker that does not hand over its metrics this fast is reported by its last ones."""
RELOAD_TIMEOUT_S = 30.0
INVALIDATE_TIMEOUT_S = 10.0
KILL_AFTER_S = 30.0
"""How long past ``drain_timeout_s`` a worker may take to exit before it is killed."""

ConfigSource = Callable[[], Config]
"""Loads and validates the config file (``sluicegate.gateway.ConfigSource``)."""

WorkerMain = Callable[[Config, Channels], int]
"""Runs a worker in the forked child and returns its exit code."""


def _idempotency(config: Config) -> IdempotencyService:
    """The group's one Idempotency-Key store, as a lone gateway would make its own."""
    settings = config.idempotency
    store = MemoryIdempotencyStore(
        ttl_s=settings.ttl_s, max_entry_bytes=settings.max_entry_bytes, max_bytes=settings.max_bytes
    )
    return IdempotencyService(store)


class RestartBudget:
    """At most ``limit`` restarts within any ``window_s``."""

    def __init__(self, limit: int = RESTART_LIMIT, window_s: float = RESTART_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        times = self._times
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


@dataclass(eq=False)
class _Worker:
    pid: int
    sockets: list[socket.socket]  # the supervisor's ends of its channels
    control: Peer | None = None
    ready: bool = False
    samples: Samples = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        config: Config,
        *,
        reload_source: ConfigSource | None,
        workers: int,
        run_worker: WorkerMain,
        on_ready: Callable[[], None],
    ) -> None:
        self.config = config  # what a worker started now runs: the latest applied
        self._reload_source = reload_source
        self._size = workers
        self._run_worker = run_worker
        self._on_ready = on_ready
        self.limiter = None if config.storage.redis_url else LimiterService()
        self.idempotency = None if config.storage.redis_url else _idempotency(config)
        self.metrics = GroupMetrics()
        self.alerted = LocalFirsts()  # alerts raised by any worker, raised once
        self.restarts = 0
        self._budget = RestartBudget()
        self._workers: dict[int, _Worker] = {}
        self._started = False  # every first worker has been ready
        self._code = 0
        self._tasks: set[asyncio.Task[object]] = set()
        self._stopping: asyncio.Event
        self._changed: asyncio.Event  # a worker became ready or exited

    def run(self) -> int:
        """Serve until told to stop; the group's exit code.

        On the standard library's event loop, not uvloop (which the workers
        use): a new worker is forked from inside this running loop, and the
        child must find nothing of it in its way (asyncio keys the running
        loop by process id), and uvloop keeps SIGCHLD, which reaps workers
        here, for its own child watcher.
        """
        return asyncio.run(self._main())

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._hangup)
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        for _ in range(self._size):
            await self._spawn()
        if await self._all_ready():
            self._started = True
            self._on_ready()
        await self._stopping.wait()
        await self._wait_for_exits(self.config.server.drain_timeout_s + KILL_AFTER_S)
        for task in list(self._tasks):
            task.cancel()
        return self._code

    def stop(self, *, code: int | None = None) -> None:
        """Have every worker drain and exit (again, if already asked)."""
        if code is not None:
            self._code = code
        self._stopping.set()
        for pid in self._workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    # -- workers ---------------------------------------------------------------

    async def _spawn(self) -> None:
        control, control_end = socket.socketpair()
        limiter, limiter_end = socket.socketpair() if self.limiter else (None, None)
        idempotency, idempotency_end = socket.socketpair() if self.idempotency else (None, None)
        mine = [s for s in (control, limiter, idempotency) if s is not None]
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:  # the new worker
                code = 1
                try:
                    self._forget_in_child(mine)
                    channels = Channels(control_end, limiter_end, idempotency_end)
                    code = self._run_worker(self.config, channels)
                except BaseException:
                    log.exception("worker failed")
                finally:
                    os._exit(code)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        for end in (control_end, limiter_end, idempotency_end):
            if end is not None:
                end.close()
        worker = self._workers[pid] = _Worker(pid, mine)
        worker.control = await Peer.connect(
            control,
            {
                "ready": lambda: self._ready(worker),
                "scrape": self._scrape,
                "reload": lambda config: self.apply(config, origin=worker),
                "invalidate_cache": self._invalidate_caches,
                "first": self.alerted.first,
            },
        )
        if self.limiter is not None and limiter is not None:
            await self.limiter.serve(limiter)
        if self.idempotency is not None and idempotency is not None:
            await self.idempotency.serve(idempotency)
        log.info("worker %d started", pid)

    def _forget_in_child(self, mine: list[socket.socket]) -> None:
        """In a new worker: let go of the supervisor's ends of every channel and of
        its signal handling. Only closes descriptors; the supervisor's event loop
        and transports are left untouched (their epoll set is shared with the
        supervisor), and never run again here."""
        signal.set_wakeup_fd(-1)
        for signum in (*SIGNALS, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)  # still blocked until the worker's are in
        for sock in mine:
            sock.close()
        for worker in self._workers.values():
            for sock in worker.sockets:
                sock.close()

    async def _ready(self, worker: _Worker) -> None:
        worker.ready = True
        self._changed.set()

    async def _all_ready(self) -> bool:
        """Wait until every first worker serves; False if told to stop first."""
        while not all(w.ready for w in self._workers.values()) or not self._workers:
            if self._stopping.is_set():
                return False
            self._changed.clear()
            stopping = asyncio.ensure_future(self._stopping.wait())
            changed = asyncio.ensure_future(self._changed.wait())
            await asyncio.wait([stopping, changed], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            changed.cancel()
        return not self._stopping.is_set()

    def _reap(self) -> None:
        for pid in list(self._workers):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self._exited(self._workers.pop(pid), os.waitstatus_to_exitcode(status))

    def _exited(self, worker: _Worker, code: int) -> None:
        self.metrics.retire(worker.samples)
        if worker.control is not None:
            worker.control.close()
        self._changed.set()
        if self._stopping.is_set():
            if code != 0:
                self._code = 1
            log.info("worker %d exited (%d)", worker.pid, code)
            return
        if not self._started:
            log.error("worker %d exited during start-up (%d); stopping the rest", worker.pid, code)
            self.stop(code=1)
        elif not self._budget.allow(time.monotonic()):
            log.error(
                "worker %d exited (%d): more than %d exits within %gs; stopping the group",
                worker.pid,
                code,
                RESTART_LIMIT,
                RESTART_WINDOW_S,
            )
            self.stop(code=1)
        else:
            log.error("worker %d exited (%d); starting another", worker.pid, code)
            self.restarts += 1
            self._track(self._respawn())

    async def _respawn(self) -> None:
        if self._stopping.is_set():  # told to stop since the exit: nothing to replace
            return
        try:
            await self._spawn()
        except OSError as exc:  # fork failed: out of memory or processes
            log.error("could not start a worker (%s); stopping the group", exc)
            self.stop(code=1)

    async def _wait_for_exits(self, deadline_s: float) -> None:
        try:
            async with asyncio.timeout(deadline_s):
                while self._workers:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            log.error("workers %s did not exit in time; killing them", sorted(self._workers))
            self._code = 1
            for pid in list(self._workers):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            while self._workers:
                self._changed.clear()
                await self._changed.wait()

    def _track(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- control calls from the workers ------------------------------------------

    async def _scrape(self) -> bytes:
        serving = [w for w in self._workers.values() if w.ready and w.control is not None]
        await asyncio.gather(*(self._collect(w) for w in serving))
        live = [w.samples for w in serving if w.pid in self._workers]
        return exposition([*self.metrics.merge(live), *self._own_metrics()])

    async def _collect(self, worker: _Worker) -> None:
        assert worker.control is not None
        try:
            async with asyncio.timeout(COLLECT_TIMEOUT_S):
                samples: Samples = await worker.control.call("collect")
        except (TimeoutError, ChannelClosed, RemoteError) as exc:
            log.warning("worker %d sent no metrics (%r); reporting its last", worker.pid, exc)
            return
        if worker.pid in self._workers:  # not retired meanwhile
            worker.samples = samples

    def _own_metrics(self) -> Iterator[Metric]:
        serving = sum(1 for w in self._workers.values() if w.ready)
        yield gauge("sluicegate_workers", "Worker processes serving.", [], [((), serving)])
        yield counter(
            "sluicegate_worker_restarts",
            "Workers started again after one exited unexpectedly.",
            [],
            [((), self.restarts)],
        )

    async def apply(self, config: Config, *, origin: _Worker | None = None) -> ReloadOutcome:
        """Have every worker apply ``config`` (but ``origin``, which already has), and
        start later ones with it."""
        # Storage is read at start only (a running worker keeps its own until a
        # restart): a worker started later must share the others' limiter,
        # Redis or this process, and database.
        self.config = config.model_copy(update={"storage": self.config.storage})
        others = [w for w in self._workers.values() if w.control is not None and w is not origin]
        errors = [e for e in await asyncio.gather(*(self._apply(w, config) for w in others)) if e]
        workers = len(others) + (origin is not None)
        outcome = ReloadOutcome(workers=workers, reloaded=workers - len(errors), errors=errors)
        log.info("configuration applied by %d of %d workers", outcome["reloaded"], workers)
        return outcome

    async def _apply(self, worker: _Worker, config: Config) -> str | None:
        assert worker.control is not None
        try:
            async with asyncio.timeout(RELOAD_TIMEOUT_S):
                await worker.control.call("apply", config)
        except (TimeoutError, ChannelClosed, RemoteError) as exc:
            return f"worker {worker.pid}: {exc.__class__.__name__}: {exc}"
        return None

    async def _invalidate_caches(self, selector: Selector) -> InvalidateOutcome:
        """Have every serving worker (the asking one too) remove what ``selector``
        matches from its response cache. A worker not serving yet has nothing in it."""
        serving = [w for w in self._workers.values() if w.ready and w.control is not None]
        answers = await asyncio.gather(*(self._invalidate(w, selector) for w in serving))
        errors = [a for a in answers if isinstance(a, str)]
        removed = sum(a for a in answers if isinstance(a, int))
        return InvalidateOutcome(workers=len(serving), invalidated=removed, errors=errors)

    async def _invalidate(self, worker: _Worker, selector: Selector) -> int | str:
        assert worker.control is not None
        try:
            async with asyncio.timeout(INVALIDATE_TIMEOUT_S):
                removed: int = await worker.control.call("invalidate_cache", selector)
        except (TimeoutError, ChannelClosed, RemoteError) as exc:
            return f"worker {worker.pid}: {exc.__class__.__name__}: {exc}"
        return removed

    def _hangup(self) -> None:
        """SIGHUP: load the config file once, and have every worker apply it."""
        if self._reload_source is None:
            log.error("reload failed: this gateway was started without a config file")
            return
        try:
            config = self._reload_source()
        except Exception as exc:  # a bad new config must never take the gateway down
            log.error("reload failed, keeping the current configuration: %s", exc)
            return
        self._track(self.apply(config))
