"""Long-running verbs: ``serve`` (everything, embedded), ``process`` (workers only), ``api``."""

from __future__ import annotations

import argparse
import signal
import socket
import threading
from contextlib import ExitStack
from typing import Any

from camvault.cli.errors import CliError
from camvault.cli.gateway import describe, running_gateway
from camvault.cli.retention import start_schedule
from camvault.cli.serving import (
    allowed_hosts,
    is_loopback,
    metrics_source,
    open_api,
    serve_workers,
    split_listen,
)
from camvault.config.loader import Config, ConfigError
from camvault.factory import (
    build_runtime,
    open_auth,
    storage_location,
)


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
    """The API's host and port, once the port is known to be free."""
    host, port = split_listen(config.settings.api.listen)
    check_port_free(host, port)
    return host, port


ELSEWHERE = (
    "[processor] local = false says uploads are processed where the store's notifications go "
    "(e.g. the AWS stack's Lambda)"
)
LOCAL = "set [processor] local = true (or CAMVAULT_PROCESSOR_LOCAL=true)"


def require_local_processor(config: Config, refusal: str) -> None:
    """Refuse a verb that runs the processor here when ``[processor] local = false``: keys
    would never reach this machine's journal."""
    if not config.settings.processor.local:
        raise CliError(refusal)


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

    require_local_processor(
        config,
        f"camvault serve runs the processor on this machine, but {ELSEWHERE}; run `camvault gateway` "
        f"here instead (and `camvault api` where the catalog is), or {LOCAL}",
    )
    host, port = checked_listen(config)
    with ExitStack() as stack:
        runtime = build_runtime(config, notifications=True)
        stack.callback(runtime.close)
        auth = open_auth(config)
        stack.callback(auth.close)
        runtime.workers.start()
        runtime.transcodes.start()
        gateway = stack.enter_context(running_gateway(runtime))
        schedule = start_schedule(runtime)
        if schedule is not None:
            stack.callback(schedule.stop)
        metrics = stack.enter_context(metrics_source(config, runtime.journal))
        where = storage_location(config)
        print(f"camvault serving from {config.path or config.base_dir}")
        print(f"  cameras:  {describe(config, gateway)}")
        print(f"  objects:  {config.settings.storage.url} ({where.root or where.bucket})")
        print(f"  catalog:  {config.settings.catalog.url}")
        url = _browser_url(host, port)
        print(f"  browser:  {url}  (sign in as admin with the secret from init)")
        print(f"  api:      {url}api/v1  (Bearer tokens: `camvault token create NAME`)")
        app = create_app(
            runtime.catalog,
            auth,
            store=runtime.store,
            registered=runtime.cameras.names,
            allowed_hosts=allowed_hosts(host),
            metrics=metrics,
        )
        _serve_api(host, port, app)
    return 0


def cmd_process(args: argparse.Namespace, config: Config) -> int:
    require_local_processor(
        config,
        f"camvault process has nothing to do here: {ELSEWHERE}; to process them on this machine, {LOCAL}",
    )
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
    host, port = checked_listen(config)
    workers = config.settings.api.workers
    with ExitStack() as stack:
        # With workers, each opens its own connections; opening them here first reports a bad
        # setting or file the usual way and migrates the files once, before any worker starts.
        app = open_api(config, stack)
        url = _browser_url(host, port)
        if workers == 1:
            print(f"camvault API on {url}api/v1")
            _serve_api(host, port, app)
            return 0
    print(f"camvault API on {url}api/v1 ({workers} worker processes)", flush=True)
    serve_workers(config, host, port, workers)
    return 0


def _browser_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        print(
            f"  note:     {host} is reachable from other machines over plain HTTP; put a TLS proxy in front"
        )
    return f"http://{shown}:{port}/"
