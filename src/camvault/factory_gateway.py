"""The factory's gateway half: the spool and outbox, the uploader and the FTP server, built from
``[gateway]`` settings and the parts ``camvault.factory`` built. Imported only by the verbs that
run the gateway (and ``status``), so the processor and the Lambda handlers never load FTP code.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from camvault.accounts.registry import CameraRegistry, UnknownCamera
from camvault.clock import Clock, utcnow
from camvault.config.loader import Config, ConfigError
from camvault.factory import Runtime
from camvault.ingest import Ingestor

if TYPE_CHECKING:
    from camvault.gateway.server import Gateway
    from camvault.gateway.spool import Arrival, Spool
    from camvault.gateway.uploader import Uploader


def open_spool(config: Config, ingestor: Ingestor | None = None) -> Spool:
    """The gateway's spool and outbox (``[gateway] spool``), with its back-pressure limits. With
    ``ingestor``, uploads are queued in capture order (else in arrival order)."""
    from camvault.gateway.spool import Spool, SpoolLimits

    gateway = config.settings.gateway
    limits = SpoolLimits(max_bytes=gateway.spool_max_mb << 20, min_free_bytes=gateway.spool_min_free_mb << 20)
    if ingestor is None:
        return Spool.open(config.resolve(gateway.spool), limits=limits)

    def capture_order(arrival: Arrival) -> datetime:
        try:
            return ingestor.capture_instant(arrival.camera, arrival.source_path, arrival.received)
        except UnknownCamera:
            return arrival.received

    return Spool.open(config.resolve(gateway.spool), limits=limits, order_of=capture_order)


def build_uploader(runtime: Runtime, spool: Spool) -> Uploader:
    """The uploader draining ``spool`` into the runtime's store; it wakes on every commit."""
    from camvault.gateway.uploader import Uploader, UploadPolicy

    gateway = runtime.config.settings.gateway
    policy = UploadPolicy(
        threads=gateway.upload_threads,
        retry_s=gateway.upload_retry_seconds,
        max_retry_s=gateway.upload_max_retry_seconds,
        put_only=gateway.store_access == "put-only",
    )
    uploader = Uploader(spool, runtime.ingestor, runtime.store, policy=policy)
    spool.on_commit = uploader.wake
    return uploader


def build_gateway(config: Config, spool: Spool, cameras: CameraRegistry, *, clock: Clock = utcnow) -> Gateway:
    """The FTP gateway of ``[gateway]``: cameras from ``cameras``, uploads committed to ``spool``."""
    from camvault.gateway.authorizer import CameraAuthorizer, LoginThrottle
    from camvault.gateway.handler import GatewayContext
    from camvault.gateway.metrics import Counters
    from camvault.gateway.server import Gateway, GatewayOptions, TLSFiles

    gateway = config.settings.gateway
    host, _, port = gateway.listen.rpartition(":")
    low, _, high = gateway.passive_ports.partition("-")
    tls = None
    if gateway.tls_cert:
        cert = config.resolve(gateway.tls_cert)
        tls = TLSFiles(
            cert, config.resolve(gateway.tls_key) if gateway.tls_key else cert, gateway.tls_required
        )
    elif gateway.tls_required:
        raise ConfigError(
            "[gateway] tls_required = true needs tls_cert and tls_key (`camvault init` writes a pair)"
        )
    options = GatewayOptions(
        host=host.strip("[]"),
        port=int(port),
        passive_ports=range(int(low), int(high) + 1),
        masquerade_address=gateway.masquerade_address or None,
        max_connections_per_ip=gateway.max_connections_per_ip,
        idle_timeout=gateway.idle_timeout_seconds,
        tls=tls,
    )
    context = GatewayContext(
        spool=spool,
        counters=Counters(spool.outbox),
        clock=clock,
        camera_name=lambda user: cameras.get(user).name,
    )
    try:
        return Gateway(options, context, CameraAuthorizer(cameras, spool.home, LoginThrottle()))
    except ValueError as exc:
        raise ConfigError(f"[gateway]: {exc}") from None
    except OSError as exc:
        raise ConfigError(
            f"[gateway] listen = {gateway.listen!r}: {exc.strerror or exc}; stop the program using it or "
            "pick another port"
        ) from None
