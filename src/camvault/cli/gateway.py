"""``camvault gateway``: the FTP gateway, its spool and the uploader that drains it to the store.

``serve`` runs the same parts (:func:`running_gateway`) next to the processor and the API.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from camvault.config.loader import Config
from camvault.factory import Runtime, build_runtime
from camvault.factory_gateway import build_gateway, build_uploader, open_spool
from camvault.gateway.server import Gateway


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    gateway = verbs.add_parser(
        "gateway",
        parents=[common],
        help="run the FTP gateway cameras upload to",
        description="Accept camera uploads over FTP/FTPS, keep each one durable in the spool before "
        "answering 226, and upload the spool to the object store, verified.",
    )
    gateway.set_defaults(handler=cmd_gateway)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def return_large_blocks_to_the_system() -> None:
    """Serve allocations of 1 MB and more from their own mappings, released when freed.

    glibc otherwise raises its mmap threshold after the first large free, and the 16 MB that
    each scrypt password check uses would stay resident in the heap. No-op without glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 1 << 20)


@contextmanager
def running_gateway(runtime: Runtime) -> Iterator[Gateway]:
    """Reconcile the spool, start the uploader and the FTP server; stop both on exit."""
    return_large_blocks_to_the_system()
    config = runtime.config
    spool = open_spool(config, runtime.ingestor)
    try:
        spool.reconcile()
        uploader = build_uploader(runtime, spool)
        gateway = build_gateway(config, spool, runtime.cameras)
        uploader.start()
        try:
            gateway.start()
            try:
                yield gateway
            finally:
                gateway.stop()
        finally:
            uploader.stop()
    finally:
        spool.close()


def describe(config: Config, gateway: Gateway) -> str:
    host, port = gateway.address
    settings = config.settings.gateway
    tls = "explicit FTPS offered" if settings.tls_cert else "plain FTP only (no tls_cert)"
    if settings.tls_required:
        tls = "FTPS required"
    return f"ftp://{host}:{port}  passive ports {settings.passive_ports}, {tls}"


def cataloged_by(config: Config) -> str:
    """Who catalogs what the gateway uploads (``[processor] local``)."""
    if config.settings.processor.local:
        return "by the processor on this machine (`camvault process`, or `camvault serve`)"
    return "elsewhere, by the processor the store notifies ([processor] local = false)"


def cmd_gateway(args: argparse.Namespace, config: Config) -> int:
    stop = threading.Event()
    runtime = build_runtime(config)
    try:
        with running_gateway(runtime) as gateway:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            print(f"camvault gateway: {describe(config, gateway)}", flush=True)
            print(f"  objects:  {config.settings.storage.url}", flush=True)
            print(f"  catalog:  {cataloged_by(config)}", flush=True)
            print("  Ctrl+C stops it; uploads still in the spool are sent on the next start", flush=True)
            stop.wait()
    finally:
        runtime.close()
    return 0
