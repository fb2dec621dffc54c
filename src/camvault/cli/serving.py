"""How ``serve`` and ``api`` serve HTTP on a machine: the listening address, the host names it answers,
its metrics, the app ``camvault api`` serves, and running it in worker processes
(``[api] workers``). Imports nothing of the FTP gateway: a worker process serves HTTP only.

One process serves the API from one core. With ``[api] workers`` above 1, this process binds the
listening socket, starts that many worker processes (spawned, not forked: no thread, lock or
connection of the supervisor is copied into them), accepts every connection and hands it to
the worker with the fewest open connections (``cli.balancer``). Each worker builds its app with
``worker_app``, opening its own catalog, store and accounts connections, and closes them at the
app's lifespan shutdown. What the workers share lives in files every one of them opens: the
catalog, and the accounts file with the failed logins the login throttle counts.

The supervisor stops every worker on SIGINT or SIGTERM and waits for them; a worker that dies
is logged (``API worker PID died``) and replaced; a worker that cannot start stops them all.
``serve`` never runs workers: it runs the gateway and the processor threads in its own
process.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camvault.cli.errors import CliError
from camvault.config.loader import CONFIG_ENV, Config, load_config
from camvault.factory_gateway import open_spool
from camvault.gateway.metrics import exposition

if TYPE_CHECKING:
    from fastapi import FastAPI

    from camvault.processor.journal import Journal

WORKER_APP = "camvault.cli.serving:worker_app"
"""The import string of the app factory each worker process calls."""

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str) -> tuple[str, ...]:
    """Host names the API answers to: on a loopback address only loopback names (a web page
    cannot reach it through DNS rebinding); elsewhere any, since every route needs a login."""
    from camvault.api.app import ANY_HOST, LOCAL_HOSTS

    return LOCAL_HOSTS if is_loopback(host) else ANY_HOST


@contextmanager
def metrics_source(config: Config, journal: Journal | None) -> Iterator[Callable[[], str]]:
    """What ``/api/v1/metrics`` serves: the spool's figures (and the processor journal's)."""
    spool = open_spool(config)
    try:
        yield lambda: exposition(spool, journal.stats() if journal else None, datetime.now(UTC))
    finally:
        spool.close()


def open_api(config: Config, stack: ExitStack) -> FastAPI:
    """The app ``camvault api`` serves, over connections of its own that ``stack`` closes."""
    from camvault.api.app import create_app
    from camvault.factory import open_auth, open_cameras, open_catalog, open_store

    catalog = open_catalog(config)
    stack.callback(catalog.close)
    store = open_store(config, notify=None)  # media and keep markers; markers are never processed
    stack.callback(store.close)
    auth = open_auth(config)
    stack.callback(auth.close)
    cameras = stack.enter_context(open_cameras(config))
    metrics = stack.enter_context(metrics_source(config, None))
    host, _ = split_listen(config.settings.api.listen)
    return create_app(
        catalog,
        auth,
        store=store,
        registered=cameras.names,
        allowed_hosts=allowed_hosts(host),
        metrics=metrics,
    )


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's app factory): settings from the environment the
    supervisor passed on (``CAMVAULT_CONFIG`` names the file it read), connections closed when
    the worker shuts down. A worker that cannot start says why in one line and exits with
    uvicorn's start-up failure status, which stops the supervisor instead of restarting it."""
    from uvicorn.config import STARTUP_FAILURE

    stack = ExitStack()
    try:
        app = open_api(load_config(None, os.environ, Path.cwd()), stack)
    except Exception as exc:  # whatever it is, this worker must stop and say so
        stack.close()
        sys.stderr.write(f"camvault: error: API worker {os.getpid()} could not start: {exc}\n")
        sys.exit(STARTUP_FAILURE)
    app.router.lifespan_context = _closing_at_shutdown(app.router.lifespan_context, stack)
    return app


def _closing_at_shutdown(lifespan: Lifespan, stack: ExitStack) -> Lifespan:
    """``lifespan``, then ``stack`` closed when the app shuts down."""

    @asynccontextmanager
    async def then_close(app: Any) -> AsyncIterator[Any]:
        try:
            async with lifespan(app) as state:
                yield state
        finally:
            stack.close()

    return then_close


def serve_workers(config: Config, host: str, port: int, workers: int) -> None:
    """Serve the API from ``workers`` processes on ``host:port`` until SIGINT or SIGTERM, then
    stop them all. This process accepts the connections and hands each to the worker with the
    fewest open ones (``cli.balancer``). Raises CliError when a worker could not start (its
    reason is printed above)."""
    import uvicorn

    from camvault.cli.balancer import Supervisor, WorkerFailed

    if config.path is not None:  # the workers read the same file (and the same environment)
        os.environ[CONFIG_ENV] = str(config.path)
    settings = uvicorn.Config(WORKER_APP, factory=True, host=host, port=port, log_level="info")
    sock = settings.bind_socket()
    try:
        sock.listen(settings.backlog)
        Supervisor(sock, workers, run_worker).run()
    except WorkerFailed as exc:
        raise CliError(f"{exc}; the API has stopped") from None
    finally:
        sock.close()


def run_worker(channel: socket.socket) -> None:
    """One worker process (spawned): uvicorn answering the connections handed over on ``channel``."""
    import uvicorn

    from camvault.cli.balancer import serve_handed

    settings = uvicorn.Config(WORKER_APP, factory=True, log_level="info", access_log=False)
    serve_handed(uvicorn.Server(settings), channel)
