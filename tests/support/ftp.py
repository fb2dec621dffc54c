"""A real FTP gateway on free loopback ports: alone over a spool (``running_gateway``), or with
the whole embedded pipeline behind it (``gateway_pipeline``: uploader, store, processor, catalog)."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camvault.accounts.registry import CameraRegistry
from camvault.catalog.base import EventQuery
from camvault.cli.gateway import running_gateway as gateway_parts
from camvault.config.loader import load_config
from camvault.domain.keys import is_derived_key
from camvault.domain.model import CatalogEvent
from camvault.factory import Runtime, build_runtime
from camvault.gateway.authorizer import CameraAuthorizer, LoginThrottle
from camvault.gateway.handler import GatewayContext
from camvault.gateway.metrics import Counters
from camvault.gateway.server import Gateway, GatewayOptions, TLSFiles
from camvault.gateway.spool import Spool, SpoolLimits
from camvault.store.base import read_all
from tests.support.cli import init_data

PASSWORDS = {"garage": "garage-secret-1", "porch": "porch-secret-2"}


@dataclass
class RunningGateway:
    host: str
    port: int
    spool: Spool
    cameras: CameraRegistry
    gateway: Gateway

    def home(self, camera: str) -> Path:
        return self.spool.home(camera)

    def spooled(self) -> dict[str, bytes]:
        """source path → bytes of every upload committed to the spool (the outbox's view)."""
        uploads = self.spool.outbox.uploads()
        return {upload.source_path: self.spool.spooled(upload.id).read_bytes() for upload in uploads}

    def cameras_of_uploads(self) -> set[str]:
        return {upload.camera for upload in self.spool.outbox.uploads()}


def passive_range() -> range:
    low = random.randrange(30000, 60000, 50)
    return range(low, low + 50)


@contextmanager
def running_gateway(
    folder: Path,
    *,
    limits: SpoolLimits | None = None,
    throttle: LoginThrottle | None = None,
    tls: TLSFiles | None = None,
    per_ip: int = 16,
    idle_timeout: float = 300.0,
    passive: range | None = None,
    masquerade: str | None = None,
) -> Iterator[RunningGateway]:
    cameras = CameraRegistry(folder / "accounts.db")
    spool = Spool.open(folder / "spool", limits=limits)
    try:
        for name, password in PASSWORDS.items():
            cameras.add(name, "Europe/Berlin", password)
        context = GatewayContext(
            spool=spool,
            counters=Counters(spool.outbox),
            clock=lambda: datetime.now(UTC),
            camera_name=lambda user: cameras.get(user).name,
        )
        authorizer = CameraAuthorizer(cameras, spool.home, throttle or LoginThrottle())
        options = GatewayOptions(
            host="127.0.0.1",
            port=0,
            passive_ports=passive or passive_range(),
            masquerade_address=masquerade,
            max_connections_per_ip=per_ip,
            idle_timeout=idle_timeout,
            login_failure_delay=0.05,
            tls=tls,
        )
        gateway = Gateway(options, context, authorizer)
        gateway.start()
        try:
            host, port = gateway.address
            yield RunningGateway(host, port, spool, cameras, gateway)
        finally:
            gateway.stop()
    finally:
        spool.close()
        cameras.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Pipeline:
    """``camvault gateway`` in this process: FTP server, spool, uploader, store, journal, catalog."""

    runtime: Runtime
    host: str
    port: int

    def settle(self, count: int, timeout: float = 60.0) -> dict[str, CatalogEvent]:
        """Wait until ``count`` events are cataloged (processing due keys meanwhile); key → event."""
        deadline = time.monotonic() + timeout
        found: dict[str, CatalogEvent] = {}
        while time.monotonic() < deadline:
            while self.runtime.workers.run_one() is not None:
                pass
            page = self.runtime.catalog.query(EventQuery(limit=500))
            found = {event.key: event for event in page.events}
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"only {len(found)} of {count} uploads reached the catalog: {sorted(found)}")

    def metadata(self, key: str) -> dict[str, str]:
        return dict(self.runtime.store.head(key).metadata)

    def originals(self) -> list[str]:
        """Keys of the uploaded objects in the store (not thumbnails or other derived objects)."""
        return [info.key for info in self.runtime.store.list("") if not is_derived_key(info.key)]

    def content(self, key: str) -> bytes:
        return read_all(self.runtime.store, key)


@contextmanager
def gateway_pipeline(folder: Path, settings: dict[str, str | int] | None = None) -> Iterator[Pipeline]:
    port = free_port()
    passive = passive_range()
    config_path = init_data(
        folder / "data",
        {
            "gateway.listen": f"127.0.0.1:{port}",
            "gateway.passive_ports": f"{passive.start}-{passive.stop - 1}",
            "gateway.spool_min_free_mb": 1,
            **(settings or {}),
        },
    )
    config = load_config(str(config_path), {}, folder)
    runtime = build_runtime(config)
    try:
        for name, password in PASSWORDS.items():
            runtime.cameras.add(name, "Europe/Berlin", password)
        with gateway_parts(runtime):
            yield Pipeline(runtime, "127.0.0.1", port)
    finally:
        runtime.close()
