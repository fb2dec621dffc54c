"""The FTP server cameras upload to: one listening socket, one thread per connection.

This module turns :class:`GatewayOptions` into a running pyftpdlib server: listen address,
passive port range, masquerade address for NAT, connection limits (total and per client
address), idle and data timeouts, explicit FTPS (``AUTH TLS``) when a certificate is set, and
the camera authorizer. Each connection runs in its own thread, so publishing an upload (fsync
and outbox write before ``226``) never stalls the other cameras.

pyftpdlib keeps its settings as class attributes and shares one I/O loop per process; every
:class:`Gateway` therefore builds its own handler subclass and its own I/O loop, so two
gateways in one process never share state. It never decides what an upload means or where it
goes (:mod:`camvault.gateway.handler`, the spool).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import ThreadedFTPServer

from camvault.gateway.authorizer import CameraAuthorizer
from camvault.gateway.handler import (
    CommittingDTPHandler,
    GatewayContext,
    GatewayHandler,
    SerialPassiveDTP,
)

__all__ = ["Gateway", "GatewayOptions", "TLSFiles"]

log = logging.getLogger("camvault.gateway")

DTP_BUFFERS = {"ac_in_buffer_size": 256 * 1024}
"""Read uploads 256 KB at a time (pyftpdlib's default is 64 KB): fewer system calls per file."""


@dataclass(frozen=True)
class TLSFiles:
    """Certificate and key for explicit FTPS; ``required`` refuses logins before ``AUTH TLS``."""

    cert: Path
    key: Path
    required: bool = False


@dataclass(frozen=True)
class GatewayOptions:
    host: str
    port: int
    passive_ports: range
    masquerade_address: str | None = None
    max_connections: int = 256
    max_connections_per_ip: int = 16
    idle_timeout: float = 300.0
    data_timeout: float = 120.0
    login_failure_delay: float = 2.0
    tls: TLSFiles | None = None


def _handler_class(options: GatewayOptions, context: GatewayContext, authorizer: CameraAuthorizer) -> Any:
    attributes: dict[str, Any] = {
        "context": context,
        "authorizer": authorizer,
        "passive_ports": list(options.passive_ports),
        "masquerade_address": options.masquerade_address,
        "timeout": options.idle_timeout,
        "auth_failed_timeout": options.login_failure_delay,
        "banner": "camvault gateway ready.",
        "permit_foreign_addresses": False,
        "permit_privileged_ports": False,
        "passive_dtp": type("GatewayPassiveDTP", (SerialPassiveDTP,), {"lock": threading.Lock()}),
    }
    if options.tls is None:
        dtp = type("GatewayDTP", (CommittingDTPHandler,), {"timeout": options.data_timeout, **DTP_BUFFERS})
        return type("CameraSession", (GatewayHandler,), {**attributes, "dtp_handler": dtp})
    from camvault.gateway.tls import secure_handler_class

    return secure_handler_class(attributes, options.tls, options.data_timeout, DTP_BUFFERS)


class _Server(ThreadedFTPServer):  # type: ignore[misc]  # pyftpdlib is untyped
    """pyftpdlib's threaded server with its exit flag and lock per instance, not per class."""

    def __init__(self, address: tuple[str, int], handler: Any, ioloop: IOLoop) -> None:
        self._exit = threading.Event()
        self._lock = threading.Lock()
        super().__init__(address, handler, ioloop=ioloop)


class Gateway:
    """A running FTP gateway; ``start`` serves in a background thread, ``stop`` ends it.

    The gateway owns ``authorizer`` from here on and closes it when it stops."""

    def __init__(
        self, options: GatewayOptions, context: GatewayContext, authorizer: CameraAuthorizer
    ) -> None:
        handler = _handler_class(options, context, authorizer)
        self._authorizer = authorizer
        self._ioloop = IOLoop()
        self._server = _Server((options.host, options.port), handler, self._ioloop)
        self._server.max_cons = options.max_connections
        self._server.max_cons_per_ip = options.max_connections_per_ip
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return str(host), int(port)

    def serve(self) -> None:
        """Serve in this thread until :meth:`stop` is called from another one."""
        try:
            while not self._stopping.is_set():
                self._server.serve_forever(timeout=0.2, blocking=False, handle_exit=False)
        finally:
            self._server.close_all()
            self._ioloop.close()
            self._authorizer.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve, name="camvault-gateway")
        self._thread.start()
        host, port = self.address
        log.info("FTP gateway listening on %s:%d", host, port)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
