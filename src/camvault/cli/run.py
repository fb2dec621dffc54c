"""Long-running verbs: ``serve`` (everything, embedded), ``process`` (workers only), ``api``."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from camvault.cli.gateway import describe, running_gateway
from camvault.cli.retention import start_schedule
from camvault.config.loader import Config, ConfigError
from camvault.factory import (
    build_runtime,
    open_cameras,
    open_catalog,
    open_spool,
    open_store,
    storage_location,
)
from camvault.gateway.metrics import exposition
from camvault.processor.journal import Journal


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    serve = verbs.add_parser(
        "serve",
        parents=[common],
        help="run the FTP gateway, the processor and the API on this machine",
        description="Run everything embedded: FTP gateway and spool, object store, processor workers "
        "and the REST API.",
    )
    serve.set_defaults(handler=cmd_serve)
    process = verbs.add_parser(
        "process",
        parents=[common],
        help="run only the processor workers",
        description="Process stored objects that wait in the journal, with retries, and make the small "
        "transcodes that wait.",
    )
    process.add_argument("--retry-failed", action="store_true", help="try failed objects again")
    process.add_argument("--once", action="store_true", help="process what is due now, then exit")
    process.set_defaults(handler=cmd_process)
    api = verbs.add_parser("api", parents=[common], help="run only the REST API")
    api.set_defaults(handler=cmd_api)


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def check_loopback(host: str) -> None:
    """Until the API has authentication it may only listen on this machine."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"[api] listen = {host!r}: this version's API has no login yet, so it only listens on "
            '127.0.0.1; set [api] listen = "127.0.0.1:8080" and reach it through an SSH tunnel'
        )


def check_port_free(host: str, port: int) -> None:
    """Fail with the fix before anything starts when another program holds the API's port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f'[api] listen = "{host}:{port}": {exc.strerror}; stop the program using it or pick '
                f"another port, e.g. CAMVAULT_API_LISTEN={host}:{port + 1}"
            ) from None


def checked_listen(config: Config) -> tuple[str, int]:
    """The API's host and port, once they are known to be loopback and free."""
    host, port = split_listen(config.settings.api.listen)
    check_loopback(host)
    check_port_free(host, port)
    return host, port


@contextmanager
def metrics_source(config: Config, journal: Journal | None) -> Iterator[Callable[[], str]]:
    """What ``/api/v1/metrics`` serves: the spool's figures (and the processor journal's)."""
    spool = open_spool(config)
    try:
        yield lambda: exposition(spool, journal.stats() if journal else None, datetime.now(UTC))
    finally:
        spool.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve_api(host: str, port: int, app: Any) -> None:
    """Run uvicorn until SIGINT or SIGTERM; either is a clean stop (exit status 0)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False))
    # uvicorn re-raises the signal it caught after shutting down; make SIGTERM end like SIGINT
    # so that the caller's cleanup runs.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from camvault.api.app import create_app

    host, port = checked_listen(config)
    runtime = build_runtime(config, notifications=True)
    try:
        runtime.workers.start()
        runtime.transcodes.start()
        with running_gateway(runtime) as gateway:
            where = storage_location(config)
            print(f"camvault serving from {config.path or config.base_dir}")
            print(f"  cameras:  {describe(config, gateway)}")
            print(f"  objects:  {config.settings.storage.url} ({where.root or where.bucket})")
            print(f"  catalog:  {config.settings.catalog.url}")
            print(f"  browser:  http://{host}:{port}/api/v1/events  (JSON API; the web app comes later)")
            schedule = start_schedule(runtime)
            try:
                with metrics_source(config, runtime.journal) as metrics:
                    app = create_app(
                        runtime.catalog,
                        registered=runtime.cameras.names,
                        metrics=metrics,
                        store=runtime.store,
                    )
                    _serve_api(host, port, app)
            finally:
                if schedule is not None:
                    schedule.stop()
    finally:
        runtime.close()
    return 0


def cmd_process(args: argparse.Namespace, config: Config) -> int:
    runtime = build_runtime(config, notifications=True)
    try:
        if args.retry_failed:
            print(f"{runtime.journal.retry_failed()} failed objects queued again")
            print(f"{runtime.transcode_journal.retry_failed()} failed small transcodes queued again")
        if args.once:
            count = 0
            while runtime.workers.run_one() is not None:
                count += 1
            smalls = 0
            while runtime.transcodes.run_one() is not None:
                smalls += 1
            print(f"processed {count} objects, {smalls} small transcodes")
            return 0
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        runtime.workers.start()
        runtime.transcodes.start()
        print("processor running; Ctrl+C stops it")
        stop.wait()
    finally:
        runtime.close()
    return 0


def cmd_api(args: argparse.Namespace, config: Config) -> int:
    from camvault.api.app import create_app

    host, port = checked_listen(config)
    catalog = open_catalog(config)
    store = open_store(config, None)  # for keep markers; it notifies nobody (markers are never processed)
    try:
        with open_cameras(config) as cameras, metrics_source(config, None) as metrics:
            app = create_app(catalog, registered=cameras.names, metrics=metrics, store=store)
            _serve_api(host, port, app)
    finally:
        store.close()
        catalog.close()
    return 0
