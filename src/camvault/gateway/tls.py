"""Explicit FTPS (``AUTH TLS``): the server side, and a self-signed pair for a fresh install.

Cameras that support FTPS send ``AUTH TLS`` on the plain control port; the gateway then
encrypts the control channel and, after ``PROT P``, the data channels. pyftpdlib does this with
pyOpenSSL. ``camvault init`` writes a self-signed certificate and key (both 0600) so that FTPS
works from the first start; a certificate from a real CA can replace them.

It never decides who may log in or what an upload means.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

from camvault.gateway.handler import CommittingDTPHandler, GatewayHandler

__all__ = ["secure_handler_class", "write_self_signed"]

CERT_DAYS = 3650


class TLSCommittingDTPHandler(TLS_DTPHandler, CommittingDTPHandler):  # type: ignore[misc]
    """An encrypted data channel whose ``226`` waits for the commit, like the plain one."""


class TLSGatewayHandler(GatewayHandler, TLS_FTPHandler):  # type: ignore[misc]
    """A camera session that also speaks ``AUTH TLS``, ``PBSZ`` and ``PROT``."""

    dtp_handler = TLSCommittingDTPHandler


def _context(cert: Path, key: Path) -> SSL.Context:
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(SSL.OP_NO_COMPRESSION)
    try:
        context.use_certificate_chain_file(str(cert))
        context.use_privatekey_file(str(key))
        context.check_privatekey()
    except SSL.Error as exc:
        raise ValueError(f"cannot use TLS certificate {cert} with key {key}: {exc}") from None
    return context


def secure_handler_class(
    attributes: dict[str, Any], tls: Any, data_timeout: float, buffers: dict[str, int]
) -> Any:
    """The per-gateway handler class for explicit FTPS with ``tls`` (a ``TLSFiles``)."""
    for path in (tls.cert, tls.key):
        if not Path(path).is_file():
            raise ValueError(
                f"TLS file {path} does not exist; run `camvault gateway --make-cert` or fix the path"
            )
    dtp = type("SecureGatewayDTP", (TLSCommittingDTPHandler,), {"timeout": data_timeout, **buffers})
    return type(
        "SecureCameraSession",
        (TLSGatewayHandler,),
        {
            **attributes,
            "dtp_handler": dtp,
            "ssl_context": _context(tls.cert, tls.key),
            "tls_control_required": tls.required,
            "tls_data_required": tls.required,
        },
    )


def write_self_signed(cert: Path, key: Path, *, now: dt.datetime) -> None:
    """Write a new self-signed certificate for this host and its private key, both mode 0600."""
    private = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"camvault gateway {host}")])
    alternatives: list[x509.GeneralName] = [
        x509.DNSName(host),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    _write_private(
        key,
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(cert, certificate.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
