"""A real FTP gateway on a free loopback port, with a real spool and camera registry."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camvault.accounts.registry import CameraRegistry
from camvault.gateway.authorizer import CameraAuthorizer, LoginThrottle
from camvault.gateway.handler import GatewayContext
from camvault.gateway.metrics import Counters
from camvault.gateway.server import Gateway, GatewayOptions, TLSFiles
from camvault.gateway.spool import Spool, SpoolLimits

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
        return {
            upload.source_path: self.spool.spooled(upload.id).read_bytes() for upload in self.spool.outbox.uploads()
        }

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
