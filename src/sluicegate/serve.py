"""Running the gateway: sockets, worker processes, signals and draining.

SIGTERM and SIGINT stop accepting connections and wait (up to
``server.drain_timeout_s``) for in-flight requests, streams included, before
exiting. SIGHUP reloads the config file without dropping a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import select
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from sluicegate.app import create_app
from sluicegate.config import Config
from sluicegate.gateway import ConfigSource, Gateway
from sluicegate.server.protocol import GatewayRunner
from sluicegate.server.routes import metrics_app
from sluicegate.state.sqlite import open_database

log = logging.getLogger("sluicegate")

_HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


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
) -> int:
    _install_uvloop()
    return asyncio.run(_worker_main(config, reload_source, sock, metrics_sock, on_ready))


async def _worker_main(
    config: Config,
    reload_source: ConfigSource | None,
    sock: socket.socket,
    metrics_sock: socket.socket | None,
    on_ready: Callable[[], None],
) -> int:
    gateway = Gateway(config, reload_source=reload_source)
    app = create_app(gateway)
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
    on_ready()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    reloads: set[asyncio.Task[None]] = set()  # strong references while they run
    loop.add_signal_handler(signal.SIGHUP, lambda: _track(reloads, _reload(gateway)))
    # A worker forked by the supervisor starts with these signals blocked so
    # that one arriving during start-up waits for the handlers above.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED)
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
    """Fork workers that share the listening socket; forward signals to them.

    The supervisor announces readiness only once every worker has said it is
    serving, over a pipe, so "ready" means ready.
    """
    # Migrate SQLite once, here, rather than in every worker at the same moment
    # (PostgreSQL is migrated by `sluicegate migrate` only).
    if config.storage.url.startswith("sqlite:"):
        open_database(config.storage.url).close()
    children: list[int] = []
    ready_r, ready_w = os.pipe()
    signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            code = 1
            try:
                code = _run_worker(
                    config, reload_source, sock, metrics_sock, lambda: _notify(ready_w)
                )
            finally:
                os._exit(code)
        children.append(pid)
    os.close(ready_w)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    for signum in _HANDLED:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED)
    started = _await_workers(ready_r, children)
    if started:
        on_ready()
    else:
        forward(signal.SIGTERM, None)
    code = 0 if started else 1
    for child in children:
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        if os.waitstatus_to_exitcode(status) != 0:
            code = 1
    return code


def _await_workers(ready_r: int, children: list[int]) -> bool:
    """Wait until every worker has said it is serving; False if one died first."""
    ready = 0
    with os.fdopen(ready_r, "rb", buffering=0) as pipe:
        while ready < len(children):
            readable, _, _ = select.select([pipe], [], [], 0.2)
            if readable:
                ready += len(pipe.read(len(children) - ready) or b"")
            for child in children:
                pid, _ = os.waitpid(child, os.WNOHANG)
                if pid:
                    log.error("a worker exited during start-up; stopping the others")
                    children.remove(child)
                    return False
    return True


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


def _notify(fd: int) -> None:
    os.write(fd, b"r")


def _install_uvloop() -> None:
    if sys.platform == "win32":
        return
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
