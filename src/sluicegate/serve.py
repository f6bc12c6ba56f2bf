"""Running the gateway: sockets, worker processes, signals and draining.

SIGTERM and SIGINT stop accepting connections and wait (up to
``server.drain_timeout_s``) for in-flight requests, streams included, before
exiting. SIGHUP reloads the config file without dropping a connection.

With ``--workers N`` (N > 1) a supervisor forks the workers and makes them one
gateway (``sluicegate.group``); with one worker none of that runs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aiohttp import web

from sluicegate.app import create_app
from sluicegate.config import Config
from sluicegate.gateway import ConfigSource, Gateway
from sluicegate.group.member import GROUP, Channels, Member
from sluicegate.group.supervisor import SIGNALS, Supervisor
from sluicegate.observability.json_log import json_formatting, json_logging
from sluicegate.server.protocol import GatewayRunner
from sluicegate.server.routes import metrics_app
from sluicegate.state.sqlite import open_database

log = logging.getLogger("sluicegate")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve(
    config: Config,
    *,
    reload_source: ConfigSource | None,
    workers: int = 1,
    announce: Callable[[str], None] = print,
) -> int:
    """Serve until told to stop; returns the process exit code."""
    sock = bind(config.server.host, config.server.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    metrics_port = config.server.metrics_port
    # The metrics listener's socket, bound here like the API's, so workers share it.
    metrics = None if metrics_port is None else bind(config.server.host, metrics_port)
    if metrics is not None:
        url += f" (metrics on port {metrics.getsockname()[1]})"
    if workers <= 1:
        return _run_worker(
            config, reload_source, sock, metrics, lambda: announce(f"sluicegate ready on {url}")
        )
    return _run_supervisor(
        config,
        reload_source,
        sock,
        metrics,
        workers,
        lambda: announce(f"sluicegate ready on {url} ({workers} workers)"),
    )


def _run_worker(
    config: Config,
    reload_source: ConfigSource | None,
    sock: socket.socket,
    metrics_sock: socket.socket | None,
    on_ready: Callable[[], None],
    channels: Channels | None = None,
) -> int:
    _install_uvloop()
    # The log writer thread lives as long as the worker: started before the gateway
    # opens, stopped (having written every queued line) after it has drained.
    with json_logging() if config.log_format == "json" else nullcontext():
        return asyncio.run(
            _worker_main(config, reload_source, sock, metrics_sock, on_ready, channels)
        )


async def _worker_main(
    config: Config,
    reload_source: ConfigSource | None,
    sock: socket.socket,
    metrics_sock: socket.socket | None,
    on_ready: Callable[[], None],
    channels: Channels | None,
) -> int:
    """One worker; ``channels`` join it to its group's supervisor (None: it is alone)."""
    member = None if channels is None else await Member.join(channels, config)
    gateway = Gateway(config, reload_source=reload_source, group=member)
    app = create_app(gateway)
    if member is not None:
        app[GROUP] = member
        member.attach(gateway)
    runner = GatewayRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=config.server.drain_timeout_s
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    metrics_runner = None
    if metrics_sock is not None:
        metrics_runner = web.AppRunner(metrics_app(gateway), handle_signals=False, access_log=None)
        await metrics_runner.setup()
        await web.SockSite(metrics_runner, metrics_sock).start()
    _tune_gc()
    if member is None:
        on_ready()
    else:
        member.ready()  # the supervisor announces once every worker is
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tasks: set[asyncio.Task[None]] = set()  # strong references while they run
    loop.add_signal_handler(signal.SIGHUP, lambda: _track(tasks, _reload(gateway)))
    if member is not None:
        # A supervisor that is gone enforces nothing any more: drain and exit.
        _track(tasks, _stop_when(member.lost, stop))
    # A worker forked by the supervisor starts with these signals blocked so
    # that one arriving during start-up waits for the handlers above.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    await stop.wait()
    log.info("draining in-flight requests (up to %gs)", config.server.drain_timeout_s)
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    await runner.cleanup()
    return 0


async def _reload(gateway: Gateway) -> None:
    try:
        await gateway.reload()
    except Exception as exc:  # a bad new config must never take the gateway down
        log.error("reload failed, keeping the current configuration: %s", exc)


async def _stop_when(lost: asyncio.Event, stop: asyncio.Event) -> None:
    await lost.wait()
    if not stop.is_set():
        log.error("the supervisor is gone; draining and exiting")
        stop.set()


def _track(tasks: set[asyncio.Task[None]], coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def _run_supervisor(
    config: Config,
    reload_source: ConfigSource | None,
    sock: socket.socket,
    metrics_sock: socket.socket | None,
    workers: int,
    on_ready: Callable[[], None],
) -> int:
    """Fork workers that share the listening socket and act as one gateway."""
    # Migrate SQLite once, here, rather than in every worker at the same moment
    # (PostgreSQL is migrated by `sluicegate migrate` only).
    if config.storage.url.startswith("sqlite:"):
        open_database(config.storage.url).close()

    def run_worker(current: Config, channels: Channels) -> int:
        return _run_worker(current, reload_source, sock, metrics_sock, lambda: None, channels)

    supervisor = Supervisor(
        config,
        reload_source=reload_source,
        workers=workers,
        run_worker=run_worker,
        on_ready=on_ready,
    )
    formatting: AbstractContextManager[None] = (
        json_formatting() if config.log_format == "json" else nullcontext()
    )
    with formatting:
        return supervisor.run()


def _tune_gc() -> None:
    """Keep the garbage collector off the request path.

    Everything alive after start-up (modules, config, the app) lives for the
    whole process: freezing it means no collection ever walks it again. Each
    request allocates a few hundred short-lived objects without cycles, which
    reference counting frees; a larger first-generation threshold stops the
    collector from running every few requests to find cycles that are not there.
    """
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(50_000, second, third)


def _install_uvloop() -> None:
    if sys.platform == "win32":
        return
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
